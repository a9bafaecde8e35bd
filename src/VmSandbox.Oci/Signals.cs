using System.Collections.Frozen;
using System.Globalization;
using VmSandbox.Common;

namespace VmSandbox.Oci;

/// <summary>
/// Parses the signal argument of <c>kill</c> the way runc's <c>parseSignal</c> (kill.go) does: a
/// number, or a name upper-cased with "SIG" added when missing ("kill", "KILL", "SIGKILL",
/// "sigkill" → 9). Beyond runc: the aliases IOT, CLD, POLL and real-time names RTMIN, RTMIN+n,
/// RTMAX, RTMAX-n (glibc's SIGRTMIN = 34, as Docker's signal package uses). Also stricter than
/// runc: a number must be 0..64 (runc passes any integer to kill(2), which then fails with EINVAL).
/// </summary>
public static class Signals
{
    /// <summary>SIGRTMIN as glibc exposes it (the kernel's 32 and 33 are taken by the C library).</summary>
    public const int RtMin = 34;

    /// <summary>_NSIG - 1 on Linux.</summary>
    public const int RtMax = 64;

    private static readonly FrozenDictionary<string, int> s_byName = new (string Name, int Number)[]
    {
        ("SIGHUP", 1), ("SIGINT", 2), ("SIGQUIT", 3), ("SIGILL", 4), ("SIGTRAP", 5), ("SIGABRT", 6),
        ("SIGIOT", 6), ("SIGBUS", 7), ("SIGFPE", 8), ("SIGKILL", 9), ("SIGUSR1", 10), ("SIGSEGV", 11),
        ("SIGUSR2", 12), ("SIGPIPE", 13), ("SIGALRM", 14), ("SIGTERM", 15), ("SIGSTKFLT", 16), ("SIGCHLD", 17),
        ("SIGCLD", 17), ("SIGCONT", 18), ("SIGSTOP", 19), ("SIGTSTP", 20), ("SIGTTIN", 21), ("SIGTTOU", 22),
        ("SIGURG", 23), ("SIGXCPU", 24), ("SIGXFSZ", 25), ("SIGVTALRM", 26), ("SIGPROF", 27), ("SIGWINCH", 28),
        ("SIGIO", 29), ("SIGPOLL", 29), ("SIGPWR", 30), ("SIGSYS", 31),
    }.ToFrozenDictionary(e => e.Name, e => e.Number, StringComparer.Ordinal);

    /// <summary>Parses <paramref name="raw"/>; throws InvalidArgument "unknown signal \"X\"" as runc does.</summary>
    public static int Parse(string raw) =>
        TryParse(raw, out int signal) ? signal : throw new VmSandboxException(ErrorCode.InvalidArgument, $"unknown signal {MessageText.Quote(raw)}");

    public static bool TryParse(string? raw, out int signal)
    {
        signal = -1;
        if (string.IsNullOrEmpty(raw) || raw.Length > 32)
        {
            return false;
        }
        if (char.IsAsciiDigit(raw[0]))
        {
            return int.TryParse(raw, NumberStyles.None, CultureInfo.InvariantCulture, out signal) && signal <= RtMax
                || Fail(out signal);
        }
        string name = raw.ToUpperInvariant();
        if (!name.StartsWith("SIG", StringComparison.Ordinal))
        {
            name = "SIG" + name;
        }
        if (s_byName.TryGetValue(name, out signal))
        {
            return true;
        }
        return TryParseRealtime(name, out signal) || Fail(out signal);
    }

    /// <summary>The conventional name of <paramref name="signal"/> ("SIGKILL", "SIGRTMIN+3"), or null.</summary>
    public static string? NameOf(int signal)
    {
        if (signal is >= RtMin and <= RtMax)
        {
            return signal == RtMin ? "SIGRTMIN" : signal == RtMax ? "SIGRTMAX" : $"SIGRTMIN+{signal - RtMin}";
        }
        foreach (var (name, number) in s_byName)
        {
            if (number == signal && name is not ("SIGIOT" or "SIGCLD" or "SIGPOLL"))
            {
                return name;
            }
        }
        return null;
    }

    private static bool TryParseRealtime(string name, out int signal)
    {
        signal = -1;
        (string prefix, int sign, int base_) = name.StartsWith("SIGRTMIN", StringComparison.Ordinal) ? ("SIGRTMIN", 1, RtMin)
            : name.StartsWith("SIGRTMAX", StringComparison.Ordinal) ? ("SIGRTMAX", -1, RtMax)
            : ("", 0, 0);
        if (sign == 0)
        {
            return false;
        }
        string rest = name[prefix.Length..];
        if (rest.Length == 0)
        {
            signal = base_;
            return true;
        }
        char op = sign > 0 ? '+' : '-';
        if (rest[0] != op || !int.TryParse(rest.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out int offset)
            || offset > RtMax - RtMin)
        {
            return false;
        }
        signal = base_ + sign * offset;
        return true;
    }

    private static bool Fail(out int signal)
    {
        signal = -1;
        return false;
    }
}
