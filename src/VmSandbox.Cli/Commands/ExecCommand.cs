using System.Diagnostics;
using VmSandbox.Common;
using VmSandbox.Oci;
using VmSandbox.Oci.Spec;
using VmSandbox.Oci.State;
using VmSandbox.Runtime.Containers;
using VmSandbox.Runtime.Terminal;

namespace VmSandbox.Cli.Commands;

/// <summary>
/// `vmsandbox exec [--process FILE | flags ID CMD…] [--detach --pid-file F] [--console-socket S]
/// [--tty] [--cwd D] [--env K=V]… [--user UID[:GID]] [--additional-gids G]… ID`: runs a process in
/// the container's namespaces in the guest and exits with its status. With --detach a relay
/// process (`__exec`) keeps the stdio and exits with the process's status; its PID goes to --pid-file.
/// </summary>
public static class ExecCommand
{
    public const string RelayVerb = "__exec";

    private static readonly string[] s_valueFlags = ["process|p", "pid-file", "console-socket", "cwd", "env|e", "user|u", "additional-gids|g", "preserve-fds", "process-label", "apparmor", "cap|c"];
    private static readonly string[] s_boolFlags = ["detach|d", "tty|t", "no-new-privs", "ignore-paused", "no-subreaper"];

    public static int Run(ArgReader reader, LifecycleContext ctx)
    {
        VerbArgs args = VerbArgs.Parse(reader, "exec", s_valueFlags, s_boolFlags);
        if (args.Positional.Count == 0)
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, "exec: container id cannot be empty");
        }
        string id = args.Positional[0];
        (ContainerRecord record, ContainerStatus status) = ctx.Get(id);
        switch (status)
        {
            case ContainerStatus.Stopped or ContainerStatus.Creating:
                throw new VmSandboxException(ErrorCode.FailedPrecondition, "cannot exec in a stopped container");
            case ContainerStatus.Paused when !args.Flag("ignore-paused"):
                throw new VmSandboxException(ErrorCode.FailedPrecondition, "cannot exec in a paused container");
        }
        ProcessSpec process = BuildProcess(ctx, id, args);
        bool detach = args.Flag("detach");
        string? consoleSocket = args.Value("console-socket");
        if (process.Terminal && detach && consoleSocket is null)
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, "cannot allocate tty if runc will detach without setting console socket");
        }
        if (!process.Terminal && consoleSocket is not null)
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, "cannot use console socket if runc will not detach or allocate tty");
        }
        // Held open until the relay (this process, or the detached relay) has opened it too.
        using ConsolePty? console = consoleSocket is null ? null : ConsoleSetup.SendNewPty(consoleSocket, process.ConsoleSize);
        string? ttyPath = console?.PeerPath;
        byte[] json = ExecSession.Serialize(process);
        if (!detach)
        {
            // In the foreground this process is the relay: its PID stands for the exec'd process
            // (signals sent to it are forwarded), so that is what --pid-file gets, once it runs.
            string? foregroundPidFile = args.Value("pid-file");
            void Started(int guestPid, Exception? error)
            {
                if (error is null && foregroundPidFile is not null)
                {
                    CreateCommand.WritePidFile(foregroundPidFile, Environment.ProcessId);
                }
            }
            return ExecSession.RunAsync(record, json, process.Terminal, ttyPath, Started, ctx.Log.Debug, relay: false, CancellationToken.None).GetAwaiter().GetResult();
        }

        string processFile = Path.Combine(ctx.Store.DirOf(id), $"exec-{Guid.NewGuid():N}.json");
        File.WriteAllBytes(processFile, json);
        using var report = new ReportChannel(Path.Combine(record.RunDir, $"exec-{Environment.ProcessId}.sock"));
        using Process relay = HelperProcess.Start(ctx, [RelayVerb, "--report", report.Path, "--process", processFile], id, ttyPath);
        MonitorReport outcome = report.Await(relay, TimeSpan.FromSeconds(90), "exec relay");
        if (outcome.Error is not null)
        {
            relay.WaitForExit(TimeSpan.FromSeconds(10));
            throw new VmSandboxException(Enum.TryParse(outcome.Code, out ErrorCode code) ? code : ErrorCode.Internal, outcome.Error);
        }
        if (args.Value("pid-file") is { } pidFile)
        {
            CreateCommand.WritePidFile(pidFile, relay.Id);
        }
        return ExitCodes.Success;
    }

    private static ProcessSpec BuildProcess(LifecycleContext ctx, string id, VerbArgs args)
    {
        var warnings = new List<string>();
        if (args.Value("process") is { } file)
        {
            return ProcessLoader.Load(file, warnings);
        }
        RuntimeSpec spec = SpecLoader.Parse(File.ReadAllBytes(Path.Combine(ctx.Store.DirOf(id), ContainerStore.ConfigCopy)));
        return ExecSession.FromFlags(spec.Process ?? new ProcessSpec(), new ExecFlags([.. args.Positional.Skip(1)])
        {
            Cwd = args.Value("cwd"),
            Env = args.Values("env"),
            Tty = args.Flag("tty"),
            User = args.Value("user"),
            AdditionalGids = args.Values("additional-gids"),
            Caps = args.Values("cap"),
            NoNewPrivileges = args.Flag("no-new-privs"),
        });
    }

    /// <summary>The hidden relay verb: `__exec --report S --process F [--tty P] ID`.</summary>
    public static int Relay(ArgReader reader, LifecycleContext ctx)
    {
        VerbArgs args = VerbArgs.Parse(reader, RelayVerb, ["report", "process", "tty"], []);
        string id = LifecycleContext.SingleId(args.Positional, RelayVerb);
        string report = args.Value("report") ?? throw new VmSandboxException(ErrorCode.InvalidArgument, $"{RelayVerb}: --report is required");
        string processFile = args.Value("process") ?? throw new VmSandboxException(ErrorCode.InvalidArgument, $"{RelayVerb}: --process is required");
        _ = Interop.ProcessCalls.NewSession(); // false only if already a group leader: then already detached enough
        byte[] json = File.ReadAllBytes(processFile);
        File.Delete(processFile);
        ContainerRecord record = ctx.Store.Load(id);
        bool terminal = ProcessLoader.Parse(json, []).Terminal;
        void Started(int pid, Exception? error) =>
            MonitorReport.SendAsync(report, error is null
                ? new MonitorReport { GuestPid = pid }
                : new MonitorReport { Error = VmSandboxException.FormatChain(error), Code = VmSandboxException.CodeOf(error).ToString() }, _ => { }).GetAwaiter().GetResult();
        try
        {
            return ExecSession.RunAsync(record, json, terminal, args.Value("tty"), Started, ctx.Log.Debug, relay: true, CancellationToken.None).GetAwaiter().GetResult();
        }
        catch (Exception e)
        {
            // Errors before the process started were reported; later ones end the relay like a lost process.
            ctx.Log.Debug(VmSandboxException.FormatChain(e));
            return ExitCodes.Failure;
        }
    }
}
