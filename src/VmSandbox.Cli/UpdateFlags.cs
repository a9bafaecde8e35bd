using System.Globalization;
using VmSandbox.Common;
using VmSandbox.Oci.Spec;

namespace VmSandbox.Cli;

/// <summary>
/// runc update's per-limit flags (<c>--memory 10M --pids-limit 30 --cpuset-cpus 0</c> …) as a
/// partial <see cref="LinuxResources"/>: only what a flag names is set, and the guest changes only
/// that. Sizes take Docker's units (k, m, g, t, p; powers of 1024); memory and swap take -1 for
/// unlimited.
/// </summary>
public static class UpdateFlags
{
    /// <summary>The value flags, for <see cref="VerbArgs.Parse"/>.</summary>
    public static readonly string[] Names =
    [
        "blkio-weight", "cpu-period", "cpu-quota", "cpu-share", "cpu-rt-period", "cpu-rt-runtime",
        "cpuset-cpus", "cpuset-mems", "kernel-memory", "kernel-memory-tcp", "memory",
        "memory-reservation", "memory-swap", "pids-limit", "l3-cache-schema", "mem-bw-schema",
    ];

    /// <summary>The resources the flags name, or null when none was given.</summary>
    public static LinuxResources? Parse(VerbArgs args)
    {
        if (!Names.Any(n => args.Value(n) is not null))
        {
            return null;
        }
        foreach (string rdt in (string[])["l3-cache-schema", "mem-bw-schema"])
        {
            if (args.Value(rdt) is not null)
            {
                throw new VmSandboxException(ErrorCode.InvalidArgument, $"update: --{rdt}: Intel RDT is not available in the guest");
            }
        }
        LinuxResources.MemoryLimits? memory = null;
        if (AnyOf(args, "memory", "memory-reservation", "memory-swap", "kernel-memory", "kernel-memory-tcp"))
        {
            memory = new LinuxResources.MemoryLimits
            {
                Limit = Size(args, "memory"),
                Reservation = Size(args, "memory-reservation"),
                Swap = Size(args, "memory-swap"),
                Kernel = Size(args, "kernel-memory"),
                KernelTcp = Size(args, "kernel-memory-tcp"),
            };
        }
        LinuxResources.CpuLimits? cpu = null;
        if (AnyOf(args, "cpu-period", "cpu-quota", "cpu-share", "cpu-rt-period", "cpu-rt-runtime", "cpuset-cpus", "cpuset-mems"))
        {
            cpu = new LinuxResources.CpuLimits
            {
                Period = Unsigned(args, "cpu-period"),
                Quota = Signed(args, "cpu-quota"),
                Shares = Unsigned(args, "cpu-share"),
                RealtimePeriod = Unsigned(args, "cpu-rt-period"),
                RealtimeRuntime = Signed(args, "cpu-rt-runtime"),
                Cpus = args.Value("cpuset-cpus"),
                Mems = args.Value("cpuset-mems"),
            };
        }
        ulong? weight = Unsigned(args, "blkio-weight");
        if (weight > ushort.MaxValue)
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, $"update: --blkio-weight {weight}: out of range");
        }
        return new LinuxResources
        {
            Memory = memory,
            Cpu = cpu,
            Pids = Signed(args, "pids-limit") is { } pids ? new LinuxResources.PidsLimit { Limit = pids } : null,
            BlockIo = weight is { } w ? new LinuxBlockIo { Weight = (ushort)w } : null,
        };
    }

    /// <summary>Docker's RAMInBytes: "512", "10k", "64m", "1g", "2GiB" (powers of 1024); -1 stays -1 (unlimited).</summary>
    public static long ParseBytes(string text, string flag)
    {
        string t = text.Trim();
        if (t == "-1")
        {
            return -1;
        }
        int end = 0;
        while (end < t.Length && (char.IsAsciiDigit(t[end]) || t[end] == '.'))
        {
            end++;
        }
        string unit = t[end..].ToLowerInvariant();
        int power = unit switch
        {
            "" or "b" => 0,
            "k" or "kb" or "kib" => 1,
            "m" or "mb" or "mib" => 2,
            "g" or "gb" or "gib" => 3,
            "t" or "tb" or "tib" => 4,
            "p" or "pb" or "pib" => 5,
            _ => -1,
        };
        if (power < 0 || !decimal.TryParse(t[..end], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out decimal value))
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, $"update: invalid value for {flag}: invalid size: '{text}'");
        }
        decimal bytes = value;
        for (int i = 0; i < power; i++)
        {
            bytes *= 1024;
            if (bytes > long.MaxValue)
            {
                throw new VmSandboxException(ErrorCode.InvalidArgument, $"update: invalid value for {flag}: '{text}' is too large");
            }
        }
        return (long)bytes;
    }

    private static bool AnyOf(VerbArgs args, params string[] flags) => flags.Any(f => args.Value(f) is not null);

    private static long? Size(VerbArgs args, string flag) => args.Value(flag) is { } v ? ParseBytes(v, "--" + flag) : null;

    private static long? Signed(VerbArgs args, string flag) =>
        args.Value(flag) is not { } v ? null
        : long.TryParse(v, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long n) ? n
        : throw new VmSandboxException(ErrorCode.InvalidArgument, $"update: invalid value for --{flag}: '{v}' is not a number");

    private static ulong? Unsigned(VerbArgs args, string flag) =>
        args.Value(flag) is not { } v ? null
        : ulong.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out ulong n) ? n
        : throw new VmSandboxException(ErrorCode.InvalidArgument, $"update: invalid value for --{flag}: '{v}' is not a non-negative number");
}
