using System.Collections.Frozen;

namespace VmSandbox.Oci;

/// <summary>
/// Linux capability names (linux/capability.h) and their numbers, CAP_CHOWN = 0 …
/// CAP_CHECKPOINT_RESTORE = 40. Names are exact and upper case, as runc matches them.
/// runc compat: runc 1.1 warns "ignoring unknown or unavailable capabilities" and goes on, so
/// <see cref="SpecLoader"/> reports unknown names as warnings, not errors (a config written for a
/// newer kernel still starts).
/// </summary>
public static class CapabilityNames
{
    public const int LastCap = 40;

    /// <summary>All names, index = capability number.</summary>
    public static readonly IReadOnlyList<string> All =
    [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
        "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
        "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
        "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
        "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
        "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
        "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
    ];

    private static readonly FrozenDictionary<string, int> s_byName =
        All.Select((name, i) => KeyValuePair.Create(name, i)).ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>The number of <paramref name="name"/> ("CAP_KILL" → 5), or false if unknown.</summary>
    public static bool TryGetNumber(string name, out int number) => s_byName.TryGetValue(name, out number);

    /// <summary>The name of capability <paramref name="number"/>, or null if out of range.</summary>
    public static string? NameOf(int number) => number is >= 0 and <= LastCap ? All[number] : null;

    /// <summary>The names in <paramref name="names"/> that are not known capabilities, in order, each once.</summary>
    public static IReadOnlyList<string> Unknown(IEnumerable<string>? names) =>
        names is null ? [] : names.Where(n => !s_byName.ContainsKey(n)).Distinct(StringComparer.Ordinal).ToList();

    /// <summary>The bit mask of the known names (unknown ones are skipped, as runc does).</summary>
    public static ulong ToMask(IEnumerable<string>? names)
    {
        ulong mask = 0;
        foreach (string name in names ?? [])
        {
            if (s_byName.TryGetValue(name, out int n))
            {
                mask |= 1UL << n;
            }
        }
        return mask;
    }
}
