using System.Diagnostics;
using System.Globalization;
using System.Text;
using VmSandbox.Interop;

namespace VmSandbox.Runtime;

/// <summary>
/// <c>diagnostics.phaseLog</c> (off by default): each step of a container's life appends one line
/// "ID PHASE MICROSECONDS" to that file, the time on CLOCK_MONOTONIC, which every process on the
/// host shares, so that the steps of the CLI calls, the monitor and the guest line up with each
/// other and with the caller's own clock (<c>make bench</c>'s phase breakdown of `docker run`).
/// One write(2) per line on an O_APPEND descriptor: lines from several processes do not mix. A
/// failed write is dropped; timing never fails a container.
/// </summary>
public static class PhaseLog
{
    /// <summary>The phases in the order a container goes through them (<c>docs/performance.md</c> names them).</summary>
    public static readonly string[] Phases =
    [
        "create", "monitor", "hooked", "qemu-up", "kernel", "init", "agent-ready", "agent-checked", "pool-claimed", "network-synced",
        "create-sent", "guest-created", "created",
        "start", "running", "exited", "vm-gone", "delete", "deleted",
    ];

    /// <summary>Now on the shared clock, in microseconds.</summary>
    public static long Now() => ToMicroseconds(Stopwatch.GetTimestamp());

    public static long ToMicroseconds(long stopwatchTicks) => (long)(stopwatchTicks * (1_000_000.0 / Stopwatch.Frequency));

    public static void Mark(string? path, string id, string phase) => Mark(path, id, phase, Now());

    public static void Mark(string? path, string id, string phase, long microseconds)
    {
        if (string.IsNullOrEmpty(path))
        {
            return;
        }
        try
        {
            using SafeFd fd = SafeFd.Open(path, FileSystemCalls.O_WRONLY | FileSystemCalls.O_APPEND | FileSystemCalls.O_CREAT | FileSystemCalls.O_CLOEXEC, 0x180 /* 0600 */);
            using var stream = RawFdStream.OverDuplicate(fd.Fd);
            stream.Write(Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{id} {phase} {microseconds}\n")));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or Common.VmSandboxException)
        {
        }
    }

    /// <summary>Reads a phase log: per container, each phase's first time in microseconds.</summary>
    public static Dictionary<string, Dictionary<string, long>> Read(IEnumerable<string> lines)
    {
        var byId = new Dictionary<string, Dictionary<string, long>>(StringComparer.Ordinal);
        foreach (string line in lines)
        {
            string[] f = line.Split(' ');
            if (f.Length != 3 || !long.TryParse(f[2], NumberStyles.None, CultureInfo.InvariantCulture, out long us))
            {
                continue;
            }
            Dictionary<string, long> phases = byId.TryGetValue(f[0], out var p) ? p : byId[f[0]] = new(StringComparer.Ordinal);
            phases.TryAdd(f[1], us);
        }
        return byId;
    }
}
