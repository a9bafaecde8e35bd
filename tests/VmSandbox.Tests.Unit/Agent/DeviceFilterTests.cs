using System.Buffers.Binary;
using VmSandbox.Agent.Cgroups;
using VmSandbox.Common;
using VmSandbox.Interop;
using Xunit;
using Rule = VmSandbox.Oci.Spec.LinuxResources.DeviceRule;

namespace VmSandbox.Tests.Unit.Agent;

/// <summary>
/// The cgroup v2 device filter: the compiled program run by a small interpreter of the eBPF
/// instructions it uses, against the answers cgroup v1's devices.allow/deny would give; and the
/// host kernel's verifier accepts it.
/// </summary>
public sealed class DeviceFilterTests
{
    private static readonly Rule s_denyAll = new() { Allow = false, Access = "rwm" };

    /// <summary>What `docker run` sends: deny all, then its defaults (a subset of runc's, plus console).</summary>
    private static readonly Rule[] s_docker =
    [
        s_denyAll,
        new() { Allow = true, Type = "c", Major = 1, Minor = 5, Access = "rwm" },
        new() { Allow = true, Type = "c", Major = 1, Minor = 3, Access = "rwm" },
        new() { Allow = true, Type = "c", Major = 5, Minor = 1, Access = "rwm" },
        new() { Allow = true, Type = "c", Major = -1, Minor = -1, Access = "m" },
    ];

    private static bool Allowed(IReadOnlyList<Rule>? spec, char type, uint major, uint minor, string access) =>
        Run(DeviceFilter.Compile(DeviceFilter.Effective(spec)), type == 'b' ? DeviceFilter.TypeBlock : DeviceFilter.TypeChar, major, minor, DeviceFilter.Access(access)) == 1;

    [Theory]
    [InlineData('c', 1u, 3u, "rw", true)]     // null
    [InlineData('c', 1u, 5u, "rwm", true)]    // zero
    [InlineData('c', 5u, 1u, "rw", true)]     // console, Docker's own rule
    [InlineData('c', 136u, 7u, "rw", true)]   // a pts, runc's default
    [InlineData('c', 5u, 2u, "rw", true)]     // ptmx
    [InlineData('c', 1u, 11u, "w", false)]    // kmsg
    [InlineData('c', 1u, 1u, "r", false)]     // mem
    [InlineData('c', 1u, 11u, "m", true)]     // mknod is allowed, opening is not
    [InlineData('b', 253u, 0u, "r", false)]
    [InlineData('b', 253u, 0u, "m", true)]
    [InlineData('c', 229u, 0u, "rw", false)]  // hvc0, the guest's console
    public void Dockers_rules_behave_as_cgroup_v1_would(char type, uint major, uint minor, string access, bool allowed) =>
        Assert.Equal(allowed, Allowed(s_docker, type, major, minor, access));

    [Fact]
    public void Without_rules_everything_is_allowed_as_in_a_new_v1_cgroup() =>
        Assert.True(Allowed(null, 'c', 1, 11, "rwm"));

    [Fact]
    public void Later_rules_win_and_a_rule_covers_only_requests_within_its_access()
    {
        Rule[] rules =
        [
            s_denyAll,
            new() { Allow = true, Type = "c", Major = 1, Minor = 11, Access = "rwm" },
            new() { Allow = false, Type = "c", Major = 1, Minor = 11, Access = "w" },
            new() { Allow = true, Type = "c", Major = 4, Minor = 1, Access = "r" },
        ];
        Assert.True(Allowed(rules, 'c', 1, 11, "r"));
        Assert.False(Allowed(rules, 'c', 1, 11, "w"));
        Assert.True(Allowed(rules, 'c', 4, 1, "r"));
        Assert.False(Allowed(rules, 'c', 4, 1, "rw"));
        Assert.False(Allowed(rules, 'c', 4, 2, "r"));
    }

    [Fact]
    public void Bad_types_are_refused() =>
        Assert.Throws<VmSandboxException>(() => DeviceFilter.Compile([new Rule { Allow = true, Type = "x", Access = "r" }]));

    /// <summary>runc's update.bats denies /dev/kmsg with access "rwa": runc drops the "a" and denies read and write.</summary>
    [Fact]
    public void Unknown_access_letters_are_ignored_as_runc_does()
    {
        Rule[] rules =
        [
            new() { Allow = true, Access = "rwm" },
            new() { Allow = false, Type = "c", Major = 1, Minor = 11, Access = "rwa" },
            new() { Allow = false, Type = "c", Major = 1, Minor = 3, Access = "xyz" },
        ];
        Assert.Equal(DeviceFilter.Access("rw"), DeviceFilter.Access("rwa"));
        Assert.False(Allowed(rules, 'c', 1, 11, "r"));
        Assert.False(Allowed(rules, 'c', 1, 11, "w"));
        Assert.True(Allowed(rules, 'c', 1, 11, "m"));
        Assert.True(Allowed(rules, 'c', 1, 3, "rw")); // a rule left with no access matches nothing
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void The_host_kernels_verifier_accepts_the_program(bool docker)
    {
        byte[] program = DeviceFilter.Compile(DeviceFilter.Effective(docker ? s_docker : null));
        SafeFd loaded;
        try
        {
            loaded = Bpf.LoadProgram(Bpf.BPF_PROG_TYPE_CGROUP_DEVICE, program, Bpf.BPF_CGROUP_DEVICE);
        }
        catch (VmSandboxException e) when (e.Errno == 1)
        {
            Assert.Skip($"bpf(2) is not permitted here ({e.Message}): the verifier check needs root with CAP_BPF");
            return;
        }
        loaded.Dispose(); // loaded, never attached
    }

    /// <summary>Interprets the instructions <see cref="DeviceFilter"/> emits over one bpf_cgroup_dev_ctx.</summary>
    private static ulong Run(byte[] program, uint type, uint major, uint minor, uint access)
    {
        uint[] ctx = [(access << 16) | type, major, minor];
        ulong[] r = new ulong[11];
        for (int pc = 0, steps = 0; steps < 10_000; steps++)
        {
            ReadOnlySpan<byte> i = program.AsSpan(pc * 8, 8);
            int dst = i[1] & 0xf, src = i[1] >> 4;
            short off = BinaryPrimitives.ReadInt16LittleEndian(i[2..]);
            int imm = BinaryPrimitives.ReadInt32LittleEndian(i[4..]);
            pc++;
            switch (i[0])
            {
                case 0x61: Assert.Equal(1, src); r[dst] = ctx[off / 4]; break;
                case 0xbc: r[dst] = (uint)r[src]; break;
                case 0x54: r[dst] = (uint)r[dst] & (uint)imm; break;
                case 0x74: r[dst] = (uint)r[dst] >> imm; break;
                case 0x55: if (r[dst] != (ulong)(long)imm) { pc += off; } break;
                case 0x5d: if (r[dst] != r[src]) { pc += off; } break;
                case 0xb7: r[dst] = (ulong)(long)imm; break;
                case 0x95: return r[0];
                default: throw new InvalidOperationException($"unexpected opcode 0x{i[0]:x2} at {pc - 1}");
            }
        }
        throw new InvalidOperationException("no exit");
    }
}
