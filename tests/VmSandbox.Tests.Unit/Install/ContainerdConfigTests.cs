using VmSandbox.Common;
using VmSandbox.Install.Containerd;
using Xunit;

namespace VmSandbox.Tests.Unit.Install;

/// <summary>install/uninstall --containerd on temp config.toml files: merge, layout, backup, idempotence, replacement, refusal, exact revert.</summary>
public sealed class ContainerdConfigTests : IDisposable
{
    private const string Shim = "/usr/local/bin/containerd-shim-vmsandbox-v2";
    private const string Table = "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.vmsandbox]";
    private const string Marker = "# added by vmsandbox install --containerd; vmsandbox uninstall --containerd takes it out";
    private static readonly CriRuntimeHandler s_handler = new("vmsandbox", Shim);
    private static readonly DateTimeOffset s_now = new(2026, 12, 5, 19, 14, 0, TimeSpan.Zero);
    private readonly string _dir = Directory.CreateTempSubdirectory("vmsandbox-containerd-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string ConfigToml => Path.Combine(_dir, "config.toml");

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }

    private ContainerdConfig Config(string? path = null) => new(path ?? ConfigToml, new FixedClock(s_now));

    private string[] Backups() => Directory.GetFiles(_dir, "config.toml.vmsandbox-*.bak").Order(StringComparer.Ordinal).ToArray();

    /// <summary>Debian 12's /etc/containerd/config.toml (containerd 1.6.20~ds1).</summary>
    private const string Debian = """
        version = 2

        [plugins]
          [plugins."io.containerd.grpc.v1.cri"]
            [plugins."io.containerd.grpc.v1.cri".cni]
              bin_dir = "/usr/lib/cni"
              conf_dir = "/etc/cni/net.d"
          [plugins."io.containerd.internal.v1.opt"]
            path = "/var/lib/containerd/opt"

        """;

    /// <summary>The shape of `containerd config default` (1.6): indented, a blank line before each table.</summary>
    private const string Default = """
        disabled_plugins = []
        version = 2

        [grpc]
          address = "/run/containerd/containerd.sock"

        [plugins]

          [plugins."io.containerd.grpc.v1.cri"]
            sandbox_image = "pause:local"

            [plugins."io.containerd.grpc.v1.cri".containerd]
              default_runtime_name = "runc"

              [plugins."io.containerd.grpc.v1.cri".containerd.runtimes]

                [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
                  runtime_type = "io.containerd.runc.v2"

                  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
                    SystemdCgroup = false

            [plugins."io.containerd.grpc.v1.cri".registry]
              config_path = ""

        [timeouts]
          "io.containerd.timeout.shim.cleanup" = "5s"

        """;

    /// <summary>Hand-written: flat, comments everywhere, things that look like headers inside strings and arrays.</summary>
    private const string Flat = """
        # containerd config
        version = 2  # v2
        oom_score = -999

        [plugins."io.containerd.grpc.v1.cri"]
          sandbox_image = "pause:local" # local
          notes = '''
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.vmsandbox]
        '''
          device_ownership_from_security_context = true

        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.kata]
          runtime_type = "io.containerd.kata.v2"
          pod_annotations = [
            "io.katacontainers.*", # [not a header]
            "x#y",
          ]
        # trailing comment about what follows

        [metrics]
          address = "127.0.0.1:1338"
        """;

    [Fact]
    public void A_missing_file_and_directory_are_created_with_version_2()
    {
        string path = Path.Combine(_dir, "etc-containerd", "config.toml");
        ContainerdConfigChange change = Config(path).AddRuntime(s_handler);
        Assert.Equal((true, true, false, null), (change.Changed, change.Created, change.Replaced, change.BackupPath));
        Assert.Equal($"""
            version = 2

            {Table}
              {Marker}
              runtime_type = "io.containerd.vmsandbox.v2"
              runtime_path = "{Shim}"
              pod_annotations = ["io.vmsandbox.*"]

            """, File.ReadAllText(path));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead, File.GetUnixFileMode(path));
    }

    [Fact]
    public void Debians_file_gets_the_table_after_the_cri_plugins_tables_indented_like_them()
    {
        File.WriteAllText(ConfigToml, Debian);
        File.SetUnixFileMode(ConfigToml, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        ContainerdConfigChange change = Config().AddRuntime(s_handler);
        Assert.Equal(ConfigToml + ".vmsandbox-20261205T191400Z.bak", change.BackupPath);
        Assert.Equal(Debian, File.ReadAllText(change.BackupPath!));
        Assert.Equal($"""
            version = 2

            [plugins]
              [plugins."io.containerd.grpc.v1.cri"]
                [plugins."io.containerd.grpc.v1.cri".cni]
                  bin_dir = "/usr/lib/cni"
                  conf_dir = "/etc/cni/net.d"
                    {Table}
                      {Marker}
                      runtime_type = "io.containerd.vmsandbox.v2"
                      runtime_path = "{Shim}"
                      pod_annotations = ["io.vmsandbox.*"]
              [plugins."io.containerd.internal.v1.opt"]
                path = "/var/lib/containerd/opt"

            """, File.ReadAllText(ConfigToml));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(ConfigToml));
        Assert.False(File.Exists(ConfigToml + ".vmsandbox-tmp"));
    }

    [Fact]
    public void The_default_layout_gets_the_table_beside_the_other_runtimes_with_a_blank_line()
    {
        File.WriteAllText(ConfigToml, Default);
        Config().AddRuntime(s_handler with { ConfigPath = "/etc/vmsandbox/config.json" });
        const string after = "            SystemdCgroup = false\n";
        string expected = Default.Insert(Default.IndexOf(after, StringComparison.Ordinal) + after.Length, $"""

                    {Table}
                      {Marker}
                      runtime_type = "io.containerd.vmsandbox.v2"
                      runtime_path = "{Shim}"
                      pod_annotations = ["io.vmsandbox.*"]

                      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.vmsandbox.options]
                        ConfigPath = "/etc/vmsandbox/config.json"

            """);
        Assert.Equal(expected, File.ReadAllText(ConfigToml));
    }

    [Fact]
    public void A_flat_file_keeps_every_comment_and_string_and_gets_the_table_after_its_sibling_runtime()
    {
        File.WriteAllText(ConfigToml, Flat);
        Config().AddRuntime(s_handler);
        const string after = "    \"x#y\",\n  ]\n";
        string expected = Flat.Insert(Flat.IndexOf(after, StringComparison.Ordinal) + after.Length, $"""

            {Table}
              {Marker}
              runtime_type = "io.containerd.vmsandbox.v2"
              runtime_path = "{Shim}"
              pod_annotations = ["io.vmsandbox.*"]

            """);
        Assert.Equal(expected, File.ReadAllText(ConfigToml));
    }

    public static TheoryData<string> Originals => new()
    {
        Debian,
        Default,
        Flat,
        "version = 2\n",
        "version = 2",
        "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\"]\n  x = 1",
        "version = 2\n\n\n# end\n",
        Flat.ReplaceLineEndings("\r\n"),
        "\uFEFF" + Debian,
        "version = 3\n\n[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]\n  runtime_type = 'io.containerd.runc.v2'\n",
        "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.vmsandbox]\n  runtime_type = \"io.containerd.vmsandbox.v2\"\n  runtime_path = \"/old\"\n",
    };

    [Theory]
    [MemberData(nameof(Originals))]
    public void Install_twice_then_uninstall_gives_back_the_original_bytes(string original)
    {
        File.WriteAllBytes(ConfigToml, System.Text.Encoding.UTF8.GetBytes(original));
        byte[] before = File.ReadAllBytes(ConfigToml);
        var config = Config();
        foreach (string? configPath in new[] { null, "/etc/vmsandbox/config.json" })
        {
            var handler = s_handler with { ConfigPath = configPath };
            ContainerdConfigChange first = config.AddRuntime(handler);
            Assert.True(first.Changed);
            byte[] installed = File.ReadAllBytes(ConfigToml);
            ContainerdConfigChange again = config.AddRuntime(handler);
            Assert.False(again.Changed);
            Assert.Null(again.BackupPath);
            Assert.Equal(installed, File.ReadAllBytes(ConfigToml));
            Assert.True(config.RemoveRuntime("vmsandbox").Changed);
            if (!original.Contains("runtime_path = \"/old\"", StringComparison.Ordinal))
            {
                Assert.Equal(before, File.ReadAllBytes(ConfigToml));
            }
            Assert.False(config.RemoveRuntime("vmsandbox").Changed);
        }
    }

    [Fact]
    public void A_crlf_file_gets_crlf_lines_and_a_file_without_a_final_newline_keeps_it_so()
    {
        File.WriteAllText(ConfigToml, "version = 2\r\n[a]\r\n  b = 1");
        Config().AddRuntime(s_handler);
        string text = File.ReadAllText(ConfigToml);
        Assert.DoesNotContain("\n", text.Replace("\r\n", "", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.EndsWith("pod_annotations = [\"io.vmsandbox.*\"]", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Each_change_gets_its_own_backup_and_a_second_install_none()
    {
        File.WriteAllText(ConfigToml, Debian);
        var config = Config();
        config.AddRuntime(s_handler);
        string installed = File.ReadAllText(ConfigToml);
        DateTime written = File.GetLastWriteTimeUtc(ConfigToml);
        Assert.False(config.AddRuntime(s_handler).Changed);
        Assert.Equal(written, File.GetLastWriteTimeUtc(ConfigToml));
        Assert.Single(Backups());
        ContainerdConfigChange removed = config.RemoveRuntime("vmsandbox");
        Assert.Equal(ConfigToml + ".vmsandbox-20261205T191400Z-2.bak", removed.BackupPath);
        Assert.Equal(installed, File.ReadAllText(removed.BackupPath!));
        Assert.Equal(2, Backups().Length);
    }

    [Fact]
    public void A_table_of_that_name_with_other_content_is_replaced_with_its_scattered_sub_tables()
    {
        const string before = """
            version = 2

            [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.vmsandbox.options]
              ConfigPath = "/old/config.json"

            [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
              runtime_type = "io.containerd.runc.v2"

            [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.vmsandbox]
              # mine
              runtime_type = "io.containerd.vmsandbox.v2"
              runtime_path = "/opt/old/containerd-shim-vmsandbox-v2"
              privileged_without_host_devices = true

            [metrics]
              address = ""

            """;
        File.WriteAllText(ConfigToml, before);
        ContainerdConfigChange change = Config().AddRuntime(s_handler);
        Assert.True(change.Replaced);
        Assert.Equal($"""
            version = 2

            [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
              runtime_type = "io.containerd.runc.v2"

            {Table}
              {Marker}
              runtime_type = "io.containerd.vmsandbox.v2"
              runtime_path = "{Shim}"
              pod_annotations = ["io.vmsandbox.*"]

            [metrics]
              address = ""

            """, File.ReadAllText(ConfigToml));
    }

    [Fact]
    public void A_sub_table_alone_is_replaced_by_the_whole_table()
    {
        File.WriteAllText(ConfigToml, "version = 2\n\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.vmsandbox.options]\n  ConfigPath = \"/x\"\n");
        Assert.True(Config().AddRuntime(s_handler).Replaced);
        string text = File.ReadAllText(ConfigToml);
        Assert.DoesNotContain("ConfigPath", text, StringComparison.Ordinal);
        Assert.Contains(Table, text, StringComparison.Ordinal);
    }

    [Fact]
    public void The_same_content_spelled_otherwise_is_already_in()
    {
        string content = $"""
            version = 2
            [ plugins . 'io.containerd.grpc.v1.cri' . containerd . runtimes . vmsandbox ]
            pod_annotations = [ 'io.vmsandbox.*', ]   # annotations
            runtime_path = '{Shim}'
            runtime_type = "io.containerd.vmsandbox.v2"
            """;
        File.WriteAllText(ConfigToml, content);
        ContainerdConfigChange change = Config().AddRuntime(s_handler);
        Assert.False(change.Changed);
        Assert.Equal(content, File.ReadAllText(ConfigToml));
        Assert.Empty(Backups());
    }

    [Fact]
    public void A_config_path_change_rewrites_the_options_table()
    {
        File.WriteAllText(ConfigToml, "version = 2\n");
        var config = Config();
        config.AddRuntime(s_handler with { ConfigPath = "/etc/a.json" });
        Assert.True(config.AddRuntime(s_handler with { ConfigPath = "/etc/b.json" }).Replaced);
        string text = File.ReadAllText(ConfigToml);
        Assert.Contains("ConfigPath = \"/etc/b.json\"", text, StringComparison.Ordinal);
        Assert.DoesNotContain("/etc/a.json", text, StringComparison.Ordinal);
        Assert.True(config.AddRuntime(s_handler).Replaced);
        Assert.DoesNotContain("options", File.ReadAllText(ConfigToml), StringComparison.Ordinal);
    }

    [Fact]
    public void A_file_of_comments_only_gets_version_2()
    {
        File.WriteAllText(ConfigToml, "# nothing yet\n");
        ContainerdConfigChange change = Config().AddRuntime(s_handler);
        Assert.True(change.VersionAdded);
        Assert.StartsWith($"version = 2\n\n{Table}\n", File.ReadAllText(ConfigToml), StringComparison.Ordinal);
        Assert.EndsWith("\n# nothing yet\n", File.ReadAllText(ConfigToml), StringComparison.Ordinal);
    }

    [Fact]
    public void Version_3_uses_containerd_2s_plugin_name()
    {
        File.WriteAllText(ConfigToml, "version = 3\n");
        Config().AddRuntime(s_handler);
        Assert.Contains("\n[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.vmsandbox]\n", File.ReadAllText(ConfigToml), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("root = \"/var/lib/containerd\"\n", "no version line, which containerd 1.x reads as config version 1, but a CRI runtime handler needs version = 2 (version 1 names the plugin plugins.cri), left unchanged (fix: convert the file to version 2 (containerd config default prints one) and run this again)")]
    [InlineData("version = 1\n[plugins.cri]\n", "line 1: config version 1, but a CRI runtime handler needs version = 2 (version 1 names the plugin plugins.cri), left unchanged (fix: convert the file to version 2 (containerd config default prints one) and run this again)")]
    [InlineData("# v\nversion = 4\n", "line 2: config version 4 is neither 2 (containerd 1.x) nor 3 (containerd 2.x), left unchanged (fix: fix {0} or move it away)")]
    [InlineData("version = \"2\"\n", "line 1: version is not a number, left unchanged (fix: fix {0} or move it away)")]
    [InlineData("version = 2\n[plugins.\"io.containerd.grpc.v1.cri\"\n", "line 2: unterminated table header, left unchanged (fix: fix {0} or move it away)")]
    [InlineData("version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.vmsandbox]\n[x]\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.vmsandbox]\n",
        "line 4: table [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.vmsandbox] is defined twice (first on line 2), left unchanged (fix: fix {0} or move it away)")]
    [InlineData("version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd]\nruntimes.vmsandbox.runtime_type = \"x\"\n",
        "line 3: plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.vmsandbox.runtime_type is set by a dotted key or an inline table, and install edits only [table] sections, left unchanged (fix: write plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.vmsandbox as [table] sections, or take it out)")]
    [InlineData("version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd]\nruntimes = { runc = { runtime_type = \"io.containerd.runc.v2\" } }\n",
        "line 3: plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes is set by a dotted key or an inline table, and install edits only [table] sections, left unchanged (fix: write plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.vmsandbox as [table] sections, or take it out)")]
    [InlineData("version = 2\n[[plugins]]\n", "line 2: [[plugins]] is an array of tables where containerd expects a table, left unchanged (fix: fix {0} or move it away)")]
    public void A_file_install_cannot_edit_is_refused_on_one_line_and_left_untouched(string content, string message)
    {
        File.WriteAllText(ConfigToml, content);
        var config = Config();
        VmSandboxException e = Assert.Throws<VmSandboxException>(() => config.AddRuntime(s_handler));
        Assert.Equal(ErrorCode.Config, e.Code);
        Assert.Equal($"{ConfigToml}: {string.Format(System.Globalization.CultureInfo.InvariantCulture, message, ConfigToml)}", VmSandboxException.FormatChain(e));
        Assert.Equal(content, File.ReadAllText(ConfigToml));
        Assert.Empty(Backups());
        if (content.StartsWith("version = 2", StringComparison.Ordinal))
        {
            Assert.Throws<VmSandboxException>(() => config.RemoveRuntime("vmsandbox"));
            Assert.Equal(content, File.ReadAllText(ConfigToml));
        }
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]\n")]
    [InlineData("[plugins.cri.containerd.runtimes.vmsandbox]\n")]
    public void Uninstall_without_our_table_changes_nothing(string? content)
    {
        if (content is not null)
        {
            File.WriteAllText(ConfigToml, content);
        }
        Assert.False(Config().RemoveRuntime("vmsandbox").Changed);
        Assert.Equal(content is not null, File.Exists(ConfigToml));
        Assert.Empty(Backups());
    }

    [Fact]
    public void Uninstall_refuses_while_containerd_uses_us_as_the_default_runtime()
    {
        const string content = "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd]\n  default_runtime_name = \"vmsandbox\"\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.vmsandbox]\n  runtime_type = \"io.containerd.vmsandbox.v2\"\n";
        File.WriteAllText(ConfigToml, content);
        VmSandboxException e = Assert.Throws<VmSandboxException>(() => Config().RemoveRuntime("vmsandbox"));
        Assert.Equal(ErrorCode.FailedPrecondition, e.Code);
        Assert.Equal($"{ConfigToml}: line 3: default_runtime_name is \"vmsandbox\", left unchanged (fix: set default_runtime_name back to runc first)", VmSandboxException.FormatChain(e));
        Assert.Equal(content, File.ReadAllText(ConfigToml));
    }

    [Fact]
    public void Uninstall_refuses_a_table_of_another_runtime()
    {
        const string content = "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.kata]\n  runtime_type = \"io.containerd.kata.v2\"\n";
        File.WriteAllText(ConfigToml, content);
        VmSandboxException e = Assert.Throws<VmSandboxException>(() => Config().RemoveRuntime("kata"));
        Assert.Equal($"{ConfigToml}: line 3: runtime handler kata has runtime_type \"io.containerd.kata.v2\", not vmsandbox's, left unchanged (fix: name vmsandbox's handler with --runtime-name)", VmSandboxException.FormatChain(e));
        Assert.Equal(content, File.ReadAllText(ConfigToml));
    }

    [Fact]
    public void A_disabled_cri_plugin_is_a_warning()
    {
        File.WriteAllText(ConfigToml, "version = 2\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n");
        ContainerdConfigChange change = Config().AddRuntime(s_handler);
        Assert.Equal("disabled_plugins (line 2) turns off containerd's CRI plugin io.containerd.grpc.v1.cri: Kubernetes cannot use the handler until it is taken out of that list", Assert.Single(change.Warnings));
        Assert.Single(Config().AddRuntime(s_handler).Warnings);
    }

    [Fact]
    public void A_symlinked_config_is_edited_where_it_points()
    {
        string real = Path.Combine(_dir, "real.toml");
        File.WriteAllText(real, "version = 2\n");
        File.CreateSymbolicLink(ConfigToml, real);
        Config().AddRuntime(s_handler);
        Assert.NotNull(new FileInfo(ConfigToml).LinkTarget);
        Assert.Contains(Table, File.ReadAllText(real), StringComparison.Ordinal);
    }

    [Fact]
    public void Bytes_that_are_not_utf8_are_refused()
    {
        File.WriteAllBytes(ConfigToml, [(byte)'#', 0xff, (byte)'\n']);
        Assert.Equal($"{ConfigToml}: not UTF-8 text, left unchanged (fix: fix {ConfigToml} or move it away)",
            VmSandboxException.FormatChain(Assert.Throws<VmSandboxException>(() => Config().AddRuntime(s_handler))));
    }

    [Theory]
    [InlineData("VmSandbox", "runtime name \"VmSandbox\" is not a DNS label (1-63 of a-z 0-9 -, a letter or digit at both ends), which a RuntimeClass handler must be")]
    [InlineData("-vm", "runtime name \"-vm\" is not a DNS label (1-63 of a-z 0-9 -, a letter or digit at both ends), which a RuntimeClass handler must be")]
    [InlineData("vm.sandbox", "runtime name \"vm.sandbox\" is not a DNS label (1-63 of a-z 0-9 -, a letter or digit at both ends), which a RuntimeClass handler must be")]
    [InlineData("", "runtime name \"\" is not a DNS label (1-63 of a-z 0-9 -, a letter or digit at both ends), which a RuntimeClass handler must be")]
    [InlineData("runc", "runtime name \"runc\" is containerd's default handler")]
    public void Invalid_runtime_names_are_refused(string name, string message)
    {
        VmSandboxException e = Assert.Throws<VmSandboxException>(() => Config().AddRuntime(s_handler with { Name = name }));
        Assert.Equal((ErrorCode.InvalidArgument, message), (e.Code, VmSandboxException.FormatChain(e)));
        Assert.Equal(message, VmSandboxException.FormatChain(Assert.Throws<VmSandboxException>(() => Config().RemoveRuntime(name))));
        Assert.False(File.Exists(ConfigToml));
    }

    [Fact]
    public void Relative_paths_are_refused()
    {
        Assert.Equal(ErrorCode.InvalidArgument, Assert.Throws<VmSandboxException>(() => Config().AddRuntime(s_handler with { ShimPath = "shim" })).Code);
        Assert.Equal(ErrorCode.InvalidArgument, Assert.Throws<VmSandboxException>(() => Config().AddRuntime(s_handler with { ConfigPath = "config.json" })).Code);
        Assert.False(File.Exists(ConfigToml));
    }

    [Fact]
    public void A_63_character_name_works_and_paths_with_quotes_are_escaped()
    {
        string name = new('a', 63);
        Config().AddRuntime(new CriRuntimeHandler(name, "/opt/a \"b\"\\c/containerd-shim-vmsandbox-v2"));
        string text = File.ReadAllText(ConfigToml);
        Assert.Contains($".runtimes.{name}]", text, StringComparison.Ordinal);
        Assert.Contains("runtime_path = \"/opt/a \\\"b\\\"\\\\c/containerd-shim-vmsandbox-v2\"", text, StringComparison.Ordinal);
        Assert.False(Config().AddRuntime(new CriRuntimeHandler(name, "/opt/a \"b\"\\c/containerd-shim-vmsandbox-v2")).Changed);
    }
}
