using System.Runtime.InteropServices;

namespace VmSandbox.Bench;

/// <summary>
/// What the bench must undo (a dockerd, containers, temp dirs), undone on the normal path by the
/// `using` that registered it, and on SIGINT or SIGTERM by the handler here, newest first, before
/// the process exits: a bench stopped by hand leaves nothing running on a shared machine.
/// </summary>
internal static class Teardown
{
    private static readonly List<Entry> s_entries = [];
    private static readonly List<PosixSignalRegistration> s_signals = [];

    /// <summary>Runs the registered undo actions on SIGINT and SIGTERM, then exits 130.</summary>
    public static void OnSignals()
    {
        foreach (PosixSignal signal in new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM })
        {
            s_signals.Add(PosixSignalRegistration.Create(signal, context =>
            {
                context.Cancel = true;
                Console.Error.WriteLine($"bench: {context.Signal}: cleaning up");
                RunAll();
                Environment.Exit(130);
            }));
        }
    }

    /// <summary>Registers <paramref name="undo"/>; disposing the result runs it once (and unregisters it).</summary>
    public static IDisposable Register(string what, Action undo)
    {
        var entry = new Entry(what, undo);
        lock (s_entries)
        {
            s_entries.Add(entry);
        }
        return entry;
    }

    private static void RunAll()
    {
        Entry[] entries;
        lock (s_entries)
        {
            entries = [.. s_entries];
        }
        foreach (Entry e in entries.Reverse())
        {
            e.Dispose();
        }
    }

    private sealed class Entry(string what, Action undo) : IDisposable
    {
        private int _done;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) != 0)
            {
                return;
            }
            lock (s_entries)
            {
                s_entries.Remove(this);
            }
            try
            {
                undo();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException)
            {
                Console.Error.WriteLine($"bench: clean up {what}: {e.Message}");
            }
        }
    }
}
