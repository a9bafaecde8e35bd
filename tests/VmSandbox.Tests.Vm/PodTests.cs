using System.Text.Json.Nodes;
using Xunit;

namespace VmSandbox.Tests.Vm;

/// <summary>
/// One VM per pod (ADR 0017): CRI's annotations make a pod's containers run in its sandbox
/// container's VM, sharing its ipc and uts namespaces and the guest's network, each with its
/// own rootfs; a member's end leaves the pod's VM running and takes its files out of the share.
/// One VM boot for the whole test.
/// </summary>
[Collection(LifecycleCollection.Name)]
public sealed class PodTests(BundleFixture fx)
{
    /// <summary>A bundle as containerd's CRI writes it: a member names the sandbox's namespaces by its PID.</summary>
    private string PodBundle(string type, string pod, string hostname, int sandboxPid, params string[] args) =>
        PodBundleWithProbe(type, pod, hostname, sandboxPid, null, args);

    /// <summary><see cref="PodBundle"/> with <paramref name="probe"/> (tests/fixtures/escape-probe.c, built) bound at /escape-probe.</summary>
    private string PodBundleWithProbe(string type, string pod, string hostname, int sandboxPid, string? probe, params string[] args)
    {
        JsonObject spec = ContainerSpecs.Spec(ContainerSpecs.Process(args));
        if (probe is not null)
        {
            spec["mounts"]!.AsArray().Add(ContainerSpecs.Mount("/escape-probe", "bind", probe, "bind", "ro"));
        }
        if (sandboxPid > 0)
        {
            spec["linux"]!["namespaces"] = new JsonArray(
                new JsonObject { ["type"] = "pid" },
                new JsonObject { ["type"] = "ipc", ["path"] = $"/proc/{sandboxPid}/ns/ipc" },
                new JsonObject { ["type"] = "uts", ["path"] = $"/proc/{sandboxPid}/ns/uts" },
                new JsonObject { ["type"] = "mount" },
                new JsonObject { ["type"] = "network", ["path"] = $"/proc/{sandboxPid}/ns/net" });
        }
        spec["hostname"] = hostname;
        spec["annotations"] = new JsonObject
        {
            ["io.kubernetes.cri.container-type"] = type,
            ["io.kubernetes.cri.sandbox-id"] = pod,
        };
        return fx.Bundle(spec);
    }

    private async Task<string> Exec(string root, string id, string script)
    {
        var r = await fx.Cli(root, "exec", id, "sh", "-c", script);
        Assert.True(r.ExitCode == 0, $"exec in {id}: {r.ExitCode} {r.Stderr}");
        return r.Stdout.Trim();
    }

    [Fact]
    public async Task A_pods_containers_share_its_vm_and_namespaces_and_leave_it_clean()
    {
        string root = fx.NewRoot();
        string pod = "pod-" + Guid.NewGuid().ToString("N")[..8];
        const string Ids = "cat /proc/sys/kernel/random/boot_id; readlink /proc/self/ns/ipc; readlink /proc/self/ns/uts; hostname";
        string probeDir = Directory.CreateTempSubdirectory("vmsb-probe-").FullName;
        string probe = Path.Combine(probeDir, "escape-probe");
        await EscapeHost.BuildProbe(probe);
        var created = await fx.Cli(root, "create", "--bundle", PodBundle("sandbox", pod, "podhost", 0, "sleep", "600"), pod);
        Assert.True(created.ExitCode == 0, created.Stderr);
        try
        {
            Assert.Equal(0, (await fx.Cli(root, "start", pod)).ExitCode);
            int sandboxPid = System.Text.Json.JsonDocument.Parse((await fx.Cli(root, "state", pod)).Stdout).RootElement.GetProperty("pid").GetInt32();
            string sandboxIds = await Exec(root, pod, Ids);

            // A member in the foreground: its status, and the pod's boot id, ipc, uts and hostname.
            string app = pod + "-app";
            var run = await fx.Cli(root, "run", "--bundle", PodBundle("container", pod, "", sandboxPid, "sh", "-c", Ids + "; exit 4"), app);
            Assert.True(run.ExitCode == 4, $"{run.ExitCode}: {run.Stderr}");
            Assert.Equal(sandboxIds, run.Stdout.Trim());
            Assert.EndsWith("podhost", run.Stdout.Trim(), StringComparison.Ordinal);

            // A detached member: exec in it, then delete -f while it runs; the pod goes on.
            string side = pod + "-side";
            Assert.Equal(0, (await fx.Cli(root, "create", "--bundle", PodBundleWithProbe("container", pod, "", sandboxPid, probe, "sleep", "601"), side)).ExitCode);
            Assert.Equal(0, (await fx.Cli(root, "start", side)).ExitCode);
            Assert.Equal(sandboxIds, await Exec(root, side, Ids));
            // The pod VM's root holds the share with every member's rootfs: a member's chroot
            // breakout (Docker's CAP_SYS_CHROOT) must end in its own root, not the guest's.
            string breakout = await Exec(root, side, "/escape-probe chroot /tmp/chroot-scratch; echo \"own:$(ls -A / | tr '\\n' ' ')\"");
            Assert.Contains("chroot breakout: still in the container's root", breakout, StringComparison.Ordinal);
            // Its own pid namespace: its pid 1 is its own process, not the sandbox's.
            Assert.Equal("sleep 601", await Exec(root, side, "tr '\\0' ' ' < /proc/1/cmdline"));
            var deleted = await fx.Cli(root, "delete", "--force", side);
            Assert.True(deleted.ExitCode == 0, deleted.Stderr);
            Assert.False(Directory.Exists(Path.Combine(root, side)));
            Assert.Equal(sandboxIds, await Exec(root, pod, Ids));

            // The members' files are out of the pod's share (virtiofsd's mount namespace).
            foreach (int virtiofsd in TestEnvironment.ProcessesMatching("virtiofsd"))
            {
                string mounts = File.ReadAllText($"/proc/{virtiofsd}/mountinfo");
                Assert.DoesNotContain(" /c/", mounts, StringComparison.Ordinal);
            }
        }
        finally
        {
            await fx.Cli(root, "delete", "--force", pod);
            Directory.Delete(probeDir, recursive: true);
        }
        fx.AssertNothingLeft(root, pod);
    }
}
