using System.Text.Json.Nodes;
using VmSandbox.Runtime.Config;
using Xunit;

namespace VmSandbox.Tests.Vm;

/// <summary>
/// Both guest kernels stay tested (ADR 0014): the rest of the VM suite boots the default pick
/// (the minimal kernel once `make kernel` built it), and these boot each kernel by name through
/// the CLI, VMSANDBOX_GUEST__KERNEL as a user would set it, and run one container that touches
/// what the minimal kernel must have built in: namespaces, the cgroup v2 controllers the agent
/// uses, the eBPF device filter, seccomp, virtio-fs, mqueue and ptys.
/// </summary>
[Collection(LifecycleCollection.Name)]
public sealed class GuestKernelTests(BundleFixture fx)
{
    private const string Probe =
        "uname -r; cat /sys/fs/cgroup/cgroup.controllers; cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max; " +
        "mkdir /tmp/denied 2>/dev/null || echo mkdir=denied; " +
        "mknod /tmp/kmsg c 1 11 && { echo x > /tmp/kmsg; } 2>/dev/null; echo kmsg=$?; rm -f /tmp/kmsg; " +
        "echo x > /dev/null && echo null=ok; ls /dev/mqueue >/dev/null && echo mqueue=ok; hostname";

    [Theory]
    [InlineData("minimal")]
    [InlineData("debian")]
    public async Task Each_kernel_boots_and_runs_a_container(string kernel)
    {
        if (kernel == "minimal" && !TestEnvironment.MinimalKernelBuilt)
        {
            Assert.Skip($"no minimal kernel in {TestEnvironment.GuestDir} (fix: make kernel guest)");
        }
        JsonObject spec = ContainerSpecs.Spec(ContainerSpecs.Process("sh", "-c", Probe));
        spec["linux"]!["resources"] = new JsonObject
        {
            ["memory"] = new JsonObject { ["limit"] = 64L << 20 },
            ["pids"] = new JsonObject { ["limit"] = 64 },
            ["devices"] = new JsonArray(new JsonObject { ["allow"] = false, ["access"] = "rwm" }),
        };
        spec["linux"]!["seccomp"] = ContainerSpecs.DenyMkdir();
        string root = fx.NewRoot();
        string id = "kernel-" + kernel;

        var r = await fx.CliWith(new Dictionary<string, string> { ["VMSANDBOX_GUEST__KERNEL"] = kernel }, root, "run", "--bundle", fx.Bundle(spec), id);

        Assert.True(r.ExitCode == 0, $"exit {r.ExitCode}, stderr: {r.Stderr}");
        string[] lines = r.Stdout.Split('\n');
        Assert.True(lines.Length >= 9, r.Stdout);
        if (kernel == "minimal")
        {
            Assert.EndsWith("-vmsandbox", lines[0], StringComparison.Ordinal);
        }
        else
        {
            Assert.EndsWith("-cloud-amd64", lines[0], StringComparison.Ordinal);
        }
        Assert.Equal(["cpu", "cpuset", "io", "memory", "pids"], lines[1].Split(' ').Where(c => c is "cpu" or "cpuset" or "io" or "memory" or "pids").Order(StringComparer.Ordinal));
        Assert.Equal(["67108864", "64", "mkdir=denied", "kmsg=1", "null=ok", "mqueue=ok", "box"], lines[2..9]);
        fx.AssertNothingLeft(root, id);
    }

    [Fact]
    public async Task Check_names_the_kernel_the_runtime_picks()
    {
        (string kernel, _, GuestKernelKind kind) = TestEnvironment.GuestKernelPick;
        var r = await fx.CliWith(null, fx.NewRoot(), "check");
        // auto: microvm for the minimal kernel (it is built for it), q35 for any other.
        string machine = kind == GuestKernelKind.Minimal ? "microvm" : "q35";
        Assert.Contains($"{kernel} ({GuestKernel.Describe(kind)}, machine {machine})", r.Stdout + r.Stderr, StringComparison.Ordinal);
    }
}
