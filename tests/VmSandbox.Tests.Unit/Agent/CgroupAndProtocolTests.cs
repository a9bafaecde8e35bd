using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using VmSandbox.Agent.Cgroups;
using VmSandbox.Agent.ContainerInit.Protocol;
using VmSandbox.Agent.Containers;
using VmSandbox.Agent.Vm;
using VmSandbox.Common;
using VmSandbox.Interop;
using VmSandbox.Oci;
using VmSandbox.Oci.Spec;
using VmSandbox.Seccomp;
using Xunit;

namespace VmSandbox.Tests.Unit.Agent;

/// <summary>cgroup v2 values, stats parsing, the init protocol's framing, capability masks and C struct layouts.</summary>
public sealed class CgroupAndProtocolTests
{
    [Theory]
    [InlineData(2UL, 1UL)]
    [InlineData(1024UL, 39UL)]
    [InlineData(262144UL, 10000UL)]
    [InlineData(1UL, 1UL)]
    [InlineData(999999UL, 10000UL)]
    public void Cpu_shares_become_weights_like_runc(ulong shares, ulong weight) => Assert.Equal(weight, CgroupResources.CpuWeight(shares));

    [Theory]
    [InlineData(50000L, 100000UL, "50000 100000")]
    [InlineData(-1L, null, "max 100000")]
    [InlineData(20000L, null, "20000 100000")]
    [InlineData(null, null, null)]
    public void Quota_and_period_become_cpu_max(long? quota, ulong? period, string? expected) => Assert.Equal(expected, CgroupResources.CpuMax(quota, period));

    [Theory]
    [InlineData(100L, 300L, "200")]
    [InlineData(100L, -1L, "max")]
    [InlineData(100L, 0L, null)]
    public void Swap_is_the_total_minus_the_limit(long limit, long swap, string? expected) => Assert.Equal(expected, CgroupResources.SwapMax(limit, swap));

    [Fact]
    public void Swap_below_the_limit_is_refused() =>
        Assert.Throws<VmSandboxException>(() => CgroupResources.SwapMax(300, 100));

    [Fact]
    public void Resources_map_to_files_in_order()
    {
        var resources = new LinuxResources
        {
            Memory = new LinuxResources.MemoryLimits { Limit = 1 << 20, Swap = 2 << 20 },
            Cpu = new LinuxResources.CpuLimits { Shares = 1024, Quota = 50000, Period = 100000, Cpus = "0" },
            Pids = new LinuxResources.PidsLimit { Limit = 100 },
            Unified = new Dictionary<string, string> { ["memory.high"] = "900000" },
        };
        Assert.Equal(
            [("memory.max", "1048576"), ("memory.swap.max", "1048576"), ("cpu.weight", "39"), ("cpu.max", "50000 100000"),
             ("pids.max", "100"), ("memory.high", "900000")],
            CgroupResources.ToFiles(resources));
        Assert.Empty(CgroupResources.ToFiles(null));
        Assert.Equal([("pids.max", "max")], CgroupResources.ToFiles(new LinuxResources { Pids = new LinuxResources.PidsLimit { Limit = 0 } }));
    }

    [Theory]
    [InlineData("../escape")]
    [InlineData("cgroup.procs")]
    [InlineData("noperiod")]
    public void Unified_keys_must_be_controller_files(string key) =>
        Assert.Throws<VmSandboxException>(() => CgroupResources.ToFiles(new LinuxResources { Unified = new Dictionary<string, string> { [key] = "1" } }));

    [Fact]
    public void Stats_files_parse()
    {
        var cpu = CgroupStatsParser.Cpu("usage_usec 120\nuser_usec 100\nsystem_usec 20\nnr_periods 0\nbogus\n");
        Assert.Equal(120UL, cpu.UsageUsec);
        Assert.Equal(20UL, cpu.SystemUsec);
        Assert.Equal(0UL, CgroupStatsParser.Single("max\n"));
        Assert.Equal(4096UL, CgroupStatsParser.Single("4096\n"));
        var io = CgroupStatsParser.Io("254:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0\nbad line\n8:16 rbytes=x\n");
        Assert.Equal(2, io.Count);
        Assert.Equal((254u, 0u, 10UL, 20UL, 1UL, 2UL), (io[0].Major, io[0].Minor, io[0].ReadBytes, io[0].WriteBytes, io[0].ReadIos, io[0].WriteIos));
    }

    [Fact]
    public void Stats_parsers_survive_random_input()
    {
        var rng = new Random(7);
        for (int i = 0; i < 2000; i++)
        {
            byte[] b = new byte[rng.Next(0, 200)];
            rng.NextBytes(b);
            string s = Encoding.Latin1.GetString(b);
            _ = CgroupStatsParser.Cpu(s);
            _ = CgroupStatsParser.Io(s);
            _ = CgroupStatsParser.Single(s);
            _ = ProcInfo.ParentOf(s);
        }
    }

    [Fact]
    public void Init_messages_round_trip()
    {
        var config = new InitMessage
        {
            Type = InitMessage.ConfigType,
            Mode = InitMessage.ExecMode,
            ContainerId = "c1",
            Rootfs = "/run/vmsandbox/shares/t/rootfs",
            Binds = [new InitMessage.BindSource("/data", "/run/vmsandbox/shares/t/data")],
            Terminal = true,
            JoinPid = 42,
        };
        byte[] frame = InitFrame.Encode(config);
        Assert.True(InitFrame.TryDecode(frame, out InitMessage? decoded, out int consumed));
        Assert.Equal(frame.Length, consumed);
        Assert.Equal(config with { Binds = null }, decoded! with { Binds = null });
        Assert.Equal(config.Binds, decoded!.Binds);
        Assert.False(InitFrame.TryDecode(frame.AsSpan(0, frame.Length - 1), out _, out _));
        byte[] error = InitFrame.Encode(new InitMessage { Type = InitMessage.ErrorType, Error = WireError.From(new VmSandboxException(ErrorCode.InvalidArgument, "exec: \"x\": permission denied")) });
        Assert.True(InitFrame.TryDecode(error, out InitMessage? e, out _));
        Assert.Equal(ErrorCode.InvalidArgument, e!.Error!.ErrorCode);
        Assert.Equal("exec: \"x\": permission denied", e.Error.ToException().Message);
    }

    /// <summary>A spec whose every part the container init reads, with values that differ from the defaults.</summary>
    private static RuntimeSpec RichSpec()
    {
        RuntimeSpec spec = DefaultSpec.Create();
        return spec with
        {
            Hostname = "h",
            Domainname = "example.org",
            Annotations = new Dictionary<string, string> { ["a"] = "b" },
            Process = spec.Process! with { Terminal = false, NoNewPrivileges = false, OomScoreAdj = 0, User = new User { Uid = 1000, Gid = 0, Umask = 0, AdditionalGids = [5] } },
            Hooks = new Hooks { StartContainer = [new Hook { Path = "/bin/true", Args = ["true"], Timeout = 5 }] },
            Linux = spec.Linux! with
            {
                Sysctl = new Dictionary<string, string> { ["net.ipv4.ip_forward"] = "1" },
                RootfsPropagation = "rslave",
                Devices = [new LinuxDevice { Path = "/dev/fuse", Type = "c", Major = 10, Minor = 229, FileMode = 438, Uid = 0, Gid = 0 }],
                Seccomp = Seccomp.DockerProfileTests.Load(),
            },
        };
    }

    [Fact]
    public void Init_config_carries_the_spec_bytes_unchanged_and_they_parse_to_the_same_spec()
    {
        RuntimeSpec spec = RichSpec();
        byte[] json = Encoding.UTF8.GetBytes(SpecLoader.Serialize(spec));
        byte[] frame = InitFrame.Encode(new InitMessage { Type = InitMessage.ConfigType, Mode = InitMessage.InitMode, ContainerId = "c1", SpecJson = json });
        Assert.True(InitFrame.TryDecode(frame, out InitMessage? decoded, out _));
        Assert.Equal(json, decoded!.SpecJson);
        // What the init's parse makes of them is what the agent's made: the same OCI text, the
        // same seccomp program, and the non-default values that a re-serialisation could lose.
        RuntimeSpec parsed = SpecLoader.ParseAndValidate(decoded.SpecJson, new List<string>(), "config.json");
        Assert.Equal(SpecLoader.Serialize(spec), SpecLoader.Serialize(parsed));
        Assert.Equal(SeccompCompiler.Compile(spec.Linux!.Seccomp!), SeccompCompiler.Compile(parsed.Linux!.Seccomp!));
        Assert.False(parsed.Process!.NoNewPrivileges);
        Assert.Equal(0, parsed.Process.OomScoreAdj);
        Assert.Null(decoded.ProcessJson);
    }

    [Fact]
    public void Exec_config_carries_the_process_bytes_and_the_containers_compiled_seccomp()
    {
        RuntimeSpec spec = RichSpec();
        ProcessSpec process = spec.Process! with { Args = ["sh", "-c", "echo ok"], Cwd = "/tmp", Terminal = true };
        byte[] processJson = Encoding.UTF8.GetBytes(ProcessLoader.Serialize(process));
        SeccompProgram seccomp = SeccompProgram.Compile(spec.Linux!.Seccomp! with { Flags = ["SECCOMP_FILTER_FLAG_LOG"] });
        var message = new InitMessage
        {
            Type = InitMessage.ConfigType,
            Mode = InitMessage.ExecMode,
            ContainerId = "c1",
            ProcessJson = processJson,
            SeccompFilter = seccomp.FilterBytes(),
            SeccompFlags = (uint)seccomp.Flags,
            JoinPid = 42,
        };
        Assert.True(InitFrame.TryDecode(InitFrame.Encode(message), out InitMessage? decoded, out _));
        Assert.Equal(processJson, decoded!.ProcessJson);
        Assert.Equal(ProcessLoader.Serialize(process), ProcessLoader.Serialize(ProcessLoader.Parse(decoded.ProcessJson, new List<string>())));
        // The init installs exactly the program the agent compiled, with its flags.
        SeccompProgram installed = SeccompProgram.FromBytes(decoded.SeccompFilter, decoded.SeccompFlags);
        Assert.Equal(SeccompCompiler.Compile(spec.Linux.Seccomp), installed.Filter);
        Assert.Equal(SeccompFilterFlags.Log, installed.Flags);
        Assert.Null(decoded.SpecJson);
        Assert.Equal(42, decoded.JoinPid);
    }

    [Theory]
    [InlineData(0, 0u)]
    [InlineData(7, 0u)]
    [InlineData(8 * (SeccompProgram.MaxInstructions + 1), 0u)]
    [InlineData(8, 0x80u)]
    public void A_seccomp_program_no_compiler_makes_is_a_protocol_error(int length, uint flags)
    {
        var e = Assert.Throws<VmSandboxException>(() => SeccompProgram.FromBytes(new byte[length], flags));
        Assert.Equal(ErrorCode.Protocol, e.Code);
    }

    [Theory]
    [InlineData(new byte[] { 0, 0, 0, 1, (byte)'{' })]
    [InlineData(new byte[] { 0x7f, 0xff, 0xff, 0xff })]
    [InlineData(new byte[] { 0, 0, 0, 2, (byte)'{', (byte)'}' })]
    [InlineData(new byte[] { 0, 0, 0, 4, (byte)'n', (byte)'u', (byte)'l', (byte)'l' })]
    public void Bad_frames_are_protocol_errors(byte[] frame)
    {
        var e = Assert.Throws<VmSandboxException>(() => InitFrame.TryDecode(frame, out _, out _));
        Assert.Equal(ErrorCode.Protocol, e.Code);
    }

    [Fact]
    public void Frame_decoding_survives_random_input()
    {
        var rng = new Random(11);
        byte[] valid = InitFrame.Encode(new InitMessage { Type = InitMessage.ReadyType, HasPty = true });
        for (int i = 0; i < 5000; i++)
        {
            byte[] data = rng.Next(2) == 0 ? new byte[rng.Next(0, 64)] : (byte[])valid.Clone();
            if (data.Length > 0)
            {
                data[rng.Next(data.Length)] = (byte)rng.Next(256);
            }
            else
            {
                rng.NextBytes(data);
            }
            try
            {
                _ = InitFrame.TryDecode(data, out _, out _);
            }
            catch (VmSandboxException e) when (e.Code == ErrorCode.Protocol)
            {
            }
        }
    }

    [Fact]
    public void Capability_names_become_masks()
    {
        Assert.Equal((1UL << 0) | (1UL << 27), CapabilityNames.ToMask(["CAP_CHOWN", "CAP_MKNOD", "CAP_NOPE"]));
        Assert.Equal(1UL << 40, CapabilityNames.ToMask(["CAP_CHECKPOINT_RESTORE"]));
    }

    [Theory]
    [InlineData(0x0000, 0, 0)]
    [InlineData(0x2a00, 42, 0)]
    [InlineData(0x0009, 137, 9)]
    [InlineData(0x000f, 143, 15)]
    public void Wait_statuses_decode_like_a_shell(int status, int code, int signal) =>
        Assert.Equal((code, signal), ChildRegistry.Decode(status));

    [Fact]
    public void Struct_layouts_match_the_kernel()
    {
        Assert.Equal(8, Unsafe.SizeOf<Capabilities.__user_cap_header_struct>());
        Assert.Equal(12, Unsafe.SizeOf<Capabilities.__user_cap_data_struct>());
        Assert.Equal(4, (int)Marshal.OffsetOf<Capabilities.__user_cap_header_struct>("pid"));
        Assert.Equal(8, (int)Marshal.OffsetOf<Capabilities.__user_cap_data_struct>("inheritable"));
        Assert.Equal(8, Unsafe.SizeOf<Tmds.Linux.winsize>());
        Assert.Equal(2, (int)Marshal.OffsetOf<Tmds.Linux.winsize>("ws_col"));
        Assert.Equal(16, Unsafe.SizeOf<Rlimits.rlimit>());
        Assert.Equal(8, (int)Marshal.OffsetOf<Rlimits.rlimit>("rlim_max"));
    }
}
