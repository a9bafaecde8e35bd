using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using VmSandbox.Runtime.Sandbox;
using VmSandbox.TestSupport.Reliability;
using Xunit;

namespace VmSandbox.Tests.Vm;

/// <summary>
/// Escapes tried from inside a container (issue 15), one reliability row each: reading or writing
/// host files outside the rootfs and volumes through the virtio-fs share, reaching the agent or
/// host processes, remounting the share, loading modules, device nodes, /proc/sys and /sys,
/// filling memory and disk. One Docker-like container runs them all with many `exec`s; one
/// privileged container then does as it likes in its VM (mounts the share again, runs code as the
/// guest's root through core_pattern, panics its kernel) and still reaches nothing on the host.
/// The host's canaries sit beside and above the rootfs and the volume (<see cref="EscapeHost"/>).
/// </summary>
[Collection(LifecycleCollection.Name)]
public sealed partial class EscapeTests(BundleFixture fx)
{
    private const string Area = "Escapes";
    private const string Probe = "/escape-probe";

    private readonly List<string> _failures = [];

    /// <summary>runc's default masked paths (libcontainer/specconv) and Docker's addition.</summary>
    private static readonly string[] s_maskedPaths =
    [
        "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
        "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
    ];

    private static readonly string[] s_readonlyPaths = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

    /// <summary>Every capability of Linux 6.1, as Docker's --privileged grants them.</summary>
    private static readonly string[] s_allCaps =
    [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID",
        "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
        "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
        "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",
        "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
        "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
    ];

    [Fact]
    [Trait("Category", "Reliability")]
    public async Task An_unprivileged_container_reaches_nothing_outside_its_rootfs_and_volumes()
    {
        await using EscapeHost host = await EscapeHost.CreateAsync();
        string root = fx.NewRoot();
        string id = "escape-" + Guid.NewGuid().ToString("N")[..6];
        string bundle = WriteBundle(host, DockerLikeSpec(host));
        var run = await fx.Cli(root, "run", "--detach", "--bundle", bundle, id);
        Assert.True(run.ExitCode == 0, run.Stderr);
        try
        {
            await ReadThroughLinksAndDots(host, root, id);
            await HardLinksAndHandles(host, root, id);
            await SwapRaces(host, root, id);
            await AgentAndHostProcesses(root, id);
            await MountsModulesAndDevices(host, root, id);
            await ProcAndSys(root, id);
            await FillMemoryAndDisk(host, root, id);
            Assert.Equal("running", await StatusOf(root, id));
        }
        finally
        {
            await fx.Cli(root, "delete", "--force", id);
        }
        fx.AssertNothingLeft(root, id);
        HostUntouched(host, "Host files, unprivileged container",
            "after all the attacks above, compare every host file beside and above the rootfs and the volume (canaries' contents and access times on strictatime tmpfs) and /etc/shadow's stamp");
        Assert.True(_failures.Count == 0, string.Join("\n", _failures));
    }

    [Fact]
    [Trait("Category", "Reliability")]
    public async Task A_privileged_container_does_as_it_likes_in_its_vm_and_reaches_nothing_on_the_host()
    {
        await using EscapeHost host = await EscapeHost.CreateAsync();
        string root = fx.NewRoot();
        string id = "escpriv-" + Guid.NewGuid().ToString("N")[..6];
        string bundle = WriteBundle(host, PrivilegedSpec(host));
        var run = await fx.Cli(root, "run", "--detach", "--bundle", bundle, id);
        Assert.True(run.ExitCode == 0, run.Stderr);
        try
        {
            await PrivilegedMountsAndSysctls(host, root, id);
            await PrivilegedGuestRoot(host, root, id);
            await PrivilegedKernelPanic(root, id);
        }
        finally
        {
            await fx.Cli(root, "delete", "--force", id);
        }
        fx.AssertNothingLeft(root, id);
        HostUntouched(host, "Host files, privileged container",
            "after the privileged container mounted the share, ran code as guest root and panicked its kernel, compare every host file beside and above its rootfs and volume and /etc/shadow's stamp");
        Assert.True(_failures.Count == 0, string.Join("\n", _failures));
    }

    private void HostUntouched(EscapeHost host, string @case, string action)
    {
        List<string> changes = host.Changes();
        Row(@case, action, "nothing read, written, added or removed",
            changes.Count == 0 ? $"{host.CanaryFiles.Count()} canaries unread and unchanged; no host file added, removed or written" : string.Join("; ", changes),
            changes.Count == 0);
    }

    /// <summary>Docker's default container: its capabilities, masked and read-only paths and device rules, a 64 MiB limit, a volume rw and ro.</summary>
    private static JsonObject DockerLikeSpec(EscapeHost host)
    {
        JsonObject spec = ContainerSpecs.Spec(ContainerSpecs.Process("sleep", "600"));
        spec["mounts"]!.AsArray().Add(ContainerSpecs.Mount("/vol", "bind", host.Volume, "rbind", "rw"));
        spec["mounts"]!.AsArray().Add(ContainerSpecs.Mount("/volro", "bind", host.Volume, "rbind", "ro"));
        spec["linux"]!["maskedPaths"] = new JsonArray([.. s_maskedPaths.Select(p => JsonValue.Create(p))]);
        spec["linux"]!["readonlyPaths"] = new JsonArray([.. s_readonlyPaths.Select(p => JsonValue.Create(p))]);
        JsonObject Dev(bool allow, string type, long? major, long? minor, string access)
        {
            var rule = new JsonObject { ["allow"] = allow, ["type"] = type, ["access"] = access };
            if (major is long ma)
            {
                rule["major"] = ma;
            }
            if (minor is long mi)
            {
                rule["minor"] = mi;
            }
            return rule;
        }
        spec["linux"]!["resources"] = new JsonObject
        {
            ["memory"] = new JsonObject { ["limit"] = 64L << 20 },
            // Docker's defaults (oci/defaults.go): deny all, then mknod of anything and its usual nodes.
            ["devices"] = new JsonArray(
                new JsonObject { ["allow"] = false, ["access"] = "rwm" },
                Dev(true, "c", null, null, "m"), Dev(true, "b", null, null, "m"),
                Dev(true, "c", 1, 3, "rwm"), Dev(true, "c", 1, 5, "rwm"), Dev(true, "c", 1, 7, "rwm"), Dev(true, "c", 1, 8, "rwm"),
                Dev(true, "c", 1, 9, "rwm"), Dev(true, "c", 5, 0, "rwm"), Dev(true, "c", 5, 1, "rwm"), Dev(true, "c", 5, 2, "rwm"),
                Dev(true, "c", 136, null, "rwm"), Dev(true, "c", 10, 200, "rwm")),
        };
        return spec;
    }

    /// <summary>
    /// What Docker's --privileged writes: every capability, no seccomp, no AppArmor, no masked or
    /// read-only paths, /sys and the cgroup file system read-write, every device allowed.
    /// </summary>
    private static JsonObject PrivilegedSpec(EscapeHost host)
    {
        JsonObject process = ContainerSpecs.Process("sleep", "600");
        process["capabilities"] = ContainerSpecs.Caps(s_allCaps);
        process["noNewPrivileges"] = false;
        JsonObject spec = ContainerSpecs.Spec(process);
        JsonArray mounts = spec["mounts"]!.AsArray();
        foreach (JsonNode? m in mounts)
        {
            if (m!["destination"]!.GetValue<string>() is "/sys" or "/sys/fs/cgroup")
            {
                m["options"] = new JsonArray([.. m["options"]!.AsArray().Select(o => o!.GetValue<string>()).Where(o => o != "ro").Append("rw").Select(o => JsonValue.Create(o))]);
            }
        }
        mounts.Add(ContainerSpecs.Mount("/vol", "bind", host.Volume, "rbind", "rw"));
        mounts.Add(ContainerSpecs.Mount("/volro", "bind", host.Volume, "rbind", "ro"));
        spec["linux"]!.AsObject().Remove("maskedPaths");
        spec["linux"]!.AsObject().Remove("readonlyPaths");
        spec["linux"]!["resources"] = new JsonObject
        {
            ["devices"] = new JsonArray(new JsonObject { ["allow"] = true, ["access"] = "rwm" }),
        };
        return spec;
    }

    private static string WriteBundle(EscapeHost host, JsonObject spec)
    {
        spec["root"]!["path"] = host.Rootfs;
        return host.WriteBundle(spec.ToJsonString());
    }

    private void Row(string @case, string action, string expected, string observed, bool ok)
    {
        if (!ReliabilityLog.Record(Area, @case, action, expected, observed, ok))
        {
            _failures.Add($"{@case}: {observed}");
        }
    }

    /// <summary>
    /// Runs a shell script in the container (stderr folded into stdout) and returns its exit
    /// status and output; $P is the probe, $T the share's virtio-fs tag (the container's
    /// /proc/mounts names no source for its root).
    /// </summary>
    private async Task<(int Exit, string Output)> Sh(string root, string id, string script)
    {
        var r = await fx.Cli(root, "exec", id, "sh", "-c", $"P={Probe}\nT={SandboxPlan.ShareTag}\nexec 2>&1\n" + script);
        return (r.ExitCode, (r.Stdout + r.Stderr).Trim());
    }

    private async Task<string> StatusOf(string root, string id)
    {
        var state = await fx.Cli(root, "state", id);
        return state.ExitCode == 0 ? JsonDocument.Parse(state.Stdout).RootElement.GetProperty("status").GetString()! : "gone: " + state.Stderr.Trim();
    }

    private async Task<int> MonitorPid(string root, string id) =>
        JsonDocument.Parse((await fx.Cli(root, "state", id)).Stdout).RootElement.GetProperty("pid").GetInt32();

    /// <summary>The output's lines joined for a row, cut to a length a table can hold.</summary>
    private static string Brief(string output)
    {
        string joined = string.Join("; ", output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        return joined.Length <= 600 ? joined : joined[..600] + "…";
    }

    /// <summary>No canary text in the output, and no line "read …canary…/…secret…: ok".</summary>
    private static bool NothingRead(EscapeHost host, string output) =>
        !output.Contains(host.Secret, StringComparison.Ordinal) && !ReadOk().IsMatch(output);

    [GeneratedRegex(@"^read [^\n]*(canary|secret)[^\n]*: ok", RegexOptions.Multiline)]
    private static partial Regex ReadOk();

    private static int Count(string output, string needle) => Regex.Count(output, Regex.Escape(needle));

    private static long RssKiB(int pid)
    {
        try
        {
            string? line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
            return line is null ? 0 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return 0;
        }
    }

    /// <summary>The direct children of <paramref name="parent"/> whose command name starts with <paramref name="comm"/>.</summary>
    private static int ChildNamed(int parent, string comm)
    {
        foreach (string dir in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid))
            {
                continue;
            }
            try
            {
                string stat = File.ReadAllText(Path.Combine(dir, "stat"));
                int open = stat.IndexOf('(', StringComparison.Ordinal), close = stat.LastIndexOf(')');
                string name = stat[(open + 1)..close];
                string[] after = stat[(close + 2)..].Split(' ');
                if (after[1] == parent.ToString(CultureInfo.InvariantCulture) && name.StartsWith(comm, StringComparison.Ordinal))
                {
                    return pid;
                }
            }
            catch (IOException)
            {
            }
        }
        return 0;
    }
}
