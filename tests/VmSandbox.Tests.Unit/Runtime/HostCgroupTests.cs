using VmSandbox.Common;
using VmSandbox.Runtime.Sandbox;
using Xunit;

namespace VmSandbox.Tests.Unit.Runtime;

public sealed class HostCgroupTests
{
    // A cgroup v1 host (as this CI machine) and a v2 one, in /proc/self/mountinfo form.
    private static readonly string[] s_v1 =
    [
        "22 1 0:20 / /sys rw,nosuid - sysfs sysfs rw",
        "30 22 0:26 / /sys/fs/cgroup ro - tmpfs tmpfs ro,mode=755",
        "31 30 0:27 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory",
        "32 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct",
        "33 30 0:29 / /sys/fs/cgroup/pids rw,nosuid shared:9 - cgroup cgroup rw,pids",
        "34 30 0:30 /nested /sys/fs/cgroup/bind rw - cgroup cgroup rw,freezer",
        "35 30 0:31 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw",
    ];

    private static readonly string[] s_v2 =
    [
        "22 1 0:20 / /sys rw,nosuid - sysfs sysfs rw",
        "30 22 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate",
    ];

    [Fact]
    public void Docker_cgroupfs_paths_land_in_every_v1_hierarchy()
    {
        IReadOnlyList<string> dirs = HostCgroup.Resolve("/docker/abc", "abc", systemd: false, s_v1);
        Assert.Equal(["/sys/fs/cgroup/memory/docker/abc", "/sys/fs/cgroup/cpu,cpuacct/docker/abc", "/sys/fs/cgroup/pids/docker/abc"], dirs);
    }

    [Fact]
    public void A_v2_host_gets_one_directory()
    {
        Assert.Equal(["/sys/fs/cgroup/docker/abc"], HostCgroup.Resolve("/docker/abc", "abc", systemd: false, s_v2));
    }

    [Fact]
    public void Systemd_paths_become_slice_and_scope_directories()
    {
        Assert.Equal(["/sys/fs/cgroup/system.slice/docker-abc.scope"], HostCgroup.Resolve("system.slice:docker:abc", "abc", systemd: true, s_v2));
        Assert.Equal("user.slice/user-1000.slice/cri-x.scope", HostCgroup.FromSystemd("user-1000.slice:cri:x", "x"));
        Assert.Equal("system.slice/id1.scope", HostCgroup.FromSystemd("::", "id1"));
    }

    [Fact]
    public void No_path_and_no_own_cgroup_means_no_host_cgroup()
    {
        Assert.Empty(HostCgroup.Resolve(null, "abc", systemd: false, s_v1));
        Assert.Empty(HostCgroup.Resolve("", "abc", systemd: false, s_v1));
    }

    /// <summary>runc's default (delete.bats finds a cgroup named after the container): the ID below the caller's cgroup.</summary>
    [Fact]
    public void No_path_means_the_id_below_the_callers_own_cgroup()
    {
        string[] ownV1 = ["12:pids:/user.slice", "4:memory:/job/7", "3:cpu,cpuacct:/", "1:name=systemd:/init.scope", "0::/"];
        Assert.Equal(
            ["/sys/fs/cgroup/memory/job/7/abc", "/sys/fs/cgroup/cpu,cpuacct/abc", "/sys/fs/cgroup/pids/user.slice/abc"],
            HostCgroup.Resolve(null, "abc", systemd: false, s_v1, ownV1));
        Assert.Equal(["/sys/fs/cgroup/user.slice/session-2.scope/abc"], HostCgroup.Resolve("", "abc", systemd: false, s_v2, ["0::/user.slice/session-2.scope"]));
        Assert.Equal(["/sys/fs/cgroup/system.slice/runc-abc.scope"], HostCgroup.Resolve(null, "abc", systemd: true, s_v2, ["0::/"]));
    }

    [Theory]
    [InlineData("/docker/../../etc", false)]
    [InlineData("/docker//abc", false)]
    [InlineData("a/./b", false)]
    [InlineData("not-systemd", true)]
    [InlineData("docker:abc:x", true)]
    public void Escaping_or_malformed_paths_are_refused(string path, bool systemd)
    {
        var e = Assert.Throws<VmSandboxException>(() => HostCgroup.Resolve(path, "abc", systemd, s_v1));
        Assert.Equal(ErrorCode.InvalidArgument, e.Code);
        Assert.Contains("linux.cgroupsPath", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("freezer.state", "FROZEN\n", true)]
    [InlineData("freezer.state", "FREEZING\n", true)]
    [InlineData("freezer.state", "THAWED\n", false)]
    [InlineData("cgroup.freeze", "1\n", true)]
    [InlineData("cgroup.freeze", "0\n", false)]
    [InlineData("cpu.max", "max 100000\n", false)]
    public void A_frozen_cgroup_is_refused_with_runcs_words(string file, string content, bool refused)
    {
        string dir = Directory.CreateTempSubdirectory("vmsb-freezer-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, file), content);
            string[] dirs = [Path.Combine(dir, "missing"), dir];
            if (refused)
            {
                var e = Assert.Throws<VmSandboxException>(() => HostCgroup.ThrowIfFrozen(dirs));
                Assert.Equal("container's cgroup unexpectedly frozen", e.Message);
            }
            else
            {
                HostCgroup.ThrowIfFrozen(dirs);
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Processes_already_in_the_cgroup_are_counted_once_over_all_hierarchies()
    {
        string root = Directory.CreateTempSubdirectory("vmsb-procs-").FullName;
        try
        {
            string cpu = Directory.CreateDirectory(Path.Combine(root, "cpu")).FullName;
            string memory = Directory.CreateDirectory(Path.Combine(root, "memory")).FullName;
            string empty = Directory.CreateDirectory(Path.Combine(root, "pids")).FullName;
            File.WriteAllText(Path.Combine(cpu, "cgroup.procs"), "101\n102\n");
            File.WriteAllText(Path.Combine(memory, "cgroup.procs"), "102\n103\n");
            File.WriteAllText(Path.Combine(empty, "cgroup.procs"), "");

            Assert.Equal(3, HostCgroup.CountProcesses([cpu, memory, empty, Path.Combine(root, "missing")]));
            Assert.Equal(0, HostCgroup.CountProcesses([empty, Path.Combine(root, "missing")]));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void The_cpuset_goes_to_the_hierarchies_that_have_one()
    {
        string root = Directory.CreateTempSubdirectory("vmsb-cpuset-").FullName;
        try
        {
            string cpuset = Directory.CreateDirectory(Path.Combine(root, "cpuset")).FullName;
            string memory = Directory.CreateDirectory(Path.Combine(root, "memory")).FullName;
            File.WriteAllText(Path.Combine(cpuset, "cpuset.cpus"), "0-1");
            File.WriteAllText(Path.Combine(cpuset, "cpuset.mems"), "0");

            HostCgroup.SetCpuset([cpuset, memory], "1", null);
            Assert.Equal("1", File.ReadAllText(Path.Combine(cpuset, "cpuset.cpus")));
            Assert.Equal("0", File.ReadAllText(Path.Combine(cpuset, "cpuset.mems")));
            Assert.False(File.Exists(Path.Combine(memory, "cpuset.cpus")));
            HostCgroup.SetCpuset([cpuset], "", "0");
            Assert.Equal("1", File.ReadAllText(Path.Combine(cpuset, "cpuset.cpus")));

            // A file that refuses the value (/dev/full: ENOSPC) gives one line naming the value.
            string broken = Directory.CreateDirectory(Path.Combine(root, "broken")).FullName;
            File.CreateSymbolicLink(Path.Combine(broken, "cpuset.cpus"), "/dev/full");
            var e = Assert.Throws<VmSandbox.Common.VmSandboxException>(() => HostCgroup.SetCpuset([broken], "7", null));
            Assert.Contains("failed to write \"7\"", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
