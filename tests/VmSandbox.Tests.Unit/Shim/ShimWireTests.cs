using Google.Protobuf;
using VmSandbox.Agent.Protocol;
using VmSandbox.Shim;
using VmSandbox.Shim.Protocol;
using VmSandbox.Shim.Protocol.Cgroups2;
using Xunit;
using StatsResponse = VmSandbox.Agent.Protocol.StatsResponse;

namespace VmSandbox.Tests.Unit.Shim;

/// <summary>The bytes containerd reads: field numbers of shim.proto, events and cgroup v2 metrics.</summary>
public sealed class ShimWireTests
{
    [Fact]
    public void TaskExit_has_containerds_field_numbers()
    {
        byte[] bytes = new TaskExit { ContainerId = "c", Id = "e", Pid = 7, ExitStatus = 3 }.ToByteArray();
        // 1: container_id "c", 2: id "e", 3: pid 7, 4: exit_status 3
        Assert.Equal(new byte[] { 0x0a, 1, (byte)'c', 0x12, 1, (byte)'e', 0x18, 7, 0x20, 3 }, bytes);
    }

    [Fact]
    public void StateResponse_status_and_exit_fields_are_where_containerd_reads_them()
    {
        byte[] bytes = new StateResponse { Pid = 5, Status = Status.Stopped, ExitStatus = 137 }.ToByteArray();
        // 3: pid 5, 4: status STOPPED (3), 9: exit_status 137 (varint 0x89 0x01)
        Assert.Equal(new byte[] { 0x18, 5, 0x20, 3, 0x48, 0x89, 0x01 }, bytes);
    }

    [Fact]
    public void Metrics_fill_cgroup_v2_fields_from_the_guests_stats()
    {
        var stats = new StatsResponse
        {
            Cpu = new CpuStats { UsageUsec = 10, UserUsec = 6, SystemUsec = 4 },
            Memory = new MemoryStats { UsageBytes = 4096, LimitBytes = 8192, AnonBytes = 1024, FileBytes = 2048, OomKills = 1 },
            Pids = new PidsStats { Current = 2, Limit = 100 },
            Io = { new IoDeviceStats { Major = 254, Minor = 0, ReadBytes = 5, WriteBytes = 6 } },
        };
        Metrics m = TaskService.ToMetrics(stats);
        Assert.Equal((10ul, 6ul, 4ul), (m.Cpu.UsageUsec, m.Cpu.UserUsec, m.Cpu.SystemUsec));
        Assert.Equal((4096ul, 8192ul, 1024ul, 2048ul), (m.Memory.Usage, m.Memory.UsageLimit, m.Memory.Anon, m.Memory.File));
        Assert.Equal(1ul, m.MemoryEvents.OomKill);
        Assert.Equal((2ul, 100ul), (m.Pids.Current, m.Pids.Limit));
        Assert.Equal((254ul, 5ul, 6ul), (m.Io.Usage[0].Major, m.Io.Usage[0].Rbytes, m.Io.Usage[0].Wbytes));
        // memory.usage is field 32 of MemoryStat, pids field 1 of Metrics: what CRI's stats code decodes.
        byte[] memory = new MemoryStat { Usage = 1 }.ToByteArray();
        Assert.Equal(new byte[] { 0x80, 0x02, 1 }, memory);
    }

    [Fact]
    public void Rootfs_mount_options_split_into_flags_and_data()
    {
        (ulong flags, string? data) = VmSandbox.Shim.RootfsMount.ParseOptions(["ro", "nodev", "lowerdir=/a:/b", "upperdir=/u", "workdir=/w"]);
        Assert.Equal(VmSandbox.Interop.Mount.MS_RDONLY | VmSandbox.Interop.Mount.MS_NODEV, flags);
        Assert.Equal("lowerdir=/a:/b,upperdir=/u,workdir=/w", data);
        Assert.Equal((VmSandbox.Interop.Mount.MS_BIND | VmSandbox.Interop.Mount.MS_REC, (string?)null), VmSandbox.Shim.RootfsMount.ParseOptions(["rbind", "rw"]));
    }
}
