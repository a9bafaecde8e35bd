using VmSandbox.Interop;
using VmSandbox.Oci.Spec;

namespace VmSandbox.Seccomp;

/// <summary>
/// Compiles an OCI seccomp profile to a classic BPF program for x86_64 guests, the job
/// libseccomp does for runc. Layout (docs/seccomp.md): check seccomp_data.arch; load nr; split
/// native and x32 numbers (i386 has its own numbers); ENOSYS past the profile's last syscall
/// (runc's -ENOSYS stub); a binary search over the syscall numbers that have rules; one block per
/// distinct rule list testing arguments in profile order; the default action.
/// Collaborators: <see cref="SyscallTable"/> resolves names, <see cref="BpfEmitter"/> lays out
/// jumps, <see cref="SeccompFilter"/> installs the result.
/// </summary>
public static partial class SeccompCompiler
{
    /// <summary>libseccomp compat: the action for an arch the filter does not list (SCMP_ACT_KILL).</summary>
    public const uint BadArchAction = SeccompCalls.SECCOMP_RET_KILL_THREAD;

    // A search-tree leaf tests up to this many numbers one after the other.
    private const int LeafSize = 4;

    // Arches Docker's and other profiles name that never reach an x86_64 guest's filter: accepted
    // and ignored, so their calls fall to the bad-arch action like any unlisted arch.
    private static readonly HashSet<string> s_foreignArches = new(StringComparer.Ordinal)
    {
        "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64", "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64",
        "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32",
        "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64", "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390", "SCMP_ARCH_S390X",
        "SCMP_ARCH_PARISC", "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64", "SCMP_ARCH_LOONGARCH64",
    };

    /// <summary>
    /// Compiles <paramref name="profile"/>, the OCI spec's linux.seccomp as the OCI JSON reads it
    /// (absent lists are empty). Throws <see cref="VmSandbox.Common.VmSandboxException"/>
    /// (InvalidArgument) for unknown actions, operators, arches or flags, bad rules, or a program
    /// longer than BPF_MAXINSNS.
    /// </summary>
    public static SockFilter[] Compile(LinuxSeccomp profile)
    {
        uint defaultAction = SeccompActions.Resolve(profile.DefaultAction, profile.DefaultErrnoRet, "default action");
        (bool x86, bool x32) = ParseArches(profile.Architectures ?? []);
        _ = ParseFlags(profile.Flags);

        IReadOnlyList<LinuxSeccomp.Syscall> rules = profile.Syscalls ?? [];
        var compiled = new CompiledRule[rules.Count][];
        for (int i = 0; i < compiled.Length; i++)
        {
            compiled[i] = CompileRule(rules[i], $"syscall rule {i}");
        }

        // For each arch, the rules (by index, in profile order) that apply to each number. Names
        // unknown on an arch are skipped there, not an error (libseccomp/runc compat).
        var native = new SortedDictionary<uint, SortedSet<int>>();
        var x32Calls = new SortedDictionary<uint, SortedSet<int>>();
        var i386Calls = new SortedDictionary<uint, SortedSet<int>>();
        for (int i = 0; i < compiled.Length; i++)
        {
            foreach (string name in rules[i].Names!)
            {
                if (SyscallTable.TryGetNative(name, out int nr))
                {
                    Add(native, (uint)nr, i);
                }
                if (x32 && SyscallTable.TryGetX32(name, out uint x32Nr))
                {
                    Add(x32Calls, x32Nr, i);
                }
                if (x86 && SyscallTable.TryGetI386(name, out int i386Nr))
                {
                    Add(i386Calls, (uint)i386Nr, i);
                }
            }
        }

        var e = new BpfEmitter();
        BpfLabel fallback = BpfLabel.Return(defaultAction);
        BpfLabel badArch = BpfLabel.Return(BadArchAction);

        // Back to front: blocks (one per distinct rule list, shared across arches and numbers),
        // then the search trees that jump into them, then the arch dispatch.
        var blocks = new Dictionary<string, BpfLabel>(StringComparer.Ordinal);
        (uint, BpfLabel)[] nativeEntries = EmitBlocks(e, native, compiled, blocks, fallback);
        (uint, BpfLabel)[] x32Entries = EmitBlocks(e, x32Calls, compiled, blocks, fallback);
        (uint, BpfLabel)[] i386Entries = EmitBlocks(e, i386Calls, compiled, blocks, fallback);

        // Each arch's tree is entered through the -ENOSYS check (SeccompCompiler.Enosys.cs).
        bool enosys = EnosysStubApplies(defaultAction);
        BpfLabel x32Tree = x32 ? EmitEnosysCheck(e, enosys, x32Calls, EmitTree(e, x32Entries, fallback)) : badArch;
        BpfLabel nativeTree = EmitEnosysCheck(e, enosys, native, EmitTree(e, nativeEntries, fallback));
        // x86_64 and x32 share AUDIT_ARCH_X86_64; x32 numbers carry __X32_SYSCALL_BIT. libseccomp
        // sends every nr >= the bit to x32; runc's stub tests the bit alone (jset), so with the
        // stub numbers 0x80000000-0xbfffffff take the x86_64 side and get ENOSYS.
        ushort split = enosys && native.Count > 0 ? SeccompCalls.BPF_JSET : SeccompCalls.BPF_JGE;
        e.EmitJump(split, SeccompCalls.__X32_SYSCALL_BIT, x32Tree, nativeTree);
        BpfLabel nativeStart = e.EmitLoad(NrOffset);

        BpfLabel otherArch = badArch;
        if (x86)
        {
            e.FallThroughTo(EmitEnosysCheck(e, enosys, i386Calls, EmitTree(e, i386Entries, fallback)));
            BpfLabel i386Start = e.EmitLoad(NrOffset);
            otherArch = e.EmitJump(SeccompCalls.BPF_JEQ, SeccompCalls.AUDIT_ARCH_I386, i386Start, badArch);
        }
        e.EmitJump(SeccompCalls.BPF_JEQ, SeccompCalls.AUDIT_ARCH_X86_64, nativeStart, otherArch);
        e.EmitLoad(ArchOffset);

        if (e.Count > SeccompCalls.BPF_MAXINSNS)
        {
            throw SeccompActions.Invalid(
                $"program has {e.Count} instructions, more than the kernel's limit of {SeccompCalls.BPF_MAXINSNS}");
        }
        return e.ToProgram();
    }

    private static void Add(SortedDictionary<uint, SortedSet<int>> calls, uint nr, int rule)
    {
        if (!calls.TryGetValue(nr, out SortedSet<int>? set))
        {
            calls[nr] = set = [];
        }
        set.Add(rule);
    }

    /// <summary>Emits the blocks <paramref name="calls"/> needs that do not exist yet; returns (nr, block) sorted by nr.</summary>
    private static (uint, BpfLabel)[] EmitBlocks(
        BpfEmitter e, SortedDictionary<uint, SortedSet<int>> calls, CompiledRule[][] compiled,
        Dictionary<string, BpfLabel> blocks, BpfLabel fallback)
    {
        var entries = new (uint, BpfLabel)[calls.Count];
        int n = 0;
        foreach ((uint nr, SortedSet<int> rules) in calls)
        {
            string key = string.Join(',', rules);
            if (!blocks.TryGetValue(key, out BpfLabel block))
            {
                blocks[key] = block = EmitBlock(e, rules.SelectMany(r => compiled[r]).ToList(), fallback);
            }
            entries[n++] = (nr, block);
        }
        return entries;
    }

    /// <summary>The seccomp(2) flags <paramref name="flags"/> (linux.seccomp.flags) names.</summary>
    public static SeccompFilterFlags ParseFlags(IReadOnlyList<string>? flags)
    {
        var result = SeccompFilterFlags.None;
        foreach (string flag in flags ?? [])
        {
            result |= flag switch
            {
                "SECCOMP_FILTER_FLAG_TSYNC" => SeccompFilterFlags.Tsync,
                "SECCOMP_FILTER_FLAG_LOG" => SeccompFilterFlags.Log,
                "SECCOMP_FILTER_FLAG_SPEC_ALLOW" => SeccompFilterFlags.SpecAllow,
                "SECCOMP_FILTER_FLAG_NEW_LISTENER" => throw SeccompActions.Invalid($"flag {flag} is not supported"),
                _ => throw SeccompActions.Invalid($"unknown flag \"{flag}\""),
            };
        }
        return result;
    }

    private static (bool X86, bool X32) ParseArches(IReadOnlyList<string> arches)
    {
        bool x86 = false;
        bool x32 = false;
        foreach (string arch in arches)
        {
            switch (arch)
            {
                case "SCMP_ARCH_X86_64":
                case "SCMP_ARCH_NATIVE":
                    break;
                case "SCMP_ARCH_X86":
                    x86 = true;
                    break;
                case "SCMP_ARCH_X32":
                    x32 = true;
                    break;
                default:
                    if (!s_foreignArches.Contains(arch))
                    {
                        throw SeccompActions.Invalid($"unknown architecture \"{arch}\"");
                    }
                    break;
            }
        }
        return (x86, x32);
    }

    /// <summary>
    /// One profile rule as the rules it stands for: itself, or, when it tests one argument more
    /// than once, one rule per condition (runc compat, below).
    /// </summary>
    private static CompiledRule[] CompileRule(LinuxSeccomp.Syscall rule, string context)
    {
        if (rule.Names is not { Count: > 0 } || rule.Names.Any(string.IsNullOrEmpty))
        {
            throw SeccompActions.Invalid($"{context}: no syscall names");
        }
        uint action = SeccompActions.Resolve(rule.Action, rule.ErrnoRet, context);
        IReadOnlyList<LinuxSeccomp.Arg> args = rule.Args ?? [];
        var checks = new ArgCheck[args.Count];
        for (int i = 0; i < checks.Length; i++)
        {
            LinuxSeccomp.Arg arg = args[i];
            if (arg.Index > 5)
            {
                throw SeccompActions.Invalid($"{context}: argument index {arg.Index} out of range 0-5");
            }
            checks[i] = new ArgCheck((int)arg.Index, ParseOp(arg.Op, context), arg.Value, arg.ValueTwo);
        }
        // runc compat (libcontainer/seccomp's matchCall): when two conditions test the same
        // argument, every condition of the rule becomes a rule of its own, so they are OR-ed
        // ("fd == 100 or fd == 9001"), not AND-ed. runc's seccomp_syscall_test1 relies on it.
        if (checks.DistinctBy(c => c.Index).Count() < checks.Length)
        {
            return checks.Select(c => new CompiledRule([c], action)).ToArray();
        }
        return [new CompiledRule(checks, action)];
    }

    /// <summary>
    /// One syscall's rules: those with arguments in profile order (first match wins, checks
    /// AND-ed), then the first rule without arguments, else <paramref name="fallback"/>.
    /// </summary>
    private static BpfLabel EmitBlock(BpfEmitter e, List<CompiledRule> rules, BpfLabel fallback)
    {
        CompiledRule? unconditional = rules.FirstOrDefault(r => r.Checks.Length == 0);
        BpfLabel next = unconditional is null ? fallback : BpfLabel.Return(unconditional.Action);
        for (int i = rules.Count - 1; i >= 0; i--)
        {
            CompiledRule rule = rules[i];
            if (rule.Checks.Length == 0)
            {
                continue;
            }
            BpfLabel fail = next;
            BpfLabel pass = BpfLabel.Return(rule.Action);
            for (int c = rule.Checks.Length - 1; c >= 0; c--)
            {
                pass = EmitCheck(e, rule.Checks[c], pass, fail);
            }
            next = pass;
        }
        return next;
    }

    /// <summary>
    /// A binary search over sorted syscall numbers (A holds nr): BPF_JGE splits at the middle,
    /// leaves of up to <see cref="LeafSize"/> numbers test BPF_JEQ in turn, misses go to
    /// <paramref name="miss"/>. Depth is log2(n), about 9 jumps for Docker's profile.
    /// </summary>
    private static BpfLabel EmitTree(BpfEmitter e, ReadOnlySpan<(uint Nr, BpfLabel Block)> entries, BpfLabel miss)
    {
        if (entries.Length <= LeafSize)
        {
            BpfLabel next = miss;
            for (int i = entries.Length - 1; i >= 0; i--)
            {
                next = e.EmitJump(SeccompCalls.BPF_JEQ, entries[i].Nr, entries[i].Block, next);
            }
            return next;
        }
        int mid = entries.Length / 2;
        BpfLabel right = EmitTree(e, entries[mid..], miss);
        BpfLabel left = EmitTree(e, entries[..mid], miss);
        return e.EmitJump(SeccompCalls.BPF_JGE, entries[mid].Nr, right, left);
    }
}
