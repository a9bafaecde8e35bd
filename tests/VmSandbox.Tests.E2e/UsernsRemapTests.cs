using System.Globalization;
using System.Text.Json.Nodes;
using VmSandbox.TestSupport;
using VmSandbox.TestSupport.Reliability;
using Xunit;

namespace VmSandbox.Tests.E2e;

/// <summary>
/// Docker's `--userns-remap` end to end (issue 15, ADR 0019): a dockerd of its own with
/// `"userns-remap": "default"` (a setting dockerd reads only at start), runc and vmsandbox side by
/// side on it. Container root must be root inside, with the dockremap range as its uid_map, in
/// `run` and in `exec`, and what it writes to a bind-mounted host directory must belong on the
/// host to the first id of that range, as runc gives it, not to the host's root. The host's
/// account files, which dockerd extends with dockremap when it is missing, are put back.
/// </summary>
[Trait("Category", "Reliability")]
public sealed class UsernsRemapTests
{
    private const string RemapUser = "dockremap";
    private const string Bridge = "vmsbe2e1";
    private const string BridgeCidr = "172.31.251.1/24";

    [Fact(Timeout = DockerDaemon.TestTimeoutMs)]
    public async Task Container_root_is_the_remapped_id_in_run_exec_and_on_a_volume_under_runc_and_vmsandbox()
    {
        var facts = new List<string>();
        bool ok = true;
        void Check(bool holds, string fact)
        {
            ok &= holds;
            facts.Add(holds ? fact : "NOT " + fact);
        }
        HostProcesses.Proc[] processesBefore = [.. HostProcesses.SandboxProcesses()];
        string[] cgroupsBefore = [.. DockerDaemon.HostCgroupsLeft()];
        bool userBefore = HasUser(RemapUser);
        HostAccountFiles accounts = await HostAccountFiles.TakeAsync();
        string daemonDir = "";
        try
        {
            await using DockerDaemon daemon = await DockerDaemon.StartAsync(Bridge, BridgeCidr, new JsonObject { ["userns-remap"] = "default" });
            daemonDir = daemon.Dir;
            (long Start, long Count)[] uids = SubIds("/etc/subuid");
            (long Start, long Count)[] gids = SubIds("/etc/subgid");
            Check(uids.Length > 0 && gids.Length > 0, $"{RemapUser} has ranges: subuid {Show(uids)}, subgid {Show(gids)}{(userBefore ? " (the user was there before)" : " (added by dockerd)")}");
            if (uids.Length == 0 || gids.Length == 0)
            {
                Assert.Fail(string.Join("; ", facts));
            }
            string map = MapOf(uids);
            string owner = $"{uids[0].Start}:{gids[0].Start}";
            string expected = $"run: 0|{map}; /v file owner {owner}; exec: 0|{map}";

            // As a user of --userns-remap does: the volume belongs to the remapped root.
            string hostDir = Directory.CreateDirectory(Path.Combine(daemon.Scratch, "v")).FullName;
            CommandResult chown = await DockerDaemon.RunAsync("/bin/chown", [owner, hostDir], null, TimeSpan.FromSeconds(10));
            Assert.True(chown.ExitCode == 0, chown.Stderr);
            var seen = new Dictionary<string, string>();
            foreach (string runtime in (string[])["runc", DockerDaemon.Runtime])
            {
                await using var session = new DockerSession(daemon, runtime);
                CommandResult run = await session.Run("-v", $"{hostDir}:/v", "--", "sh", "-c", $"id -u; touch /v/by-{runtime}; cat /proc/self/uid_map");
                string fileOwner = await OwnerOf(Path.Combine(hostDir, "by-" + runtime));
                string id = await session.Detached("sleep", "600");
                CommandResult exec = await session.Docker("exec", id, "sh", "-c", "id -u; cat /proc/self/uid_map");
                seen[runtime] = $"run: {Flatten(run)}; /v file owner {fileOwner}; exec: {Flatten(exec)}";
                Check(seen[runtime] == expected, $"{runtime}: {seen[runtime]}");
            }
            Check(seen["runc"] == seen[DockerDaemon.Runtime], "vmsandbox as runc");
        }
        finally
        {
            List<string> restored = await accounts.RestoreAsync();
            facts.Add(restored.Count == 0 ? "account files unchanged" : string.Join(", ", restored));
        }
        Check(HasUser(RemapUser) == userBefore, $"{RemapUser} {(userBefore ? "kept" : "gone")} as before");
        string left = await LeftSince(processesBefore, cgroupsBefore, daemonDir);
        Check(left.Length == 0, left.Length == 0 ? "nothing left" : "left: " + left);
        string observed = string.Join("; ", facts);
        Assert.True(ReliabilityLog.Record("Escapes", "Docker --userns-remap end to end",
            "a private dockerd with \"userns-remap\": \"default\"; under runc and vmsandbox: docker run --rm -v HOSTDIR:/v IMG sh -c 'id -u; touch /v/by-R; cat /proc/self/uid_map' (HOSTDIR chowned to the remapped root), docker exec into a -d container (id -u, uid_map)",
            "uid 0 inside and uid_map \"0 START 65536\" (dockremap's /etc/subuid range) in run and exec; the file is owned by START:GSTART on the host; the same under both runtimes; account files as found, nothing left",
            observed, ok), observed);
    }

    /// <summary>dockremap's ranges in /etc/subuid or /etc/subgid, in file order (as dockerd reads them).</summary>
    private static (long Start, long Count)[] SubIds(string file) =>
        [.. File.ReadAllLines(file).Select(l => l.Split(':')).Where(f => f.Length == 3 && f[0] == RemapUser)
            .Select(f => (long.Parse(f[1], CultureInfo.InvariantCulture), long.Parse(f[2], CultureInfo.InvariantCulture)))];

    /// <summary>The uid_map dockerd asks for: the ranges one after the other from container id 0, lines joined by '|'.</summary>
    private static string MapOf((long Start, long Count)[] ranges)
    {
        long next = 0;
        var lines = new List<string>();
        foreach ((long start, long count) in ranges)
        {
            lines.Add($"{next} {start} {count}");
            next += count;
        }
        return string.Join('|', lines);
    }

    private static string Show((long Start, long Count)[] ranges) => ranges.Length == 0 ? "none" : string.Join(",", ranges.Select(r => $"{r.Start}+{r.Count}"));

    private static bool HasUser(string name) => File.ReadAllLines("/etc/passwd").Any(l => l.StartsWith(name + ":", StringComparison.Ordinal));

    private static async Task<string> OwnerOf(string path) =>
        File.Exists(path) ? (await DockerDaemon.RunAsync("/usr/bin/stat", ["-c", "%u:%g", path], null, TimeSpan.FromSeconds(10))).Stdout.Trim() : "(missing)";

    /// <summary>Output lines with one space between fields (uid_map pads them), joined by '|'; or the exit code and stderr.</summary>
    private static string Flatten(CommandResult r) =>
        r.ExitCode != 0
            ? $"exit {r.ExitCode}: {r.Stderr.Trim()}"
            : string.Join('|', r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => string.Join(' ', l.Split(' ', StringSplitOptions.RemoveEmptyEntries))));

    /// <summary>Sandbox processes and host cgroups that appeared and are still there, and the daemon's directory (bounded wait for reaping).</summary>
    private static async Task<string> LeftSince(HostProcesses.Proc[] processes, string[] cgroups, string daemonDir)
    {
        List<string> left = [];
        for (int i = 0; i < 40; i++)
        {
            left = [.. HostProcesses.SandboxProcesses().Where(p => !processes.Any(b => b.Pid == p.Pid)).Select(p => $"{p.Pid}: {p.CommandLine}"),
                .. DockerDaemon.HostCgroupsLeft().Except(cgroups)];
            if (daemonDir.Length > 0 && Directory.Exists(daemonDir))
            {
                left.Add(daemonDir);
            }
            if (Directory.Exists($"/sys/class/net/{Bridge}"))
            {
                left.Add("bridge " + Bridge);
            }
            if (left.Count == 0)
            {
                break;
            }
            await Task.Delay(250);
        }
        return string.Join(", ", left);
    }
}
