using System.Collections.Frozen;

namespace VmSandbox.Oci;

/// <summary>RLIMIT_* names (asm-generic/resource.h, as on x86_64) and their numbers, RLIMIT_CPU = 0 … RLIMIT_RTTIME = 15.</summary>
public static class RlimitNames
{
    /// <summary>All names, index = resource number.</summary>
    public static readonly IReadOnlyList<string> All =
    [
        "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_CORE", "RLIMIT_RSS", "RLIMIT_NPROC",
        "RLIMIT_NOFILE", "RLIMIT_MEMLOCK", "RLIMIT_AS", "RLIMIT_LOCKS", "RLIMIT_SIGPENDING", "RLIMIT_MSGQUEUE",
        "RLIMIT_NICE", "RLIMIT_RTPRIO", "RLIMIT_RTTIME",
    ];

    /// <summary>RLIM_INFINITY: an rlimit of "unlimited".</summary>
    public const ulong Infinity = ulong.MaxValue;

    private static readonly FrozenDictionary<string, int> s_byName =
        All.Select((name, i) => KeyValuePair.Create(name, i)).ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>The number of <paramref name="name"/> ("RLIMIT_NOFILE" → 7); names are exact, upper case, as in runc.</summary>
    public static bool TryGetNumber(string name, out int number) => s_byName.TryGetValue(name, out number);

    /// <summary>The name of resource <paramref name="number"/>, or null if out of range.</summary>
    public static string? NameOf(int number) => number >= 0 && number < All.Count ? All[number] : null;
}
