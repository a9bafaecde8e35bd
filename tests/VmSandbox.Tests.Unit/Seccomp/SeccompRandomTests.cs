using VmSandbox.Common;
using VmSandbox.Interop;
using VmSandbox.Oci.Spec;
using VmSandbox.Seccomp;
using Xunit;

namespace VmSandbox.Tests.Unit.Seccomp;

/// <summary>
/// Property test: random profiles (many rules on few syscalls, so blocks outgrow u8 jumps),
/// compiled and run through the interpreter, must agree with a direct reading of the profile.
/// </summary>
public sealed class SeccompRandomTests
{
    private static readonly string[] s_ops =
        ["SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"];

    private static readonly ulong[] s_values =
        [0, 1, 2, 0xff, 0xffff_ffff, 0x1_0000_0000, 0x1_0000_00ff, 0x8000_0000_0000_0000, ulong.MaxValue];

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    public void Compiled_programs_agree_with_the_profile(int seed)
    {
        var rng = new Random(seed);
        string[] names = SyscallTable.Entries.Where(e => e.Abi == SyscallAbi.Common).Select(e => e.Name)
            .OrderBy(_ => rng.Next()).Take(3 + rng.Next(40)).ToArray();
        var rules = new List<LinuxSeccomp.Syscall>();
        int count = 20 + rng.Next(500);
        for (int i = 0; i < count; i++)
        {
            var args = new List<LinuxSeccomp.Arg>();
            int argCount = rng.Next(4);
            for (int a = 0; a < argCount; a++)
            {
                args.Add(new LinuxSeccomp.Arg { Index = (uint)rng.Next(6), Op = s_ops[rng.Next(s_ops.Length)], Value = Pick(rng), ValueTwo = Pick(rng) });
            }
            (string action, uint? errno) = rng.Next(5) switch
            {
                0 => ("SCMP_ACT_ALLOW", (uint?)null),
                1 => ("SCMP_ACT_LOG", null),
                2 => ("SCMP_ACT_TRAP", null),
                _ => ("SCMP_ACT_ERRNO", (uint?)rng.Next(1, 9)),
            };
            rules.Add(new LinuxSeccomp.Syscall { Names = [names[rng.Next(names.Length)]], Action = action, ErrnoRet = errno, Args = args });
        }
        var profile = new LinuxSeccomp
        {
            DefaultAction = "SCMP_ACT_KILL_PROCESS",
            Architectures = rng.Next(2) == 0 ? ["SCMP_ARCH_X86_64"] : ["SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_X86"],
            Syscalls = rules,
        };
        SockFilter[] program;
        try
        {
            program = SeccompCompiler.Compile(profile);
        }
        catch (VmSandboxException e) when (e.Message.Contains("kernel's limit", StringComparison.Ordinal))
        {
            Assert.True(count > 300, e.Message);
            return;
        }
        BpfInterpreter.Validate(program);
        TestContext.Current.TestOutputHelper?.WriteLine($"{count} rules on {names.Length} syscalls: {program.Length} instructions");
        bool compat = profile.Architectures.Count == 3;
        for (int i = 0; i < 1000; i++)
        {
            string name = names[rng.Next(names.Length)];
            SyscallTable.TryGetNative(name, out int nr);
            ulong[] args = Enumerable.Range(0, 6).Select(_ => Pick(rng) + (ulong)(rng.Next(3) - 1)).ToArray();
            uint expected = Evaluate(profile, name, args);
            Assert.Equal(expected, BpfInterpreter.Run(program, SeccompData.X86_64((uint)nr, args)));
            uint compatExpected = compat ? expected : SeccompCompiler.BadArchAction;
            Assert.Equal(compatExpected, BpfInterpreter.Run(program, SeccompData.X86_64(SeccompCalls.__X32_SYSCALL_BIT | (uint)nr, args)));
            if (SyscallTable.TryGetI386(name, out int i386Nr))
            {
                var i386 = new SeccompData((uint)i386Nr, SeccompCalls.AUDIT_ARCH_I386, args);
                Assert.Equal(compatExpected, BpfInterpreter.Run(program, i386));
            }
        }
    }

    private static ulong Pick(Random rng) => s_values[rng.Next(s_values.Length)];

    /// <summary>
    /// The documented semantics: argument rules in order (their conditions AND-ed, OR-ed when one
    /// argument is tested twice), then the first plain rule, then the default.
    /// </summary>
    private static uint Evaluate(LinuxSeccomp profile, string name, ulong[] args)
    {
        LinuxSeccomp.Syscall[] rules = (profile.Syscalls ?? []).Where(r => r.Names!.Contains(name)).ToArray();
        foreach (LinuxSeccomp.Syscall rule in rules.Where(r => r.Args is { Count: > 0 }))
        {
            IReadOnlyList<LinuxSeccomp.Arg> conditions = rule.Args!;
            bool anded = conditions.DistinctBy(a => a.Index).Count() == conditions.Count;
            if (anded ? conditions.All(a => Holds(a, args[a.Index])) : conditions.Any(a => Holds(a, args[a.Index])))
            {
                return ActionOf(rule);
            }
        }
        LinuxSeccomp.Syscall? plain = rules.FirstOrDefault(r => r.Args is not { Count: > 0 });
        return plain is null ? SeccompCalls.SECCOMP_RET_KILL_PROCESS : ActionOf(plain);
    }

    private static uint ActionOf(LinuxSeccomp.Syscall rule) => rule.Action switch
    {
        "SCMP_ACT_ALLOW" => SeccompCalls.SECCOMP_RET_ALLOW,
        "SCMP_ACT_LOG" => SeccompCalls.SECCOMP_RET_LOG,
        "SCMP_ACT_TRAP" => SeccompCalls.SECCOMP_RET_TRAP,
        _ => SeccompCalls.SECCOMP_RET_ERRNO | rule.ErrnoRet!.Value,
    };

    private static bool Holds(LinuxSeccomp.Arg a, ulong arg) => a.Op switch
    {
        "SCMP_CMP_NE" => arg != a.Value,
        "SCMP_CMP_LT" => arg < a.Value,
        "SCMP_CMP_LE" => arg <= a.Value,
        "SCMP_CMP_EQ" => arg == a.Value,
        "SCMP_CMP_GE" => arg >= a.Value,
        "SCMP_CMP_GT" => arg > a.Value,
        _ => (arg & a.Value) == a.ValueTwo,
    };
}
