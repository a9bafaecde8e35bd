using System.Globalization;
using VmSandbox.Interop;

namespace VmSandbox.Agent.Vm;

/// <summary>The real <see cref="IPid1System"/>: syscalls through VmSandbox.Interop.</summary>
public sealed class Pid1System : IPid1System
{
    public void Mount(string source, string target, string fsType, ulong flags, string? data) =>
        VmSandbox.Interop.Mount.Do(source, target, fsType, flags, data);

    public void CreateDirectory(string path) => Directory.CreateDirectory(path);

    public bool PathExists(string path) => Path.Exists(path);

    public string[] ReadLines(string path) => File.ReadAllLines(path);

    public bool LoadModule(string path) => KernelModule.Load(path);

    public void RedirectStdioTo(string consolePath)
    {
        int fd = ProcessCalls.OpenReadWrite(consolePath);
        for (int i = 0; i <= 2; i++)
        {
            if (fd != i)
            {
                ProcessCalls.Dup2(fd, i);
            }
        }
    }

    public void DisableCtrlAltDel() => Reboot.DisableCtrlAltDel();

    public void BringUpLoopback() => Network.NetworkConfigurator.BringUpLoopback();

    public double UptimeSeconds()
    {
        string text = File.ReadAllText("/proc/uptime");
        return double.Parse(text.AsSpan(0, text.IndexOf(' ', StringComparison.Ordinal)), CultureInfo.InvariantCulture);
    }

    public void WriteConsole(string line)
    {
        Console.Out.WriteLine(line);
        Console.Out.Flush();
    }

    public void PowerOff() => Reboot.RestartNow();
}
