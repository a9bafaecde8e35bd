using VmSandbox.Agent.Vm;

namespace VmSandbox.Tests.Unit.Agent;

/// <summary>Records what PID 1 asked of the OS.</summary>
internal sealed class FakePid1System : IPid1System
{
    public List<string> Calls { get; } = [];
    public List<string> Console { get; } = [];
    public Dictionary<string, string[]> Files { get; } = [];
    public HashSet<string> LoadedAlready { get; } = [];
    /// <summary>errno that every module load fails with (38, ENOSYS: a kernel without module support); 0 for none.</summary>
    public int ModuleLoadErrno { get; set; }
    public string? FailMountOf { get; set; }
    public int PowerOffs { get; private set; }
    private double _uptime = 1.5;

    public void Mount(string source, string target, string fsType, ulong flags, string? data)
    {
        if (target == FailMountOf)
        {
            throw new Common.VmSandboxException(Common.ErrorCode.System, $"mount {target}: no such device (errno 19)");
        }
        Calls.Add($"mount {fsType} {target}");
    }

    public void CreateDirectory(string path) => Calls.Add($"mkdir {path}");
    public bool PathExists(string path) => Files.ContainsKey(path);
    public string[] ReadLines(string path) => Files[path];

    public bool LoadModule(string path)
    {
        Calls.Add($"insmod {path}");
        if (ModuleLoadErrno != 0)
        {
            throw new Common.VmSandboxException(Common.ErrorCode.System, $"finit_module {path}: failed (errno {ModuleLoadErrno})") { Errno = ModuleLoadErrno };
        }
        return !LoadedAlready.Contains(path);
    }

    public void RedirectStdioTo(string consolePath) => Calls.Add($"stdio {consolePath}");
    public void DisableCtrlAltDel() => Calls.Add("cad off");

    public void BringUpLoopback() => Calls.Add("lo up");

    public double UptimeSeconds()
    {
        _uptime += 0.25;
        return _uptime;
    }

    public void WriteConsole(string line) => Console.Add(line);
    public void PowerOff() => PowerOffs++;
}
