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
        using ConsolePty? console = request.ConsoleSocket is null ? null : ConsoleSetup.SendNewPty(request.ConsoleSocket, process.ConsoleSize);
        if (process.Terminal && console is null && process.ConsoleSize is null && ExecSession.CallerTerminalSize() is { } size)
        {
            // The caller's own terminal: the guest's pty starts at its size (the exec runs at once).
            process = process with { ConsoleSize = new ProcessSpec.Box { Height = size.Rows, Width = size.Columns } };
        }
        byte[] json = ExecSession.Serialize(process);
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
            return ExecSession.RunAsync(Record, json, process.Terminal, console?.PeerPath, Started, _rt.Log.Debug, relay: false, CancellationToken.None).GetAwaiter().GetResult();
        }

        string processFile = Path.Combine(_rt.Store.DirOf(Id), $"exec-{Guid.NewGuid():N}.json");
        File.WriteAllBytes(processFile, json);
        (IHelperProcess relay, _) = _rt.Host.Launch(new HelperLaunch(ExecRelay.Verb, ["--process", processFile], Id, console?.PeerPath,
            Path.Combine(Record.RunDir, $"exec-{Environment.ProcessId}.sock"), TimeSpan.FromSeconds(90), "exec relay"));
        using (relay)
        {
            if (request.PidFile is not null)
            {
                PidFile.Write(request.PidFile, relay.Pid);
            }
        }
        return ExitCodes.Success;
    }
}
