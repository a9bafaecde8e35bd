namespace VmSandbox.Agent.Vm;

/// <summary>
/// The OS operations PID 1 performs, behind an interface so that unit tests can fake them
/// (youki's Syscall trait).
/// </summary>
public interface IPid1System
{
    void Mount(string source, string target, string fsType, ulong flags, string? data);
    void CreateDirectory(string path);
    bool PathExists(string path);
    string[] ReadLines(string path);
    /// <summary>Loads a kernel module; false when it was already loaded.</summary>
    bool LoadModule(string path);
    void RedirectStdioTo(string consolePath);
    void DisableCtrlAltDel();
    /// <summary>Brings up lo (runc compat: loopback works in every container, --network none too).</summary>
    void BringUpLoopback();
    /// <summary>Seconds since the kernel started (CLOCK_BOOTTIME, from /proc/uptime).</summary>
    double UptimeSeconds();
    void WriteConsole(string line);
    /// <summary>Ends the VM; never returns when it works.</summary>
    void PowerOff();
}
