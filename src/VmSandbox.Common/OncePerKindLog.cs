using System.Collections.Concurrent;

namespace VmSandbox.Common;

/// <summary>
/// Reports the first failure of each kind and counts the rest, so that a peer failing on every
/// request (a dead name server, a guest flooding) cannot flood the log. Kinds are fixed strings
/// chosen by the caller, so the set stays small.
/// </summary>
public sealed class OncePerKindLog
{
    private readonly Action<string> _log;
    private readonly string _context;
    private readonly ConcurrentDictionary<string, long> _counts = new(StringComparer.Ordinal);

    public OncePerKindLog(Action<string> log, string context)
    {
        _log = log;
        _context = context;
    }

    /// <summary>How often <paramref name="kind"/> happened so far.</summary>
    public long Count(string kind) => _counts.TryGetValue(kind, out long n) ? n : 0;

    /// <summary>Logs "context: message" the first time <paramref name="kind"/> happens.</summary>
    public void Report(string kind, string message)
    {
        if (_counts.AddOrUpdate(kind, 1, (_, n) => n + 1) == 1)
        {
            try
            {
                _log($"{_context}: {message} (further '{kind}' failures are not logged)");
            }
            catch (Exception)
            {
                // A failing log sink must not take the relay down with it.
            }
        }
    }
}
