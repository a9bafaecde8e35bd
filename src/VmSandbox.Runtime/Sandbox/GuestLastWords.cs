using System.Text;

namespace VmSandbox.Runtime.Sandbox;

/// <summary>
/// Why a guest that ended under its container died, from the end of its console: the agent's
/// fatal line or the kernel's panic line (a dead PID 1 panics it too). The console is guest-written:
/// only its last <see cref="TailBytes"/> are read and only printable characters are kept.
/// </summary>
public static class GuestLastWords
{
    public const int TailBytes = 64 * 1024;
    private const string PanicMarker = "Kernel panic - not syncing:";

    /// <summary>"the agent failed: …" and/or "the guest kernel panicked: …", or null when the console says neither.</summary>
    public static string? Read(string consoleLogPath)
    {
        string tail;
        try
        {
            using var fs = new FileStream(consoleLogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            fs.Seek(Math.Max(0, fs.Length - TailBytes), SeekOrigin.Begin);
            byte[] buffer = new byte[TailBytes];
            int length = fs.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
            tail = Encoding.UTF8.GetString(buffer, 0, length);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        string? fatal = null, panic = null;
        foreach (string line in tail.Split('\n'))
        {
            int at = line.IndexOf(AgentReadiness.FatalPrefix, StringComparison.Ordinal);
            if (at >= 0)
            {
                fatal ??= AgentReadinessWatcher.Sanitize(line[(at + AgentReadiness.FatalPrefix.Length)..]);
            }
            at = line.IndexOf(PanicMarker, StringComparison.Ordinal);
            if (at >= 0)
            {
                panic ??= AgentReadinessWatcher.Sanitize(line[(at + PanicMarker.Length)..]);
            }
        }
        var words = new List<string>();
        if (fatal is not null)
        {
            words.Add($"the agent failed: {Bounded(fatal)}");
        }
        if (panic is not null)
        {
            words.Add($"the guest kernel panicked: {Bounded(panic)}");
        }
        return words.Count == 0 ? null : string.Join("; ", words);
    }

    private static string Bounded(string s) => s.Length <= 200 ? s : s[..200] + "…";
}
