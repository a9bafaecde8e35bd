using System.Globalization;
using VmSandbox.Hypervisor;
using VmSandbox.Interop;
using VmSandbox.Runtime.Config;
using VmSandbox.Runtime.Sandbox;
using VmSandbox.TestSupport.Reliability;
using Xunit;

namespace VmSandbox.Tests.Vm;

/// <summary>
/// Issue 15, docs/security.md: what a guest that breaks out of its kernel into QEMU or virtiofsd
/// finds on the host. QEMU holds CAP_NET_ADMIN alone under its seccomp filter; virtiofsd's
/// serving process sees the share (rootfs and bind sources) as its whole file system, without
/// CAP_SYS_ADMIN and under seccomp; no socket of the sandbox accepts other users.
/// </summary>
[Trait("Category", "Reliability")]
public sealed class HostConfinementTests : IDisposable
{
    private const int CapSysAdmin = 21;
    private const ulong NetAdmin = 1UL << 12;
    private readonly string _state = Directory.CreateTempSubdirectory("vmsandbox-confine-").FullName;

    public void Dispose() => Directory.Delete(_state, recursive: true);

    [Fact]
    public async Task Qemu_and_virtiofsd_run_confined_and_the_sandboxs_sockets_are_owner_only()
    {
        TestEnvironment.RequireBuild();
        string source = Directory.CreateDirectory(Path.Combine(_state, "rootfs-src")).FullName;
        await File.WriteAllTextAsync(Path.Combine(source, "hello"), "hi", TestContext.Current.CancellationToken);
        string share = Directory.CreateDirectory(Path.Combine(_state, "share")).FullName;
        var config = new RuntimeConfig
        {
            KernelPath = TestEnvironment.KernelPath,
            InitrdPath = TestEnvironment.InitrdPath,
            StateRoot = _state,
            BootTimeout = TimeSpan.FromSeconds(120),
        };
        var factory = new SandboxVmFactory(config, AccelDetector.ForHost(), new QemuHypervisor(), _ => { });
        VmSpec spec = factory.CreateSpec("confine", Path.Combine(_state, "vm"));
        SharedDir[] shares = [new SharedDir("vmsandbox", share) { Binds = [new ShareBind(source, "rootfs")] }];
        await using SandboxVm sandbox = await factory.BootAsync(spec, shares, TestContext.Current.CancellationToken);

        // QEMU: CAP_NET_ADMIN alone, no new privileges, seccomp filter mode.
        Dictionary<string, string> qemu = Status(sandbox.Vm.Pid);
        bool root = (Hex(File.ReadLines("/proc/self/status").First(l => l.StartsWith("CapEff:", StringComparison.Ordinal))[7..]) & (1UL << 8)) != 0; // CAP_SETPCAP: QEMU's set is shrunk
        bool qemuOk = (!root || (Hex(qemu["CapEff"]) == NetAdmin && Hex(qemu["CapBnd"]) == NetAdmin && qemu["NoNewPrivs"] == "1"))
            && qemu["Seccomp"] == "2";
        Assert.True(ReliabilityLog.Record("Escapes", "what a compromised qemu holds",
            "boot a sandbox VM and read QEMU's /proc/PID/status",
            "CapEff and CapBnd = CAP_NET_ADMIN only, NoNewPrivs 1, Seccomp 2 (filter)",
            $"CapEff {qemu["CapEff"]}, CapBnd {qemu["CapBnd"]}, NoNewPrivs {qemu["NoNewPrivs"]}, Seccomp {qemu["Seccomp"]}", qemuOk),
            string.Join(", ", qemu.Select(kv => $"{kv.Key}={kv.Value}")));

        // virtiofsd: the process serving the guest (the one in its own pid namespace).
        int serving = TestEnvironment.ProcessesMatching($"--socket-path={spec.VirtiofsSocketPath(0)}")
            .Single(pid => Status(pid)["NSpid"].Split('\t', StringSplitOptions.RemoveEmptyEntries).Length > 1);
        Dictionary<string, string> fsd = Status(serving);
        string[] visible = Directory.GetFileSystemEntries($"/proc/{serving}/root").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;
        bool noSysAdmin = (Hex(fsd["CapEff"]) & (1UL << CapSysAdmin)) == 0;
        bool fsdOk = noSysAdmin && fsd["Seccomp"] == "2" && visible.SequenceEqual(["rootfs"]);
        Assert.True(ReliabilityLog.Record("Escapes", "what a compromised virtiofsd sees",
            "boot a sandbox VM whose share holds one rootfs; read virtiofsd's status and list its root directory",
            "no CAP_SYS_ADMIN, Seccomp 2, and its / is the share: the rootfs and nothing above it",
            $"CapEff {fsd["CapEff"]}, Seccomp {fsd["Seccomp"]}, / holds [{string.Join(", ", visible)}]", fsdOk),
            $"CapEff {fsd["CapEff"]}, Seccomp {fsd["Seccomp"]}, / = {string.Join(",", visible)}");

        // Sockets: connecting takes write permission; none may be group or other writable.
        var open = Directory.GetFiles(spec.StateDir)
            .Where(FileStat.IsSocket)
            .Where(p => (File.GetUnixFileMode(p) & (UnixFileMode.GroupWrite | UnixFileMode.OtherWrite)) != 0)
            .Select(p => $"{Path.GetFileName(p)} {File.GetUnixFileMode(p)}")
            .ToList();
        Assert.True(ReliabilityLog.Record("Escapes", "sandbox sockets for other users",
            "list the sockets in a booted sandbox's directory and their modes",
            "none can be connected to by group or others",
            open.Count == 0 ? $"{Directory.GetFiles(spec.StateDir).Count(FileStat.IsSocket)} sockets, none group/other writable" : string.Join("; ", open),
            open.Count == 0), string.Join("; ", open));
        Assert.Equal(SocketFile.OwnerOnly, File.GetUnixFileMode(sandbox.VsockUdsPath));
    }

    private static Dictionary<string, string> Status(int pid) =>
        File.ReadLines($"/proc/{pid}/status")
            .Select(l => l.Split(':', 2))
            .Where(p => p.Length == 2)
            .ToDictionary(p => p[0], p => p[1].Trim());

    private static ulong Hex(string s) => ulong.Parse(s.Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
}
