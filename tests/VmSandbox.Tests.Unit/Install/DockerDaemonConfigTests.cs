using System.Diagnostics;
using System.Text.Json.Nodes;
using VmSandbox.Common;
using VmSandbox.Install.Docker;
using Xunit;

namespace VmSandbox.Tests.Unit.Install;

/// <summary>install/uninstall --docker on temp daemon.json files: merge, backup, idempotence, refusal, revert.</summary>
public sealed class DockerDaemonConfigTests : IDisposable
{
    private const string Bin = "/usr/local/bin/vmsandbox";
    private readonly string _dir = Directory.CreateTempSubdirectory("vmsandbox-docker-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string DaemonJson => Path.Combine(_dir, "daemon.json");

    private static JsonObject Json(string path) => JsonNode.Parse(File.ReadAllText(path))!.AsObject();

    [Theory]
    [InlineData("")]
    [InlineData("  \n")]
    [InlineData("{}")]
    public void An_empty_config_gets_just_our_runtime(string content)
    {
        File.WriteAllText(DaemonJson, content);
        DaemonConfigChange change = new DockerDaemonConfig(DaemonJson).AddRuntime("vmsandbox", Bin);
        Assert.True(change.Changed);
        Assert.Equal(DaemonJson + ".vmsandbox.bak", change.BackupPath);
        Assert.Equal(content, File.ReadAllText(change.BackupPath!));
        Assert.Equal("{\n  \"runtimes\": {\n    \"vmsandbox\": {\n      \"path\": \"/usr/local/bin/vmsandbox\"\n    }\n  }\n}\n", File.ReadAllText(DaemonJson));
    }

    [Fact]
    public void A_missing_file_and_directory_are_created_without_a_backup()
    {
        string path = Path.Combine(_dir, "etc-docker", "daemon.json");
        DaemonConfigChange change = new DockerDaemonConfig(path).AddRuntime("vmsandbox", Bin);
        Assert.Equal(new DaemonConfigChange(true, true, null), change);
        Assert.Equal(Bin, (string?)Json(path)["runtimes"]!["vmsandbox"]!["path"]);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead, File.GetUnixFileMode(path));
    }

    [Fact]
    public void Every_other_key_and_runtime_is_kept_in_order_with_its_exact_values()
    {
        const string before = """
            {
              "data-root": "/var/lib/docker",
              "runtimes": {
                "runsc": { "path": "/usr/bin/runsc", "runtimeArgs": ["--network=none"] }
              },
              "max-concurrent-downloads": 3,
              "log-opts": { "max-size": "10m" },
              "registry-mirrors": ["https://mirror.example/+x<y>"],
              "big": 12345678901234567890,
              "ratio": 1.50,
              "debug": false,
              "none": null,
              "label": "caf\u00e9"
            }
            """;
        File.WriteAllText(DaemonJson, before);
        File.SetUnixFileMode(DaemonJson, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        new DockerDaemonConfig(DaemonJson).AddRuntime("vmsandbox", Bin);
        string after = File.ReadAllText(DaemonJson);
        JsonObject root = Json(DaemonJson);
        Assert.Equal(["data-root", "runtimes", "max-concurrent-downloads", "log-opts", "registry-mirrors", "big", "ratio", "debug", "none", "label"],
            root.Select(p => p.Key));
        Assert.Equal(["runsc", "vmsandbox"], root["runtimes"]!.AsObject().Select(p => p.Key));
        Assert.Equal("--network=none", (string?)root["runtimes"]!["runsc"]!["runtimeArgs"]![0]);
        // Numbers keep their text; non-ASCII and URL characters stay readable.
        Assert.Contains("\"big\": 12345678901234567890", after, StringComparison.Ordinal);
        Assert.Contains("\"ratio\": 1.50", after, StringComparison.Ordinal);
        Assert.Contains("https://mirror.example/+x<y>", after, StringComparison.Ordinal);
        Assert.Contains("café", after, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllText(DaemonJson + ".vmsandbox.bak"));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(DaemonJson));
        Assert.False(File.Exists(DaemonJson + ".vmsandbox-tmp"));
    }

    [Fact]
    public void Installing_twice_changes_nothing_and_keeps_the_first_backup()
    {
        File.WriteAllText(DaemonJson, "{\"debug\": true}");
        var config = new DockerDaemonConfig(DaemonJson);
        Assert.True(config.AddRuntime("vmsandbox", Bin).Changed);
        string installed = File.ReadAllText(DaemonJson);
        DateTime written = File.GetLastWriteTimeUtc(DaemonJson);
        Assert.Equal(new DaemonConfigChange(false, false, null), config.AddRuntime("vmsandbox", Bin));
        Assert.Equal(installed, File.ReadAllText(DaemonJson));
        Assert.Equal(written, File.GetLastWriteTimeUtc(DaemonJson));
        Assert.Equal("{\"debug\": true}", File.ReadAllText(config.BackupPath));
    }

    [Fact]
    public void A_new_binary_path_updates_our_entry_and_keeps_its_other_fields()
    {
        File.WriteAllText(DaemonJson, "{\"runtimes\":{\"vmsandbox\":{\"path\":\"/old/vmsandbox\",\"runtimeArgs\":[\"--debug\"]}}}");
        Assert.True(new DockerDaemonConfig(DaemonJson).AddRuntime("vmsandbox", Bin).Changed);
        JsonNode entry = Json(DaemonJson)["runtimes"]!["vmsandbox"]!;
        Assert.Equal(Bin, (string?)entry["path"]);
        Assert.Equal("--debug", (string?)entry["runtimeArgs"]![0]);
    }

    [Theory]
    [InlineData("{", "malformed json")]
    [InlineData("{\"debug\": true,}", "malformed json at line 1")]
    [InlineData("{\n  // comment\n  \"debug\": true\n}", "malformed json at line 2")]
    [InlineData("{\"a\": 1, \"a\": 2}", "malformed json")]
    [InlineData("[]", "the top level is not a json object")]
    [InlineData("\"text\"", "the top level is not a json object")]
    [InlineData("{\"runtimes\": []}", "runtimes is not a json object")]
    [InlineData("{\"runtimes\": {\"vmsandbox\": \"/bin/x\"}}", "runtimes.vmsandbox is not a json object")]
    public void A_malformed_file_is_refused_on_one_line_and_left_untouched(string content, string problem)
    {
        File.WriteAllText(DaemonJson, content);
        var config = new DockerDaemonConfig(DaemonJson);
        VmSandboxException e = Assert.Throws<VmSandboxException>(() => config.AddRuntime("vmsandbox", Bin));
        Assert.Equal(ErrorCode.Config, e.Code);
        string message = VmSandboxException.FormatChain(e);
        Assert.StartsWith($"{DaemonJson}: {problem}", message, StringComparison.Ordinal);
        Assert.EndsWith($"left unchanged (fix: fix {DaemonJson} or move it away)", message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', message);
        Assert.Equal(content, File.ReadAllText(DaemonJson));
        Assert.False(File.Exists(config.BackupPath));
        if (!content.Contains("vmsandbox", StringComparison.Ordinal))
        {
            Assert.Throws<VmSandboxException>(() => config.RemoveRuntime("vmsandbox"));
            Assert.Equal(content, File.ReadAllText(DaemonJson));
        }
    }

    [Fact]
    public void Uninstall_reverts_install_and_drops_an_empty_runtimes_object()
    {
        const string original = "{\n  \"debug\": true\n}\n";
        File.WriteAllText(DaemonJson, original);
        var config = new DockerDaemonConfig(DaemonJson);
        config.AddRuntime("vmsandbox", Bin);
        DaemonConfigChange removed = config.RemoveRuntime("vmsandbox");
        Assert.True(removed.Changed);
        Assert.Equal(original, File.ReadAllText(DaemonJson));
        Assert.Equal(new DaemonConfigChange(false, false, null), config.RemoveRuntime("vmsandbox"));
    }

    [Fact]
    public void Uninstall_removes_only_our_entry()
    {
        File.WriteAllText(DaemonJson, "{\"runtimes\":{\"runsc\":{\"path\":\"/usr/bin/runsc\"},\"vmsandbox\":{\"path\":\"/x\"},\"other\":{\"path\":\"/y\"}},\"debug\":true}");
        new DockerDaemonConfig(DaemonJson).RemoveRuntime("vmsandbox");
        JsonObject root = Json(DaemonJson);
        Assert.Equal(["runsc", "other"], root["runtimes"]!.AsObject().Select(p => p.Key));
        Assert.True((bool)root["debug"]!);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("{}")]
    [InlineData("{\"runtimes\":{\"runsc\":{\"path\":\"/usr/bin/runsc\"}}}")]
    public void Uninstall_without_our_entry_changes_nothing(string? content)
    {
        if (content is not null)
        {
            File.WriteAllText(DaemonJson, content);
        }
        Assert.Equal(new DaemonConfigChange(false, false, null), new DockerDaemonConfig(DaemonJson).RemoveRuntime("vmsandbox"));
        Assert.Equal(content is not null, File.Exists(DaemonJson));
    }

    [Fact]
    public void Uninstall_refuses_while_docker_uses_us_as_the_default_runtime()
    {
        const string content = "{\"default-runtime\":\"vmsandbox\",\"runtimes\":{\"vmsandbox\":{\"path\":\"/x\"}}}";
        File.WriteAllText(DaemonJson, content);
        VmSandboxException e = Assert.Throws<VmSandboxException>(() => new DockerDaemonConfig(DaemonJson).RemoveRuntime("vmsandbox"));
        Assert.Equal(ErrorCode.FailedPrecondition, e.Code);
        Assert.Equal($"{DaemonJson}: default-runtime is \"vmsandbox\", left unchanged (fix: set default-runtime to runc in daemon.json first)", VmSandboxException.FormatChain(e));
        Assert.Equal(content, File.ReadAllText(DaemonJson));
    }

    [Fact]
    public void A_symlinked_daemon_json_is_edited_where_it_points()
    {
        string real = Path.Combine(_dir, "real.json");
        File.WriteAllText(real, "{}");
        File.CreateSymbolicLink(DaemonJson, real);
        new DockerDaemonConfig(DaemonJson).AddRuntime("vmsandbox", Bin);
        Assert.NotNull(new FileInfo(DaemonJson).LinkTarget);
        Assert.Equal(Bin, (string?)Json(real)["runtimes"]!["vmsandbox"]!["path"]);
    }

    [Theory]
    [InlineData("", "runtime name \"\" must be 1-128 of A-Z a-z 0-9 . _ -")]
    [InlineData("vm sandbox", "runtime name \"vm sandbox\" must be 1-128 of A-Z a-z 0-9 . _ -")]
    [InlineData("runc", "runtime name \"runc\" is reserved by docker")]
    [InlineData("io.containerd.runc.v2", "runtime name \"io.containerd.runc.v2\" is reserved by docker")]
    public void Invalid_runtime_names_are_refused(string name, string message)
    {
        VmSandboxException e = Assert.Throws<VmSandboxException>(() => new DockerDaemonConfig(DaemonJson).AddRuntime(name, Bin));
        Assert.Equal(ErrorCode.InvalidArgument, e.Code);
        Assert.Equal(message, e.Message);
        Assert.False(File.Exists(DaemonJson));
    }

    [Theory]
    [InlineData("vmsandbox-debug")]
    [InlineData("vm_sandbox.2")]
    public void Other_runtime_names_work(string name)
    {
        new DockerDaemonConfig(DaemonJson).AddRuntime(name, Bin);
        Assert.Equal(Bin, (string?)Json(DaemonJson)["runtimes"]![name]!["path"]);
    }

    [Fact]
    public void A_relative_binary_path_is_refused() =>
        Assert.Equal(ErrorCode.InvalidArgument, Assert.Throws<VmSandboxException>(() => new DockerDaemonConfig(DaemonJson).AddRuntime("vmsandbox", "vmsandbox")).Code);

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("garbage")]
    [InlineData("999999999")]
    public void The_reloader_treats_a_missing_or_stale_pid_file_as_not_running(string? content)
    {
        string pidFile = Path.Combine(_dir, "docker.pid");
        if (content is not null)
        {
            File.WriteAllText(pidFile, content);
        }
        Assert.Null(new DockerReloader(pidFile).Reload());
    }

    [Fact]
    public void The_reloader_never_signals_a_process_that_is_not_dockerd()
    {
        using var sleeper = Process.Start("/usr/bin/sleep", "30");
        try
        {
            string pidFile = Path.Combine(_dir, "docker.pid");
            File.WriteAllText(pidFile, sleeper.Id + "\n");
            Assert.Null(new DockerReloader(pidFile).Reload());
            Assert.False(sleeper.WaitForExit(200));
        }
        finally
        {
            sleeper.Kill();
        }
    }

    [Fact]
    public void The_reloader_sends_sighup_to_dockerd()
    {
        // A copy of sleep named dockerd: SIGHUP's default action ends it, which shows the signal
        // arrived. env resets that action first: under nohup (or any caller that ignores SIGHUP)
        // the ignored disposition would be inherited through exec.
        string fake = Path.Combine(_dir, "dockerd");
        File.Copy("/usr/bin/sleep", fake);
        File.SetUnixFileMode(fake, UnixFileMode.UserRead | UnixFileMode.UserExecute);
        using var dockerd = Process.Start("/usr/bin/env", ["--default-signal=HUP", fake, "30"]);
        try
        {
            for (int i = 0; i < 100 && ReadComm(dockerd.Id) != "dockerd"; i++)
            {
                Thread.Sleep(20); // until env has exec'd the fake dockerd
            }
            string pidFile = Path.Combine(_dir, "docker.pid");
            File.WriteAllText(pidFile, dockerd.Id + "\n");
            Assert.Equal(dockerd.Id, new DockerReloader(pidFile).Reload());
            Assert.True(dockerd.WaitForExit(5000));
            Assert.Equal(128 + 1, dockerd.ExitCode);
        }
        finally
        {
            if (!dockerd.HasExited)
            {
                dockerd.Kill();
            }
        }
    }

    private static string ReadComm(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/comm").TrimEnd('\n');
        }
        catch (IOException)
        {
            return "";
        }
    }
}
