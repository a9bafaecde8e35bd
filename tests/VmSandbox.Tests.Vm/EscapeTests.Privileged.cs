using System.Text.RegularExpressions;

namespace VmSandbox.Tests.Vm;

/// <summary>The privileged container's rows: what it may do inside its VM, and that the host still sees none of it.</summary>
public sealed partial class EscapeTests
{
    private async Task PrivilegedMountsAndSysctls(EscapeHost host, string root, string id)
    {
        var share = await Sh(root, id, """
            tag=$T
            mkdir -p /tmp/share && mount -t virtiofs $tag /tmp/share && echo "mount virtiofs: ok" || echo "mount virtiofs: refused"
            echo "share holds: $(cd /tmp/share && find . -maxdepth 2 | sort | tr '\n' ' ')"
            $P read /tmp/share/../canary/secret /tmp/share/../../canary/secret /tmp/share/../../../secret-top /tmp/share/hostlink-rel
            $P handle /tmp/share/file 512
            """);
        string holds = share.Output.Split('\n').FirstOrDefault(l => l.StartsWith("share holds:", StringComparison.Ordinal)) ?? "";
        Row("Privileged: mounting the share again",
            "mount the share's virtiofs tag a second time, list it, climb out of it with .. and through the host's relative link, open_by_handle_at with 512 forged handles (CAP_DAC_READ_SEARCH held)",
            "the mount works (inside the VM) and shows a tree of the share (the guest kernel reuses a superblock of the tag: here the volume's); every climb fails (ENOENT); no handle opens a canary",
            Brief(share.Output),
            share.Output.Contains("mount virtiofs: ok", StringComparison.Ordinal) && holds.Contains("./", StringComparison.Ordinal)
                && !holds.Contains("canary", StringComparison.Ordinal) && !holds.Contains("secret-", StringComparison.Ordinal)
                && NothingRead(host, share.Output) && Count(share.Output, ": ENOENT") == 4 && !share.Output.Contains("reads a canary", StringComparison.Ordinal));

        var inside = await Sh(root, id, """
            mount -o remount,rw /volro && echo "remount,rw /volro: ok" || echo "remount,rw /volro: refused"
            $P write /volro/written-by-privileged
            echo 1 > /proc/sys/vm/drop_caches && echo "drop_caches: ok" || echo "drop_caches: refused"
            echo 0 > /proc/sys/kernel/randomize_va_space && echo "randomize_va_space: ok" || echo "randomize_va_space: refused"
            $P module /bin/busybox
            mknod /tmp/kmsg c 1 11 && echo "<3>escape-tests: privileged" > /tmp/kmsg && echo "kmsg: written" || echo "kmsg: refused"
            """);
        Row("Privileged: remounts, sysctls, modules, devices",
            "remount a read-only volume rw and write it, write vm.drop_caches and kernel.randomize_va_space, finit_module of a file, make and write /dev/kmsg",
            "all allowed inside its VM (modules: the guest kernel has no module loader, so ENOSYS, never EPERM); the host sees only the volume's new file",
            Brief(inside.Output),
            inside.Output.Contains("remount,rw /volro: ok", StringComparison.Ordinal) && inside.Output.Contains("write /volro/written-by-privileged: ok", StringComparison.Ordinal)
                && inside.Output.Contains("drop_caches: ok", StringComparison.Ordinal) && inside.Output.Contains("randomize_va_space: ok", StringComparison.Ordinal)
                && !inside.Output.Contains("finit_module: EPERM", StringComparison.Ordinal) && inside.Output.Contains("kmsg: written", StringComparison.Ordinal)
                && File.Exists(Path.Combine(host.Volume, "written-by-privileged")));
    }

    /// <summary>
    /// core_pattern is the guest's, not the container's: a pipe there runs the probe as root in
    /// the guest's first namespaces, outside every container namespace (its path is the rootfs as
    /// the agent mounted it). From there it tries the canaries again.
    /// </summary>
    private async Task PrivilegedGuestRoot(EscapeHost host, string root, string id)
    {
        string[] targets =
        [
            Path.Combine(host.Fs, "canary", "secret"), Path.Combine(host.VolumeFs, "canary", "secret"), Path.Combine(host.Dir, "secret-top"),
            "/../canary/secret", "ROOT/../canary/secret", "ROOT/../../canary/secret", "ROOT/../../../secret-top", "/etc/shadow",
        ];
        // The share's top directory (beside rootfs/ and the volumes' mount points) is a tmpfs of
        // virtiofsd's on the host, host memory that no df there shows: guest root fills it.
        const string shareFill = "fill ROOT/../fill";
        var hook = await Sh(root, id, $$"""
            tag=$T
            r=/run/vmsandbox/shares/$tag/rootfs
            printf '%s\n' {{string.Join(' ', targets)}} '{{shareFill}}' | sed "s|ROOT|$r|" > /tmp/core.in
            rm -f /tmp/core.out
            echo "|$r/escape-probe corehook $r" > /proc/sys/kernel/core_pattern && echo "core_pattern: set" || echo "core_pattern: refused"
            sh -c 'kill -SEGV $$'
            for i in $(seq 100); do [ -e /tmp/core.out ] && break; sleep 0.2; done
            cat /tmp/core.out || echo "no core.out"
            """);
        Row("Privileged: code as the guest's root",
            "set kernel.core_pattern to a pipe into the container's probe and crash a shell: the guest kernel runs the probe as root in the guest's own namespaces, which then reads the canaries by host path and climbs out of the share with ..",
            "the probe runs as guest root beside the agent (PID 1); every read fails (ENOENT): the guest's root holds nothing of the host but the share",
            Brief(hook.Output),
            hook.Output.Contains("core_pattern: set", StringComparison.Ordinal) && hook.Output.Contains("corehook: uid 0", StringComparison.Ordinal)
                && NothingRead(host, hook.Output) && Count(hook.Output, ": ENOENT") == targets.Length);

        Match fill = Regex.Match(hook.Output, "^fill [^:]*: wrote ([0-9]+) KiB(.*)$", RegexOptions.Multiline);
        Row("Privileged: filling the share's own directory",
            "as guest root (through core_pattern), write 64 MiB into the top of the share, beside rootfs/ and the volumes' mount points: a tmpfs of virtiofsd's on the host",
            "ENOSPC within 1 MiB: the host's memory is not the guest's to fill",
            fill.Success ? fill.Value : Brief(hook.Output),
            fill.Success && fill.Groups[2].Value.Contains("ENOSPC", StringComparison.Ordinal) && int.Parse(fill.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) <= 1024);
    }

    /// <summary>vm.panic_on_oom is the guest's too: set it and fill memory without a limit, and the guest kernel panics.</summary>
    private async Task PrivilegedKernelPanic(string root, string id)
    {
        int monitor = await MonitorPid(root, id);
        int qemu = ChildNamed(monitor, "qemu-system");
        long maxRss = RssKiB(qemu);
        using var sampling = new CancellationTokenSource();
        Task sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested && Directory.Exists($"/proc/{qemu}"))
            {
                maxRss = Math.Max(maxRss, RssKiB(qemu));
                await Task.Delay(100);
            }
        });
        DateTime start = DateTime.UtcNow;
        var crash = await Sh(root, id, "echo 1 > /proc/sys/vm/panic_on_oom && echo 'panic_on_oom: set'; exec $P fillmem 4096");
        string status = await StatusOf(root, id);
        for (int i = 0; i < 600 && status == "running"; i++)
        {
            await Task.Delay(100);
            status = await StatusOf(root, id);
        }
        double seconds = (DateTime.UtcNow - start).TotalSeconds;
        await sampling.CancelAsync();
        await sampler;
        string log = File.Exists(Path.Combine(root, id, "monitor.log")) ? File.ReadAllText(Path.Combine(root, id, "monitor.log")) : "";
        string? reason = log.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault();
        const long vmMiB = 256, allowanceMiB = 512;
        Row("Privileged: filling memory until the guest kernel panics",
            "set vm.panic_on_oom=1 and allocate 4 GiB without a memory limit in a 256 MiB VM",
            $"the guest kernel panics, the VM ends and the container is reported stopped; QEMU's RSS stays under the VM's {vmMiB} MiB + {allowanceMiB} MiB",
            $"{Brief(crash.Output)}; exec exit {crash.Exit}; container {status} after {seconds:F1} s; QEMU's largest RSS {maxRss / 1024} MiB; monitor log: {reason?.Trim() ?? "(no line)"}",
            crash.Output.Contains("panic_on_oom: set", StringComparison.Ordinal) && status == "stopped" && maxRss > 0 && maxRss / 1024 < vmMiB + allowanceMiB);
    }
}
