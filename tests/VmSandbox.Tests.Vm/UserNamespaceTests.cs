using System.Diagnostics;
using System.Text.Json.Nodes;
using VmSandbox.TestSupport.Reliability;
using Xunit;

namespace VmSandbox.Tests.Vm;

/// <summary>
/// linux.uidMappings/gidMappings applied in the guest (ADR 0019), as Docker's --userns-remap sends
/// them: container root is host id 100000, which is who owns what it writes to a volume (virtio-fs
/// passes the guest's kuid through), as with runc; exec joins the same user namespace; a bad
/// mapping is refused before anything exists.
/// </summary>
[Collection(LifecycleCollection.Name)]
public sealed class UserNamespaceTests(BundleFixture fx)
{
    private const uint HostRoot = 100000;

    [Fact]
    [Trait("Category", "Reliability")]
    public async Task Container_root_is_the_mapped_host_id_in_init_exec_and_on_a_volume()
    {
        string dir = fx.NewRoot();
        // Docker's userns-remap: the image's files belong to the remapped root, the volume too.
        string rootfs = Path.Combine(dir, "rootfs");
        Assert.Equal(0, Run("cp", "-a", fx.Rootfs, rootfs));
        Assert.Equal(0, Run("chown", "-R", $"{HostRoot}:{HostRoot}", rootfs));
        string volume = Directory.CreateDirectory(Path.Combine(dir, "vol")).FullName;
        Assert.Equal(0, Run("chown", $"{HostRoot}:{HostRoot}", volume));

        JsonObject spec = UserNamespaceSpec(ContainerSpecs.Process("sh", "-c",
            "{ id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map; } > /vol/init; echo x > /vol/by-init; exec sleep 120"));
        spec["mounts"]!.AsArray().Add(ContainerSpecs.Mount("/vol", "bind", volume, "rbind", "rw"));
        // Above the guest's default hard limit (4096) and below the default oom score: neither may
        // be done from inside the user namespace; runc sets both from outside it, and so do we.
        spec["process"]!["rlimits"] = new JsonArray(new JsonObject { ["type"] = "RLIMIT_NOFILE", ["hard"] = 1048576, ["soft"] = 1048576 });
        spec["process"]!["oomScoreAdj"] = -100;
        string bundle = WriteBundle(dir, spec, rootfs);
        string root = fx.NewRoot();
        string id = "userns" + Guid.NewGuid().ToString("N")[..6];
        var r = await fx.Cli(root, "run", "--detach", "--bundle", bundle, id);
        try
        {
            Assert.True(r.ExitCode == 0, r.Stderr);
            string initFile = Path.Combine(volume, "init");
            var deadline = Stopwatch.StartNew();
            while (!(File.Exists(initFile) && File.ReadAllText(initFile).Split('\n').Length >= 5) && deadline.Elapsed < TimeSpan.FromSeconds(30))
            {
                await Task.Delay(100, TestContext.Current.CancellationToken);
            }
            string init = File.Exists(initFile) ? File.ReadAllText(initFile) : "(no file)";
            var exec = await fx.Cli(root, "exec", id, "sh", "-c",
                "id -u; id -g; cat /proc/self/uid_map; echo y > /vol/by-exec; stat -c %u:%g /etc/passwd; touch /etc/written && echo rootfs-write=ok; cat /proc/1/uid_map;"
                + " echo \"nofile $(grep 'Max open files' /proc/1/limits | tr -s ' ' | cut -d' ' -f4,5)\"; echo \"oom $(cat /proc/1/oom_score_adj)\"");
            Assert.True(exec.ExitCode == 0, exec.Stderr);

            string map = $"0 {HostRoot} 65536";
            string initOwner = OwnerOf(Path.Combine(volume, "by-init"));
            string execOwner = OwnerOf(Path.Combine(volume, "by-exec"));
            // runc on the same bundle, where it runs here: the owner it gives is the one we give.
            string? runcOwner = RuncOwner(dir, spec, rootfs, volume);
            string observed = $"init: {Flatten(init)}; exec: {Flatten(exec.Stdout)}; volume files by-init {initOwner}, by-exec {execOwner}; runc: {runcOwner ?? "does not run here"}";
            bool ok = Normalize(init) == $"0\n0\n{map}\n{map}\n"
                && Normalize(exec.Stdout) == $"0\n0\n{map}\n0:0\nrootfs-write=ok\n{map}\nnofile 1048576 1048576\noom -100\n"
                && initOwner == $"{HostRoot}:{HostRoot}" && execOwner == $"{HostRoot}:{HostRoot}"
                && (runcOwner is null || runcOwner == initOwner);
            Assert.True(ReliabilityLog.Record("Escapes", "user namespace: container root is an unprivileged host ID",
                "Docker userns-remap spec (0→100000 size 65536, chowned rootfs, bind volume, RLIMIT_NOFILE 1048576 and oomScoreAdj -100): id and uid_map in init and exec, owner of the files root writes to the volume, the init's limit and oom score",
                $"uid/gid 0 inside, map \"{map}\", volume files owned by {HostRoot}:{HostRoot} on the host (runc's); the limit raised and the score lowered from outside the user namespace, as runc does", observed, ok), observed);
        }
        finally
        {
            _ = await fx.Cli(root, "delete", "--force", id);
        }
        fx.AssertNothingLeft(root, id);
    }

    [Fact]
    [Trait("Category", "Reliability")]
    public async Task The_exit_status_of_pid_1_in_its_own_pid_namespace_comes_through_the_relay()
    {
        // The init makes its pid namespace after the user namespace and forks; the process the
        // agent waits for is the relay, which must end as PID 1 did. The image is not chowned:
        // container root may read and run it (world-readable), as with runc.
        JsonObject spec = UserNamespaceSpec(ContainerSpecs.Process("sh", "-c", "echo pid=$$ uid=$(id -u); exit 7"));
        string root = fx.NewRoot();
        string id = "usernsexit" + Guid.NewGuid().ToString("N")[..6];
        var r = await fx.Cli(root, "run", "--bundle", fx.Bundle(spec), id);
        Assert.True(r.ExitCode == 7, $"exit {r.ExitCode}: {r.Stdout} {r.Stderr}");
        Assert.Equal("pid=1 uid=0\n", r.Stdout);
        _ = await fx.Cli(root, "delete", "--force", id);
        fx.AssertNothingLeft(root, id);
    }

    [Theory]
    [Trait("Category", "Reliability")]
    [InlineData("overlap", "linux.uidMappings[1]: containerID range overlaps linux.uidMappings[0]")]
    [InlineData("wrap", "linux.uidMappings[0]: hostID 4294967000 + size 65536 is past the last id 4294967294")]
    [InlineData("no-gid", "linux.gidMappings: must not be empty in a new user namespace")]
    [InlineData("no-userns", "linux.uidMappings: user namespace mappings specified, but user namespace isn't enabled in the config")]
    [InlineData("idmapped", "mounts[7]: id-mapped mounts (uidMappings, gidMappings) are not supported")]
    [InlineData("join", "only a pod member may join a user namespace")]
    public async Task A_bad_mapping_is_refused_with_one_error_and_nothing_left(string kind, string error)
    {
        JsonObject spec = UserNamespaceSpec(ContainerSpecs.Process("true"));
        JsonObject linux = spec["linux"]!.AsObject();
        switch (kind)
        {
            case "overlap":
                linux["uidMappings"]!.AsArray().Add(Mapping(100, 300000, 10));
                break;
            case "wrap":
                linux["uidMappings"] = new JsonArray(Mapping(0, 4294967000, 65536));
                break;
            case "no-gid":
                linux.Remove("gidMappings");
                break;
            case "no-userns":
                linux["namespaces"]!.AsArray().RemoveAt(linux["namespaces"]!.AsArray().Count - 1);
                break;
            case "idmapped":
                JsonObject volume = ContainerSpecs.Mount("/vol", "bind", "/tmp", "rbind");
                volume["uidMappings"] = new JsonArray(Mapping(0, HostRoot, 65536));
                volume["gidMappings"] = new JsonArray(Mapping(0, HostRoot, 65536));
                spec["mounts"]!.AsArray().Add(volume);
                break;
            case "join":
                linux["namespaces"]!.AsArray()[^1]!["path"] = "/proc/1/ns/user";
                break;
        }
        string root = fx.NewRoot();
        string id = "usernsbad" + kind;
        var r = await fx.Cli(root, "run", "--bundle", fx.Bundle(spec), id);
        int errorLines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
        string observed = $"exit {r.ExitCode}, {errorLines} stderr line(s): {Flatten(r.Stderr)}";
        bool ok = r.ExitCode != 0 && r.Stderr.Contains(error, StringComparison.Ordinal) && errorLines == 1;
        Assert.True(ReliabilityLog.Record("Bad input", $"user namespace: {kind} mapping refused",
            $"vmsandbox run with a {kind} user namespace spec", $"one error naming the field: {error}", observed, ok), observed);
        fx.AssertNothingLeft(root, id);
    }

    /// <summary>The Docker-like spec with a new user namespace and Docker's default remap.</summary>
    private static JsonObject UserNamespaceSpec(JsonObject process)
    {
        JsonObject spec = ContainerSpecs.Spec(process);
        JsonObject linux = spec["linux"]!.AsObject();
        linux["namespaces"]!.AsArray().Add(new JsonObject { ["type"] = "user" });
        linux["uidMappings"] = new JsonArray(Mapping(0, HostRoot, 65536));
        linux["gidMappings"] = new JsonArray(Mapping(0, HostRoot, 65536));
        return spec;
    }

    private static JsonObject Mapping(uint containerId, uint hostId, uint size) =>
        new() { ["containerID"] = containerId, ["hostID"] = hostId, ["size"] = size };

    private static string WriteBundle(string dir, JsonObject spec, string rootfs)
    {
        JsonObject copy = JsonNode.Parse(spec.ToJsonString())!.AsObject();
        copy["root"]!["path"] = rootfs;
        string bundle = Directory.CreateDirectory(Path.Combine(dir, "bundle-" + Guid.NewGuid().ToString("N")[..6])).FullName;
        File.WriteAllText(Path.Combine(bundle, "config.json"), copy.ToJsonString());
        return bundle;
    }

    /// <summary>The owner runc gives a file its container root writes to the volume, or null where runc does not run here.</summary>
    private static string? RuncOwner(string dir, JsonObject spec, string rootfs, string volume)
    {
        string runc = new[] { "/usr/sbin/runc", "/usr/bin/runc" }.FirstOrDefault(File.Exists) ?? "";
        if (runc.Length == 0)
        {
            return null;
        }
        JsonObject copy = JsonNode.Parse(spec.ToJsonString())!.AsObject();
        copy["process"]!["args"] = new JsonArray("sh", "-c", "echo z > /vol/by-runc");
        copy["hostname"] = "box";
        copy["linux"]!["namespaces"]!.AsArray().Add(new JsonObject { ["type"] = "cgroup" });
        string bundle = WriteBundle(dir, copy, rootfs);
        string state = Directory.CreateDirectory(Path.Combine(dir, "runc-state")).FullName;
        string id = "userns-runc-" + Guid.NewGuid().ToString("N")[..6];
        int rc = Run(runc, "--root", state, "run", "--bundle", bundle, id);
        _ = Run(runc, "--root", state, "delete", "--force", id);
        string file = Path.Combine(volume, "by-runc");
        return rc == 0 && File.Exists(file) ? OwnerOf(file) : null;
    }

    private static string OwnerOf(string path)
    {
        if (!File.Exists(path))
        {
            return "(missing)";
        }
        var psi = new ProcessStartInfo("stat", ["-c", "%u:%g", path]) { RedirectStandardOutput = true, UseShellExecute = false };
        using var p = Process.Start(psi)!;
        string owner = p.StandardOutput.ReadToEnd().Trim();
        p.WaitForExit();
        return owner;
    }

    /// <summary>uid_map lines come padded with spaces: one space between fields.</summary>
    private static string Normalize(string text) =>
        string.Join("\n", text.Split('\n').Select(l => string.Join(' ', l.Split(' ', StringSplitOptions.RemoveEmptyEntries))));

    private static string Flatten(string text) => Normalize(text).Trim().Replace('\n', '|');

    private static int Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }
        using var p = Process.Start(psi)!;
        _ = p.StandardOutput.ReadToEndAsync();
        _ = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(60_000))
        {
            p.Kill(entireProcessTree: true);
            return -1;
        }
        return p.ExitCode;
    }
}
