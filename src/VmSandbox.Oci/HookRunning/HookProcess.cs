using System.Buffers;
using System.Diagnostics;
using System.Text;
using VmSandbox.Common;
using VmSandbox.Interop;

namespace VmSandbox.Oci.HookRunning;

/// <summary>
/// Runs one hook process the way runc's <c>configs.Command.Run</c> does (exec.Cmd with Path, Args,
/// Env, the state on stdin, stdout and stderr captured, killed after the timeout), in a single
/// poll(2) loop over the stdin, stdout and stderr pipes and a pidfd: no threads, and no deadlock
/// when the hook writes a lot before reading, or exits without reading its stdin (EPIPE is
/// ignored, as Go's stdin copier does).
/// </summary>
internal static class HookProcess
{
    /// <summary>Output kept per stream; the rest is read and dropped so the hook never blocks on a full pipe.</summary>
    public const int MaxCapture = 1 << 20;

    private const int SIGKILL = 9;
    private const int EPIPE = 32;
    private const int StdinSlot = 0;
    private const int StdoutSlot = 1;
    private const int StderrSlot = 2;
    private const int PidSlot = 3;

    /// <param name="exitGrace">
    /// How long to wait for end of file on stdout/stderr once the hook has exited: a daemon it
    /// started may hold them open forever (runc would hang there; Go's WaitDelay has the same idea).
    /// </param>
    public static HookProcessResult Run(string path, IReadOnlyList<string> argv, IReadOnlyList<string> env,
        ReadOnlySpan<byte> stdin, TimeSpan? timeout, TimeSpan exitGrace)
    {
        var (stdinRead, stdinWrite) = Pipe.Create();
        var (stdoutRead, stdoutWrite) = Pipe.Create();
        var (stderrRead, stderrWrite) = Pipe.Create();
        SafeFd?[] fds = [stdinWrite, stdoutRead, stderrRead, null];
        try
        {
            int pid;
            using (stdinRead)
            using (stdoutWrite)
            using (stderrWrite)
            {
                // Own process group: a timeout kills whatever the hook started too.
                pid = Spawn.Start(path, argv, env, [stdinRead, stdoutWrite, stderrWrite], SpawnFlags.NewProcessGroup | SpawnFlags.CloseOtherFds);
            }
            // Our copies of the child's ends are closed now: EOF and EPIPE can happen.
            using SafeFd pidfd = PidFd.Open(pid);
            fds[PidSlot] = pidfd;
            foreach (SafeFd? fd in fds.AsSpan(0, 3))
            {
                Pipe.SetNonBlocking(fd!);
            }
            var stdout = new Capture();
            var stderr = new Capture();
            int written = 0;
            if (stdin.IsEmpty)
            {
                Close(fds, StdinSlot);
            }
            long start = Stopwatch.GetTimestamp();
            long? exitedAt = null;
            ChildExit? exit = null;
            Span<short> events = [Poll.Out, Poll.In, Poll.In, Poll.In];
            Span<short> revents = stackalloc short[4];
            Span<byte> buffer = stackalloc byte[16384];
            while (true)
            {
                if (exit is not null && fds[StdoutSlot] is null && fds[StderrSlot] is null)
                {
                    break;
                }
                int waitMs = -1;
                if (exitedAt is { } t)
                {
                    waitMs = Remaining(t, exitGrace);
                    if (waitMs == 0)
                    {
                        break;
                    }
                }
                else if (timeout is { } limit)
                {
                    waitMs = Remaining(start, limit);
                    if (waitMs == 0)
                    {
                        Spawn.KillProcessGroup(pid, SIGKILL);
                        _ = PidFd.Wait(pidfd, block: true);
                        return new HookProcessResult(null, stdout.Text, stderr.Text);
                    }
                }
                if (Poll.Wait(fds, events, revents, waitMs) == 0)
                {
                    continue;
                }
                if (revents[StdinSlot] != 0)
                {
                    written += WriteStdin(fds, stdin[written..]);
                    if (written == stdin.Length)
                    {
                        Close(fds, StdinSlot);
                    }
                }
                Drain(fds, StdoutSlot, revents[StdoutSlot], stdout, buffer);
                Drain(fds, StderrSlot, revents[StderrSlot], stderr, buffer);
                if (revents[PidSlot] != 0 && exit is null)
                {
                    exit = PidFd.Wait(pidfd, block: true);
                    exitedAt = Stopwatch.GetTimestamp();
                    fds[PidSlot] = null;
                    // Nobody will read stdin any more.
                    Close(fds, StdinSlot);
                }
            }
            return new HookProcessResult(exit, stdout.Text, stderr.Text);
        }
        finally
        {
            for (int i = 0; i < 3; i++)
            {
                fds[i]?.Dispose();
            }
        }
    }

    private static int WriteStdin(SafeFd?[] fds, ReadOnlySpan<byte> rest)
    {
        try
        {
            return Pipe.Write(fds[StdinSlot]!, rest);
        }
        catch (VmSandboxException e) when (e.Errno == EPIPE)
        {
            // EPIPE: the hook exited or closed stdin without reading it all. runc ignores this too
            // (exec.Cmd's stdin copier swallows EPIPE). Pretend it was written.
            return rest.Length;
        }
    }

    private static void Drain(SafeFd?[] fds, int slot, short revents, Capture capture, Span<byte> buffer)
    {
        if (revents == 0 || fds[slot] is not { } fd)
        {
            return;
        }
        while (true)
        {
            int n = Pipe.Read(fd, buffer);
            if (n < 0)
            {
                return;
            }
            if (n == 0)
            {
                Close(fds, slot);
                return;
            }
            capture.Add(buffer[..n]);
        }
    }

    private static void Close(SafeFd?[] fds, int slot)
    {
        fds[slot]?.Dispose();
        fds[slot] = null;
    }

    private static int Remaining(long since, TimeSpan limit)
    {
        TimeSpan left = limit - Stopwatch.GetElapsedTime(since);
        return left <= TimeSpan.Zero ? 0 : (int)Math.Min(int.MaxValue, Math.Ceiling(left.TotalMilliseconds));
    }

    /// <summary>Collects up to <see cref="MaxCapture"/> bytes of one stream.</summary>
    private sealed class Capture
    {
        private readonly ArrayBufferWriter<byte> _bytes = new();
        private bool _truncated;

        public string Text => Encoding.UTF8.GetString(_bytes.WrittenSpan) + (_truncated ? "[truncated]" : "");

        public void Add(ReadOnlySpan<byte> data)
        {
            int room = MaxCapture - _bytes.WrittenCount;
            _bytes.Write(data[..Math.Min(room, data.Length)]);
            _truncated |= data.Length > room;
        }
    }
}
