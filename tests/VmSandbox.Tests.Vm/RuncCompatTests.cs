using System.Diagnostics;
using System.Text.Json.Nodes;
using Xunit;

namespace VmSandbox.Tests.Vm;

/// <summary>
/// Set-up details that runc's own integration tests check (mounts.bats, mounts_recursive.bats,
/// mask.bats, tty.bats, seccomp.bats): recursive mount attributes (and `rbind,ro` read-only on
/// top only: a host mount below it stays writable), a read-only /dev, proc only on
/// a real directory, stdio owned by the container user, startContainer hooks in the container.
/// </summary>
[Collection(LifecycleCollection.Name)]
public sealed class RuncCompatTests(BundleFixture fx)
{
    [Fact]
    public async Task Rro_ro_dev_stdio_owner_and_start_hooks_are_set_up_as_runc_does()
    {
        string source = Directory.CreateTempSubdirectory("vmsb-rro-").FullName;
        string sub = Directory.CreateDirectory(Path.Combine(source, "sub")).FullName;
        File.SetUnixFileMode(source, (UnixFileMode)0x1FF); // 0777: the container user could write, were it not read-only
        Assert.Equal(0, Run("mount", "-t", "tmpfs", "-o", "mode=1777", "tmpfs", sub));
        try
        {
            JsonObject process = ContainerSpecs.Process("sh", "-c", string.Join("; ",
                "touch /rro/f 2>/dev/null; echo rro-top=$?",
                "touch /rro/sub/f 2>/dev/null; echo rro-sub=$?",
                "touch /ro/f 2>/dev/null; echo ro-top=$?",
                "touch /ro/sub/f 2>/dev/null; echo ro-sub=$?",
                "echo dev=$(grep '^tmpfs /dev ' /proc/mounts | cut -d' ' -f4 | cut -d, -f1)",
                "[ -e /dev/pts/ptmx ] && echo pts=ok",
                "stat -L -c stdout-owner=%u /proc/self/fd/1",
                "echo home=$HOME cwd=$(pwd)",
                "cat /work/hook",
                "grep -o '\"status\":\"created\"' /work/state"));
            process["user"] = new JsonObject { ["uid"] = 1000, ["gid"] = 100 };
            // No HOME: runc's default for a uid /etc/passwd lacks is "/"; a missing cwd is made.
            process["env"] = new JsonArray("PATH=/usr/sbin:/usr/bin:/sbin:/bin");
            process["cwd"] = "/made/" + Guid.NewGuid().ToString("N")[..8];
            JsonObject spec = ContainerSpecs.Spec(process);
            JsonArray mounts = spec["mounts"]!.AsArray();
            mounts.First(m => (string?)m!["destination"] == "/dev")!["options"]!.AsArray().Add("ro");
            mounts.Add(ContainerSpecs.Mount("/rro", "bind", source, "rbind", "rro"));
            mounts.Add(ContainerSpecs.Mount("/ro", "bind", source, "rbind", "ro"));
            mounts.Add(ContainerSpecs.Mount("/work", "tmpfs", "tmpfs", "mode=1777"));
            spec["linux"]!["seccomp"] = ContainerSpecs.DenyMkdir();
            spec["hooks"] = new JsonObject
            {
                ["startContainer"] = new JsonArray(new JsonObject
                {
                    ["path"] = "/bin/sh",
                    ["args"] = new JsonArray("sh", "-c", "cat > /work/state; mkdir /work/d 2>/dev/null; echo hook uid=$(id -u) mkdir=$? > /work/hook"),
                }),
            };
            string root = fx.NewRoot();
            var r = await fx.Cli(root, "run", "--bundle", fx.Bundle(spec), "compat");
            Assert.True(r.ExitCode == 0, r.Stderr);
            Assert.Equal(
                $"rro-top=1\nrro-sub=1\nro-top=1\nro-sub=0\ndev=ro\npts=ok\nstdout-owner=1000\nhome=/ cwd={process["cwd"]}\nhook uid=1000 mkdir=1\n\"status\":\"created\"\n",
                r.Stdout);
            fx.AssertNothingLeft(root, "compat");
        }
        finally
        {
            _ = Run("umount", "-l", sub);
            Directory.Delete(source, recursive: true);
        }
    }

    [Fact]
    public async Task A_failing_start_hook_stops_the_container_with_runcs_words()
    {
        // seccomp.bats "startContainer hook": the hook runs under the container's filter, which
        // kills mkdir, so the hook dies of SIGSYS and the container never starts.
        JsonObject spec = ContainerSpecs.Spec(ContainerSpecs.Process("echo", "never"));
        JsonObject seccomp = ContainerSpecs.DenyMkdir();
        seccomp["syscalls"]![0]!["action"] = "SCMP_ACT_KILL";
        seccomp["syscalls"]![0]!.AsObject().Remove("errnoRet");
        spec["linux"]!["seccomp"] = seccomp;
        spec["hooks"] = new JsonObject
        {
            ["startContainer"] = new JsonArray(new JsonObject { ["path"] = "/bin/sh", ["args"] = new JsonArray("sh", "-c", "mkdir /tmp/hook-dir") }),
        };
        string root = fx.NewRoot();
        var r = await fx.Cli(root, "run", "--bundle", fx.Bundle(spec), "badhook");
        Assert.NotEqual(0, r.ExitCode);
        Assert.DoesNotContain("never", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("error running startContainer hook #0: signal: bad system call", r.Stderr, StringComparison.Ordinal);
        _ = await fx.Cli(root, "delete", "--force", "badhook");
        fx.AssertNothingLeft(root, "badhook");
    }

    [Fact]
    public async Task Proc_is_never_mounted_through_a_symlink_in_the_image()
    {
        // mask.bats "prohibit symlink /proc": the image's /proc points elsewhere.
        string rootfs = Path.Combine(fx.NewRoot(), "rootfs");
        Assert.Equal(0, Run("cp", "-a", fx.Rootfs, rootfs));
        string proc = Path.Combine(rootfs, "proc");
        if (Directory.Exists(proc))
        {
            Directory.Delete(proc, recursive: true);
        }
        File.CreateSymbolicLink(proc, "/symlink");
        JsonObject spec = ContainerSpecs.Spec(ContainerSpecs.Process("true"));
        spec["root"]!["path"] = rootfs;
        string bundle = Directory.CreateDirectory(Path.Combine(fx.NewRoot(), "bundle")).FullName;
        File.WriteAllText(Path.Combine(bundle, "config.json"), spec.ToJsonString());
        string root = fx.NewRoot();
        var r = await fx.Cli(root, "run", "--bundle", bundle, "procsym");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("filesystem \"proc\" must be mounted on ordinary directory", r.Stderr, StringComparison.Ordinal);
        fx.AssertNothingLeft(root, "procsym");
    }

    [Fact]
    public async Task Rootfs_propagation_unbindable_marks_the_containers_root_and_a_file_bind_shows_runcs_root()
    {
        // runc's rootfsPropagation "unbindable": the container's "/" shows it in mountinfo's optional
        // fields. A file bind's root (field 4) is its path in the host's file system, as the kernel
        // shows a bind of it on the host; a directory bind is a virtio-fs submount in the guest,
        // a file system of its own, so its root reads "/" (docs/oci.md).
        string source = Directory.CreateTempSubdirectory("vmsb-mi-").FullName;
        string file = Path.Combine(source, "file");
        File.WriteAllText(file, "x");
        string onHost = Path.Combine(source, "on-host");
        File.WriteAllText(onHost, "");
        try
        {
            string hostRoot = Path.Combine(source, "host-root");
            Assert.Equal(0, Run("unshare", "-m", "--propagation", "private", "sh", "-c",
                $"mount --bind {file} {onHost} && awk '$5 == \"{onHost}\" {{ print $4 }}' /proc/self/mountinfo > {hostRoot}"));
            string expectedRoot = File.ReadAllText(hostRoot).Trim();
            Assert.StartsWith("/", expectedRoot, StringComparison.Ordinal);

            JsonObject spec = ContainerSpecs.Spec(ContainerSpecs.Process("cat", "/proc/self/mountinfo"));
            spec["linux"]!["rootfsPropagation"] = "unbindable";
            JsonArray mounts = spec["mounts"]!.AsArray();
            mounts.Add(ContainerSpecs.Mount("/mnt/dir", "bind", source, "rbind"));
            mounts.Add(ContainerSpecs.Mount("/mnt/file", "bind", file, "bind"));
            string root = fx.NewRoot();
            var r = await fx.Cli(root, "run", "--bundle", fx.Bundle(spec), "unbindable");
            Assert.True(r.ExitCode == 0, r.Stderr);
            Dictionary<string, string[]> byTarget = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(l => l.Split(' ')).GroupBy(f => f[4]).ToDictionary(g => g.Key, g => g.Last());
            Assert.True(byTarget["/"].TakeWhile(f => f != "-").Skip(6).Contains("unbindable"), r.Stdout);
            Assert.True(byTarget["/mnt/file"][3] == expectedRoot, $"expected root {expectedRoot}:\n{r.Stdout}");
            Assert.True(byTarget["/mnt/dir"][3] == "/", r.Stdout);
            fx.AssertNothingLeft(root, "unbindable");
        }
        finally
        {
            Directory.Delete(source, recursive: true);
        }
    }

    private static int Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { UseShellExecute = false };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }
        using var p = Process.Start(psi)!;
        p.WaitForExit();
        return p.ExitCode;
    }
}
