using System.Text.Json.Nodes;
using Xunit;

namespace VmSandbox.Tests.Vm;

/// <summary>Bad input: one clear line on stderr, exit 1, and nothing left under --root or on the host.</summary>
[Collection(LifecycleCollection.Name)]
public sealed class LifecycleBadInputTests(BundleFixture fx)
{
    private async Task AssertRefused(string root, string id, string expected, params string[] args)
    {
        var r = await fx.Cli(root, args);
        // runc's codes: 1 for every error, 255 for an exec that could not run its process.
        int code = args[0] == "exec" ? 255 : 1;
        Assert.True(r.ExitCode == code, $"exit {r.ExitCode}: {r.Stderr}");
        Assert.Equal("", r.Stdout);
        string[] lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        string line = Assert.Single(lines);
        Assert.Contains(expected, line, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(root));
        if (id.Length > 0 && id is not ".." && !id.Contains('/', StringComparison.Ordinal))
        {
            fx.AssertNothingLeft(root, id);
        }
    }

    public static TheoryData<string, string> BadIds => new()
    {
        { "", "id is empty" },
        { new string('a', 1025), "is longer than" },
        { "a/b", "may contain only" },
        { "..", "relative path component" },
        { "../escape", "may contain only" },
    };

    [Theory]
    [MemberData(nameof(BadIds))]
    public async Task Bad_container_ids_are_refused(string id, string expected)
    {
        string root = fx.NewRoot();
        await AssertRefused(root, id, expected, "create", "--bundle", fx.Bundle("true"), id);
    }

    [Fact]
    public async Task A_frozen_cgroup_is_refused_before_anything_starts()
    {
        // runc's own conformance case: a monitor moved into a frozen cgroup would stop dead.
        string name = "vmsb-frozen-" + Guid.NewGuid().ToString("N")[..8];
        string v1 = Path.Combine("/sys/fs/cgroup/freezer", name);
        string v2 = Path.Combine("/sys/fs/cgroup", name);
        bool isV1 = Directory.Exists("/sys/fs/cgroup/freezer");
        string dir = isV1 ? v1 : v2;
        Directory.CreateDirectory(dir);
        try
        {
            File.WriteAllText(Path.Combine(dir, isV1 ? "freezer.state" : "cgroup.freeze"), isV1 ? "FROZEN" : "1");
            JsonObject spec = ContainerSpecs.Spec(ContainerSpecs.Process("true"));
            spec["linux"]!["cgroupsPath"] = "/" + name;
            string root = fx.NewRoot();
            await AssertRefused(root, "frozen", "container's cgroup unexpectedly frozen", "create", "--bundle", fx.Bundle(spec), "frozen");
        }
        finally
        {
            File.WriteAllText(Path.Combine(dir, isV1 ? "freezer.state" : "cgroup.freeze"), isV1 ? "THAWED" : "0");
            Directory.Delete(dir);
        }
    }

    [Fact]
    public async Task A_missing_bundle_is_refused()
    {
        string root = fx.NewRoot();
        await AssertRefused(root, "nob", "no such file or directory", "create", "--bundle", "/nonexistent/bundle", "nob");
    }

    [Theory]
    [InlineData("{\"ociVersion\": \"1.0.2\", \"process\": ", "config.json")]
    [InlineData("[]", "config.json")]
    [InlineData("{\"ociVersion\": \"9.9.9\", \"root\": {\"path\": \"rootfs\"}, \"process\": {\"args\": [\"true\"], \"cwd\": \"/\", \"user\": {\"uid\": 0, \"gid\": 0}}}", "9.9.9")]
    [InlineData("{\"ociVersion\": \"1.0.2\", \"root\": {\"path\": \"rootfs\"}, \"process\": {\"args\": [], \"cwd\": \"/\", \"user\": {\"uid\": 0, \"gid\": 0}}}", "args")]
    public async Task Malformed_or_invalid_configs_are_refused(string config, string expected)
    {
        string root = fx.NewRoot();
        string bundle = fx.Bundle("true");
        Directory.CreateDirectory(Path.Combine(bundle, "rootfs"));
        File.WriteAllText(Path.Combine(bundle, "config.json"), config);
        await AssertRefused(root, "badcfg", expected, "create", "--bundle", bundle, "badcfg");
    }

    [Fact]
    public async Task A_missing_console_socket_is_refused()
    {
        string root = fx.NewRoot();
        JsonObject process = ContainerSpecs.Process("sh");
        process["terminal"] = true;
        string bundle = fx.Bundle(ContainerSpecs.Spec(process));
        await AssertRefused(root, "nosock", "no such file or directory", "create", "--bundle", bundle, "--console-socket", "/nonexistent/console.sock", "nosock");
    }

    [Fact]
    public async Task A_missing_bind_source_is_refused_before_anything_boots()
    {
        string root = fx.NewRoot();
        JsonObject spec = ContainerSpecs.Spec(ContainerSpecs.Process("true"));
        spec["mounts"]!.AsArray().Add(ContainerSpecs.Mount("/data", "bind", "/nonexistent/volume", "rbind"));
        await AssertRefused(root, "nobind", "/nonexistent/volume", "create", "--bundle", fx.Bundle(spec), "nobind");
    }

    [Fact]
    public async Task A_missing_binary_fails_create_with_runcs_words_and_leaves_nothing()
    {
        string root = fx.NewRoot();
        await AssertRefused(root, "nobin", "exec: \"nosuchbinary\": executable file not found in $PATH", "create", "--bundle", fx.Bundle("nosuchbinary"), "nobin");
        await AssertRefused(root, "noexec", "permission denied", "create", "--bundle", fx.Bundle("/etc/passwd"), "noexec");
    }

    [Fact]
    public async Task Verbs_on_a_container_that_does_not_exist_fail()
    {
        string root = fx.NewRoot();
        foreach (string[] args in (string[][])[["state", "ghost"], ["start", "ghost"], ["kill", "ghost", "KILL"], ["delete", "ghost"], ["exec", "ghost", "true"], ["ps", "ghost"], ["pause", "ghost"]])
        {
            await AssertRefused(root, "ghost", "container ghost does not exist", args);
        }
    }
}
