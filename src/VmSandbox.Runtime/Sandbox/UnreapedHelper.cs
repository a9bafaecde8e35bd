using VmSandbox.Common;
using VmSandbox.Interop;
using VmSandbox.Runtime.Containers;

namespace VmSandbox.Runtime.Sandbox;

/// <summary>
/// A helper this process starts and never reaps: the sandbox monitor and the exec relay of a CLI
/// call. Whoever ran us (conmon, containerd-shim-runc-v2) is a subreaper that waits for the PID we
/// hand it in --pid-file once we have exited, so the helper's exit status is theirs to collect.
/// .NET's <see cref="System.Diagnostics.Process"/> reaps its children as soon as they exit: a
/// detached exec of a quick command could end before `exec` itself did, and conmon then read no
/// status at all (podman exec exited 255). Its state is read through a pidfd with WNOWAIT.
/// </summary>
public sealed class UnreapedHelper : IHelperProcess
{
    private readonly SafeFd _pidfd;

    private UnreapedHelper(int pid, SafeFd pidfd)
    {
        Pid = pid;
        _pidfd = pidfd;
        StartTime = ProcessProbe.StartTime(pid) ?? 0;
    }

    /// <summary>
    /// Starts <c>EXE GLOBALARGS… VERB ARGS… [--tty P] ID</c> (<see cref="HelperProcess.Arguments"/>) with
    /// this process's stdio, or /dev/null when it has a tty (it must not hold the caller's stdout and
    /// stderr: go-runc reads them to EOF) and no other descriptor of ours.
    /// </summary>
    public static UnreapedHelper Start(string executable, IReadOnlyList<string> globalArgs, IReadOnlyList<string> verbArgs, string id, string? ttyPath)
    {
        List<string> argv = [executable, .. HelperProcess.Arguments(globalArgs, verbArgs, id, ttyPath)];
        List<string> env = Spawn.CurrentEnvironment();
        using var devNull = new SafeFd(ProcessCalls.OpenReadWrite("/dev/null"));
        ProcessCalls.SetCloseOnExec(devNull.Fd);
        Span<int> stdio = stackalloc int[3];
        for (int fd = 0; fd < 3; fd++)
        {
            // A caller that closed one of its own (a closed stdin) gives the helper /dev/null there.
            stdio[fd] = ttyPath is null && ProcessCalls.IsOpen(fd) ? fd : devNull.Fd;
        }
        int pid = Spawn.Start(executable, argv, env, stdio, SpawnFlags.CloseOtherFds);
        try
        {
            return new UnreapedHelper(pid, PidFd.Open(pid));
        }
        catch (VmSandboxException)
        {
            // Without a pidfd the helper cannot be watched: it goes now (it is our unreaped child,
            // so the PID cannot have been reused).
            _ = ProcessCalls.Kill(pid, 9);
            _ = ProcessCalls.WaitChild(pid, 0, out _);
            throw;
        }
    }

    public int Pid { get; }

    public ulong StartTime { get; }

    private ChildExit? _exit;

    /// <summary>
    /// Its exit, read and left for the reaper (or reaped here: then as it was seen); null while it
    /// runs. One reaped by someone else (a caller that ignores SIGCHLD has the kernel reap it) has
    /// exited with a status no one knows: 255.
    /// </summary>
    private ChildExit? Exit
    {
        get
        {
            try
            {
                return _exit ??= PidFd.Wait(_pidfd, block: false, keep: true);
            }
            catch (VmSandboxException e) when (e.Errno == ProcessCalls.ECHILD)
            {
                return _exit = new ChildExit(255, 0, false);
            }
        }
    }

    public bool HasExited => Exit is not null;

    /// <summary>The exit code, or 128 + the signal that killed it (as <see cref="System.Diagnostics.Process.ExitCode"/>).</summary>
    public int ExitCode => Exit is { } exit
        ? (exit.Signaled ? 128 + exit.Signal : exit.Code)
        : throw new InvalidOperationException($"helper {Pid} has not exited");

    public HelperStdio? Stdio => null;

    /// <summary>Waits, on a thread of its own, until the pidfd polls readable (the helper exited) or <paramref name="ct"/> is cancelled.</summary>
    public Task WaitForExitAsync(CancellationToken ct = default) => HasExited
        ? Task.CompletedTask
        : Task.Factory.StartNew(() =>
        {
            using SafeFd wake = EventFd.Create();
            using CancellationTokenRegistration registered = ct.Register(() => EventFd.Signal(wake));
            Span<short> revents = stackalloc short[2];
            while (!ct.IsCancellationRequested)
            {
                if (Poll.Wait([_pidfd, wake], [Poll.In, Poll.In], revents, -1) > 0 && (revents[0] & Poll.In) != 0)
                {
                    return;
                }
            }
            ct.ThrowIfCancellationRequested();
        }, ct, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private bool _reaped;

    /// <summary>SIGKILL through the pidfd unless it has exited, then reaps it; once reaped, its exit stays known.</summary>
    public void Abandon(TimeSpan exitWait)
    {
        if (_reaped)
        {
            return;
        }
        if (!HasExited)
        {
            _ = PidFd.SendSignal(_pidfd, 9);
        }
        if (WaitForExitAsync().Wait(exitWait) && HasExited)
        {
            _ = PidFd.Wait(_pidfd, block: false);
            _reaped = true;
        }
    }

    public void Dispose() => _pidfd.Dispose();
}
