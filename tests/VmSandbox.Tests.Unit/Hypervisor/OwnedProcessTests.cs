using System.Diagnostics;
using VmSandbox.Hypervisor;
using VmSandbox.Hypervisor.Qemu;
using VmSandbox.TestSupport.Reliability;
using Xunit;

namespace VmSandbox.Tests.Unit.Hypervisor;

/// <summary>Issue 15: QEMU runs with CAP_NET_ADMIN alone of root's capabilities, and no new privileges.</summary>
[Trait("Category", "Reliability")]
public sealed class OwnedProcessTests
{
    private const ulong NetAdmin = 1UL << 12;

    [Fact]
    public void A_child_started_with_qemus_capabilities_holds_only_those()
    {
        Assert.True(File.Exists(OwnedProcess.SetprivPath), "util-linux setpriv is a runtime dependency");
        ProcessStartInfo psi = OwnedProcess.StartInfo("/bin/cat", ["/proc/self/status"], QemuVm.QemuCapabilities);
        using Process p = Process.Start(psi)!;
        p.StandardInput.Close();
        string status = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(10_000));
        Assert.Equal(0, p.ExitCode);
        ulong eff = Field(status, "CapEff");
        ulong bnd = Field(status, "CapBnd");
        bool root = OwnedProcess.HasEffectiveCap(8);
        // As root with CAP_SETPCAP: exactly CAP_NET_ADMIN. Otherwise the child has nothing to drop.
        bool ok = root ? eff == NetAdmin && bnd == NetAdmin && Field(status, "NoNewPrivs") == 1 : eff == 0;
        Assert.True(ReliabilityLog.Record("Escapes", "qemu's capabilities",
            "start a child as the runtime starts QEMU and read its /proc/self/status",
            "CapEff and CapBnd are CAP_NET_ADMIN alone, NoNewPrivs 1 (as root)",
            $"CapEff {eff:x}, CapBnd {bnd:x}, runtime root: {root}", ok), status);
    }

    [Fact]
    public void Without_capabilities_to_keep_the_child_is_only_tied_to_its_owner()
    {
        ProcessStartInfo psi = OwnedProcess.StartInfo("/bin/true", ["x"]);
        Assert.Equal(["--pdeathsig", "KILL", "--", "/bin/true", "x"], psi.ArgumentList);
    }

    private static ulong Field(string status, string name)
    {
        string line = status.Split('\n').Single(l => l.StartsWith(name + ":", StringComparison.Ordinal));
        string value = line[(name.Length + 1)..].Trim();
        return name == "NoNewPrivs" ? ulong.Parse(value, System.Globalization.CultureInfo.InvariantCulture)
            : ulong.Parse(value, System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture);
    }
}
