using VmSandbox.Common;
using VmSandbox.Oci;
using VmSandbox.Oci.Spec;
using VmSandbox.Runtime.Terminal;

namespace VmSandbox.Runtime.Containers;

/// <summary>
/// One exec: the process from a --process file (<see cref="ProcessFile"/>) or from runc's flags
/// applied to the container's own process (<see cref="Flags"/>).
/// </summary>
public sealed record ExecRequest
{
    public string? ProcessFile { get; init; }
    public ExecFlags? Flags { get; init; }
    /// <summary>A relay process keeps the stdio and exits with the process's status; its PID goes to --pid-file.</summary>
    public bool Detach { get; init; }
    public string? ConsoleSocket { get; init; }
    public string? PidFile { get; init; }
    public bool IgnorePaused { get; init; }
    /// <summary>The agent's name for the process (<see cref="Container.SignalExec"/>); null: a random one.</summary>
    public string? ExecId { get; init; }
    /// <summary>Detached without a terminal: the relay's stdio are pipes the caller holds (<see cref="IHelperProcess.Stdio"/>).</summary>
    public bool PipeStdio { get; init; }
}

public sealed partial class Container
{
    /// <summary>
    /// Runs a process in the container's namespaces in the guest. In the foreground this process
    /// relays its stdio and returns its exit status; detached, a relay (<see cref="ExecRelay"/>)
    /// does, and this returns once the process runs.
    /// </summary>
    public int Exec(ExecRequest request)
    {
        (ProcessSpec process, ConsolePty? console) = PrepareExec(request);
        using (console)
        {
            if (!request.Detach)
            {
                // In the foreground this process is the relay: its PID stands for the exec'd process
                // (signals sent to it are forwarded), so that is what --pid-file gets, once it runs.
                void Started(int guestPid, Exception? error)
                {
                    if (error is null && request.PidFile is not null)
                    {
                        PidFile.Write(request.PidFile, Environment.ProcessId);
                    }
                }
                return ExecSession.RunAsync(Record, ExecSession.Serialize(process), process.Terminal, console?.PeerPath, Started, _rt.Log.Debug, relay: false, CancellationToken.None, request.ExecId).GetAwaiter().GetResult();
            }
            using IHelperProcess relay = LaunchRelay(request, process, console);
            if (request.PidFile is not null)
            {
                PidFile.Write(request.PidFile, relay.Pid);
            }
            return ExitCodes.Success;
        }
    }

    /// <summary>
    /// A detached exec whose relay the caller keeps: it exits with the process's status. The
    /// relay runs the process in the guest before this returns.
    /// </summary>
    public IHelperProcess ExecDetached(ExecRequest request)
    {
        (ProcessSpec process, ConsolePty? console) = PrepareExec(request with { Detach = true });
        using (console)
        {
            return LaunchRelay(request, process, console);
        }
    }

    /// <summary>A signal to a process exec'd with <see cref="ExecRequest.ExecId"/>.</summary>
    public void SignalExec(string execId, int signal)
    {
        ContainerRules.Check(ContainerOperation.Kill, Status, Id);
        _rt.Host.Agent(Record).SignalExec(execId, signal);
    }

    private (ProcessSpec Process, ConsolePty? Console) PrepareExec(ExecRequest request)
    {
        ContainerRules.Check(request.IgnorePaused ? ContainerOperation.ExecIgnorePaused : ContainerOperation.Exec, Status, Id);
        ProcessSpec process = request.ProcessFile is { } file
            ? ProcessLoader.Load(file, [])
            : ExecSession.FromFlags(Spec.Process ?? new ProcessSpec(), request.Flags ?? new ExecFlags([]));
        if (process.Terminal && request.Detach && request.ConsoleSocket is null)
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, "cannot allocate tty if runc will detach without setting console socket");
        }
        if (!process.Terminal && request.ConsoleSocket is not null)
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, "cannot use console socket if runc will not detach or allocate tty");
        }
        // Held open until the relay (this process, or the detached relay) has opened it too.
        ConsolePty? console = request.ConsoleSocket is null ? null : ConsoleSetup.SendNewPty(request.ConsoleSocket, process.ConsoleSize);
        if (process.Terminal && console is null && process.ConsoleSize is null && ExecSession.CallerTerminalSize() is { } size)
        {
            // The caller's own terminal: the guest's pty starts at its size (the exec runs at once).
            process = process with { ConsoleSize = new ProcessSpec.Box { Height = size.Rows, Width = size.Columns } };
        }
        return (process, console);
    }

    private IHelperProcess LaunchRelay(ExecRequest request, ProcessSpec process, ConsolePty? console)
    {
        string processFile = Path.Combine(_rt.Store.DirOf(Id), $"exec-{Guid.NewGuid():N}.json");
        File.WriteAllBytes(processFile, ExecSession.Serialize(process));
        List<string> args = ["--process", processFile];
        if (request.ExecId is not null)
        {
            args.AddRange(["--exec-id", request.ExecId]);
        }
        try
        {
            (IHelperProcess relay, _) = _rt.Host.Launch(new HelperLaunch(ExecRelay.Verb, args, Id, console?.PeerPath,
                Path.Combine(Record.RunDir, $"exec-{Guid.NewGuid():N}"[..21] + ".sock"), TimeSpan.FromSeconds(90), "exec relay")
            { PipeStdio = request.PipeStdio });
            return relay;
        }
        finally
        {
            File.Delete(processFile); // the relay deletes it once read; gone also when it never started
        }
    }
}
