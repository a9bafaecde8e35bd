using VmSandbox.Agent.ContainerInit;
using VmSandbox.Agent.Containers;
using VmSandbox.Common;
using VmSandbox.Interop;
using Xunit;
using M = VmSandbox.Interop.Mount;

namespace VmSandbox.Tests.Unit.Agent;

/// <summary>Pure parts of container setup: mount options, program lookup, paths, /proc parsing.</summary>
public sealed class ContainerSetupTests
{
    [Theory]
    [InlineData(new[] { "nosuid", "noexec", "nodev" }, M.MS_NOSUID | M.MS_NOEXEC | M.MS_NODEV, 0UL, "")]
    [InlineData(new[] { "ro", "rw" }, 0UL, 0UL, "")]
    [InlineData(new[] { "rbind", "ro", "rprivate" }, M.MS_BIND | M.MS_REC | M.MS_RDONLY, M.MS_PRIVATE | M.MS_REC, "")]
    [InlineData(new[] { "mode=755", "size=65536k", "strictatime" }, M.MS_STRICTATIME, 0UL, "mode=755,size=65536k")]
    [InlineData(new[] { "nosuid", "suid" }, 0UL, 0UL, "")]
    [InlineData(new string[0], 0UL, 0UL, "")]
    public void Mount_options_split_into_flags_propagation_and_data(string[] options, ulong flags, ulong propagation, string data)
    {
        MountOptions parsed = MountOptions.Parse(options);
        Assert.Equal(flags, parsed.Flags);
        Assert.Equal(propagation, parsed.PropagationFlags);
        Assert.Equal(data, parsed.Data);
    }

    [Theory]
    [InlineData(new[] { "rbind", "rro" }, M.MOUNT_ATTR_RDONLY, 0UL)]
    [InlineData(new[] { "rro", "rnosuid", "rnodev", "rnoexec" }, M.MOUNT_ATTR_RDONLY | M.MOUNT_ATTR_NOSUID | M.MOUNT_ATTR_NODEV | M.MOUNT_ATTR_NOEXEC, 0UL)]
    [InlineData(new[] { "rro", "rrw" }, 0UL, M.MOUNT_ATTR_RDONLY)]
    [InlineData(new[] { "rrw", "rro" }, M.MOUNT_ATTR_RDONLY, 0UL)]
    [InlineData(new[] { "rnoatime" }, M.MOUNT_ATTR_NOATIME, M.MOUNT_ATTR__ATIME)]
    [InlineData(new[] { "rnoatime", "rstrictatime", "rro" }, M.MOUNT_ATTR_STRICTATIME | M.MOUNT_ATTR_RDONLY, M.MOUNT_ATTR__ATIME)]
    [InlineData(new[] { "rnosymfollow", "rsymfollow" }, 0UL, M.MOUNT_ATTR_NOSYMFOLLOW)]
    [InlineData(new[] { "ro", "nosuid" }, 0UL, 0UL)]
    public void Recursive_options_become_mount_setattr_attributes_not_data(string[] options, ulong set, ulong clear)
    {
        MountOptions parsed = MountOptions.Parse(options);
        Assert.Equal(set, parsed.RecursiveSet);
        Assert.Equal(clear, parsed.RecursiveClear);
        Assert.Equal(set != 0 || clear != 0, parsed.HasRecursive);
        Assert.Equal("", parsed.Data); // "rro" as file system data would be silently ignored by a bind mount
    }

    [Theory]
    [InlineData(new[] { "rw", "rprivate", "nosuid", "nodev", "tmpcopyup" }, true)] // podman's --read-only /tmp
    [InlineData(new[] { "rw", "nosuid", "mode=1777" }, false)]
    public void Tmpcopyup_is_an_extension_not_file_system_data(string[] options, bool copyUp)
    {
        MountOptions parsed = MountOptions.Parse(options);
        Assert.Equal(copyUp, parsed.CopyUp);
        Assert.DoesNotContain("tmpcopyup", parsed.Data, StringComparison.Ordinal); // tmpfs refuses it: EINVAL
    }

    public static TheoryData<string?, ulong, ulong> RootPropagations => new()
    {
        { null, M.MS_SLAVE | M.MS_REC, 0 },
        { "", M.MS_SLAVE | M.MS_REC, 0 },
        { "rprivate", M.MS_PRIVATE | M.MS_REC, 0 },
        { "slave", M.MS_SLAVE, 0 },
        { "shared", M.MS_SHARED, M.MS_SHARED },
        { "rshared", M.MS_SHARED | M.MS_REC, M.MS_SHARED | M.MS_REC },
        // The guest's share must stay bindable: private before the switch, unbindable after it.
        { "unbindable", M.MS_PRIVATE, M.MS_UNBINDABLE },
        { "runbindable", M.MS_PRIVATE | M.MS_REC, M.MS_UNBINDABLE | M.MS_REC },
    };

    [Theory]
    [MemberData(nameof(RootPropagations))]
    public void Root_propagation_is_applied_before_and_after_the_root_switch_as_runc_does(string? name, ulong before, ulong after)
    {
        Assert.Equal((before, after), MountOptions.RootPropagation(name));
    }

    [Fact]
    public void Root_propagation_rejects_unknown_names()
    {
        Assert.Throws<VmSandboxException>(() => MountOptions.RootPropagation("sideways"));
    }

    private static ExecutableLookup.Kind Fake(string path) => path switch
    {
        "/bin/sh" or "/usr/bin/env" or "/app/run" => ExecutableLookup.Kind.Executable,
        "/etc/passwd" or "/usr/local/bin/sh" => ExecutableLookup.Kind.NotExecutable,
        "/bin" => ExecutableLookup.Kind.Directory,
        _ => ExecutableLookup.Kind.Missing,
    };

    [Theory]
    [InlineData("sh", "/usr/local/bin:/bin", "/bin/sh")]
    [InlineData("env", "/bin:/usr/bin", "/usr/bin/env")]
    [InlineData("/bin/sh", "", "/bin/sh")]
    [InlineData("./run", "/bin", "./run")]
    public void Lookup_finds_programs(string name, string path, string expected) =>
        Assert.Equal(expected, ExecutableLookup.Resolve(name, path, "/app", Fake));

    [Theory]
    [InlineData("nosuch", "exec: \"nosuch\": executable file not found in $PATH")]
    [InlineData("/no/such", "exec: \"/no/such\": stat /no/such: no such file or directory")]
    [InlineData("/etc/passwd", "exec: \"/etc/passwd\": permission denied")]
    [InlineData("/bin", "exec: \"/bin\": is a directory")]
    public void Lookup_failures_keep_runc_wording(string name, string message)
    {
        var e = Assert.Throws<VmSandboxException>(() => ExecutableLookup.Resolve(name, "/bin", "/", Fake));
        Assert.Equal(message, e.Message);
    }

    [Fact]
    public void A_non_executable_match_in_path_is_permission_denied()
    {
        var e = Assert.Throws<VmSandboxException>(() => ExecutableLookup.Resolve("sh", "/usr/local/bin", "/", Fake));
        Assert.Contains("permission denied", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { "A=1", "PATH=/x", "PATH=/y" }, "/y")]
    [InlineData(new[] { "A=1" }, ExecutableLookup.DefaultPath)]
    public void Path_comes_from_the_process_env(string[] env, string expected) => Assert.Equal(expected, ExecutableLookup.PathOf(env));

    [Theory]
    [InlineData("/a/b/../c/", "/a/c")]
    [InlineData("../../etc", "/etc")]
    [InlineData("", "/")]
    [InlineData("/./x//y", "/x/y")]
    public void Container_paths_cannot_climb_out(string path, string expected) => Assert.Equal(expected, RootfsSetup.Normalize(path));

    [Theory]
    [InlineData(@"/a\040b", "/a b")]
    [InlineData(@"/x\134y", @"/x\y")]
    [InlineData(@"/trail\04", @"/trail\04")]
    public void Mountinfo_paths_are_unescaped(string field, string expected) => Assert.Equal(expected, MountInfo.Unescape(field));

    [Theory]
    [InlineData("42 (sh) S 7 42 42 0", 7u)]
    [InlineData("42 (a) b) c) R 9 1", 9u)]
    [InlineData("garbage", 0u)]
    public void Parent_pid_comes_from_stat(string stat, uint ppid) => Assert.Equal(ppid, ProcInfo.ParentOf(stat));

    [Fact]
    public void Cmdline_splits_on_nul() =>
        Assert.Equal(["sh", "-c", "x y"], ProcInfo.Arguments("sh\0-c\0x y\0"u8.ToArray()));

    [Fact]
    public void Makedev_matches_glibc()
    {
        Assert.Equal(0x103UL, FileSystemCalls.MakeDev(1, 3));
        Assert.Equal(0x500UL, FileSystemCalls.MakeDev(5, 0));
        Assert.Equal(0x1000_0000_0123UL, FileSystemCalls.MakeDev(0x1001, 0x23));
    }

    [Theory]
    [InlineData("vmsandbox", true)]
    [InlineData("a.b-c_1", true)]
    [InlineData("..", false)]
    [InlineData("a/b", false)]
    [InlineData("", false)]
    public void Share_tags_are_plain_names(string tag, bool valid) => Assert.Equal(valid, ShareMounter.IsValidTag(tag));

    private static readonly string[] s_passwd = ["root:x:0:0:root:/root:/bin/sh", "broken line", "user:x:1000:1000::/home/user:/bin/sh", "nohome:x:1001:1001:::/bin/sh"];

    [Theory]
    [InlineData(0u, "HOME=/root")]
    [InlineData(1000u, "HOME=/home/user")]
    [InlineData(1001u, "HOME=/")]
    [InlineData(4242u, "HOME=/")] // not in /etc/passwd: runc's default
    public void Home_comes_from_passwd_when_the_env_has_none(uint uid, string expected) =>
        Assert.Equal(["PATH=/bin", expected], ProcessSetup.WithHome(["PATH=/bin"], uid, s_passwd));

    [Fact]
    public void A_home_in_the_env_is_kept()
    {
        Assert.Equal(["HOME=/x"], ProcessSetup.WithHome(["HOME=/x"], 0, s_passwd));
        Assert.Equal(["HOME="], ProcessSetup.WithHome(["HOME="], 0, s_passwd));
        Assert.Equal(["HOME=/"], ProcessSetup.WithHome([], 0, []));
    }
}
