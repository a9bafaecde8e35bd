using System.Text;

namespace VmSandbox.Runtime.Sandbox;

/// <summary>
/// Keeps the VM's console log (QEMU's serial chardev file, guest-written) from growing without
/// bound: a guest that floods its console (a privileged container writing /dev/kmsg, a kernel
/// warning in a loop) would otherwise fill the run directory, which is on tmpfs, that is host
/// memory. QEMU opens the file with append=on (O_APPEND), so cutting it here is safe: its next
/// write lands at the new end. A cut keeps the last <see cref="KeepBytes"/> (the newest lines say
/// what the guest did last) after one marker line; bytes QEMU appends while the cut runs may be lost.
/// </summary>
public static class ConsoleLogCap
{
    /// <summary>The console log is cut once it is larger than this.</summary>
    public const long LimitBytes = 1 << 20;

    /// <summary>What a cut keeps: the end of the log.</summary>
    public const int KeepBytes = 256 << 10;

    /// <summary>How often the monitor looks: the log grows by at most the guest's console rate in this time past the limit.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    public const string Marker = "[vmsandbox: console log cut; older output dropped]\n";

    /// <summary>Cuts <paramref name="path"/> to its last <paramref name="keep"/> bytes when it is over <paramref name="limit"/>; whether it did.</summary>
    public static bool Trim(string path, long limit = LimitBytes, int keep = KeepBytes)
    {
        try
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
            long length = file.Length;
            if (length <= limit)
            {
                return false;
            }
            int take = (int)Math.Min(keep, length);
            byte[] tail = new byte[take];
            file.Position = length - take;
            file.ReadExactly(tail);
            // Start at a line: the cut never leaves half a line after the marker.
            int newline = Array.IndexOf(tail, (byte)'\n');
            int from = newline >= 0 && newline < take - 1 ? newline + 1 : 0;
            file.SetLength(0);
            file.Position = 0;
            file.Write(Encoding.ASCII.GetBytes(Marker));
            file.Write(tail, from, take - from);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false; // gone (the VM is being removed) or unreadable: nothing to cut
        }
    }

    /// <summary>Cuts the log every <see cref="Interval"/> until <paramref name="ct"/> ends; <paramref name="log"/> hears of the first cut.</summary>
    public static async Task WatchAsync(string path, Action<string> log, CancellationToken ct)
    {
        bool told = false;
        try
        {
            while (true)
            {
                await Task.Delay(Interval, ct).ConfigureAwait(false);
                if (Trim(path) && !told)
                {
                    told = true;
                    log($"console log {path} passed {LimitBytes >> 10} KiB: cut to its last {KeepBytes >> 10} KiB (and again whenever it passes the limit)");
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
