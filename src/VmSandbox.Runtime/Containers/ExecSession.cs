using System.Text;
using Google.Protobuf;
using VmSandbox.Agent.Protocol;
using VmSandbox.Common;
using VmSandbox.Interop;
using VmSandbox.Runtime.Sandbox;
using VmSandbox.Runtime.Stdio;
using VmSandbox.Ttrpc;

namespace VmSandbox.Runtime.Containers;

/// <summary>
/// One `exec`: asks the agent to start a process in the container's namespaces, relays its stdio
/// from this process's descriptors (or a host pty), forwards the signals this process receives
/// and terminal resizes (<see cref="GuestSignalRelay"/>), and returns its exit status.
/// `exec --detach` runs this in a relay process whose PID goes to --pid-file.
/// </summary>
public static class ExecSession
{
    private static readonly TtrpcCallOptions s_call = new() { Timeout = TimeSpan.FromSeconds(60) };

    /// <param name="started">Called with the guest PID once the process runs (or with the error).</param>
    /// <param name="log">Where the relay's own troubles go (the --log file).</param>
    /// <param name="relay">This process is the detached exec relay: its stdio are the process's alone.</param>
    /// <param name="execId">The agent's name for the process (signals to it use it); null: a new random one.</param>
    public static async Task<int> RunAsync(ContainerRecord record, byte[] processJson, bool terminal, string? ttyPath, Action<int, Exception?> started, Action<string> log, bool relay, CancellationToken ct, string? execId = null)
    {
        execId ??= NewExecId();
        await using AgentConnection conn = await AgentConnection.ConnectAsync(record.VmRunDir(), ct);
        AgentClient agent = conn.Agent;
        using SafeFd? tty = ttyPath is null ? null : Terminal.ConsolePty.OpenControllingPeer(ttyPath, log);
        // Foreground with the caller's own terminal (no console socket): raw while the process
        // runs, as runc does, so only the guest's terminal echoes and edits.
        using SafeFd? callerTty = CallerTerminal(terminal && tty is null);
        using IDisposable? raw = callerTty is null ? null : Pty.RawUntilDisposed(callerTty);
        using ProcessIo io = ProcessIo.ForHelper(Path.Combine(record.VmRunDir(), Vsock.HybridVsockTransport.UdsFileName), tty, terminal, releaseAtEof: relay);
        ExecProcessResponse response;
        try
        {
            response = await agent.ExecProcessAsync(new ExecProcessRequest
            {
                ContainerId = record.Id,
                ExecId = execId,
                Process = ByteString.CopyFrom(processJson),
                Stdio = io.Describe(),
                Terminal = terminal,
            }, s_call, ct);
            await io.StartAsync(bytes => agent.CloseStdinAsync(new CloseStdinRequest { ContainerId = record.Id, ExecId = execId, StdinBytes = bytes }, s_call, CancellationToken.None), ct);
        }
        catch (Exception e)
        {
            started(0, e);
            throw;
        }
        started(GuestPid.From(response.Pid, "exec"), null);
        using var signals = new GuestSignalRelay(agent, record.Id, execId, tty ?? callerTty, log);
        await signals.ResizeAsync();
        WaitProcessResponse exit = await ProcessWaiter.UntilExitAsync(agent, record.VmRunDir(), record.Id, execId, () => !ProcessProbe.IsAlive(record.MonitorPid, record.MonitorStartTime), log, ct);
        await io.DrainAsync();
        return exit.ExitCode;
    }

    /// <summary>A fresh exec ID for the agent: 16 hex digits.</summary>
    public static string NewExecId() => Convert.ToHexStringLower(KernelRandom.Bytes(8));

    /// <summary>The size of the caller's terminal on standard input, or null when it is none.</summary>
    public static TerminalSize? CallerTerminalSize()
    {
        using SafeFd? tty = CallerTerminal(true);
        try
        {
            return tty is null ? null : Pty.GetSize(tty);
        }
        catch (Common.VmSandboxException)
        {
            return null;
        }
    }

    /// <summary>Standard input as a non-owning handle when <paramref name="wanted"/> and it is a terminal.</summary>
    public static SafeFd? CallerTerminal(bool wanted) => wanted && Pty.IsTerminal(0) ? new SafeFd(0, ownsHandle: false) : null;

    /// <summary>
    /// The exec'd process's spec as runc builds it from CLI flags: the container's process with
    /// overrides; `--cap` adds to the bounding, effective and permitted sets (and ambient when the
    /// process has inheritable capabilities, which ambient ones need), `--no-new-privs` sets it.
    /// </summary>
    public static Oci.Spec.ProcessSpec FromFlags(Oci.Spec.ProcessSpec container, ExecFlags flags)
    {
        if (flags.Args.Count == 0)
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, "exec: args must not be empty");
        }
        Oci.Spec.User u = container.User;
        if (!string.IsNullOrEmpty(flags.User))
        {
            string[] parts = flags.User.Split(':', 2);
            if (!uint.TryParse(parts[0], System.Globalization.CultureInfo.InvariantCulture, out uint uid)
                || (parts.Length == 2 && !uint.TryParse(parts[1], System.Globalization.CultureInfo.InvariantCulture, out _)))
            {
                throw new VmSandboxException(ErrorCode.InvalidArgument, $"exec: parsing {flags.User} as int for uid failed");
            }
            u = u with { Uid = uid, Gid = parts.Length == 2 ? uint.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture) : u.Gid };
        }
        if (flags.AdditionalGids.Count > 0)
        {
            u = u with { AdditionalGids = [.. flags.AdditionalGids.Select(ParseGid)] };
        }
        Oci.Spec.LinuxCapabilities? caps = container.Capabilities;
        if (flags.Caps.Count > 0)
        {
            caps ??= new Oci.Spec.LinuxCapabilities();
            caps = caps with
            {
                Bounding = [.. caps.Bounding ?? [], .. flags.Caps],
                Effective = [.. caps.Effective ?? [], .. flags.Caps],
                Permitted = [.. caps.Permitted ?? [], .. flags.Caps],
                Ambient = caps.Inheritable is { Count: > 0 } ? [.. caps.Ambient ?? [], .. flags.Caps] : caps.Ambient,
            };
        }
        return container with
        {
            Args = [.. flags.Args],
            Cwd = string.IsNullOrEmpty(flags.Cwd) ? container.Cwd : flags.Cwd,
            Env = [.. container.Env ?? [], .. flags.Env],
            Terminal = flags.Tty,
            User = u,
            Capabilities = caps,
            NoNewPrivileges = flags.NoNewPrivileges || container.NoNewPrivileges,
        };
    }

    private static uint ParseGid(string gid) => uint.TryParse(gid, System.Globalization.CultureInfo.InvariantCulture, out uint value)
        ? value
        : throw new VmSandboxException(ErrorCode.InvalidArgument, $"exec: parsing {gid} as int for gid failed");

    public static byte[] Serialize(Oci.Spec.ProcessSpec process) => Encoding.UTF8.GetBytes(Oci.ProcessLoader.Serialize(process));
}

/// <summary>runc exec's flags that shape the process (without --process).</summary>
public sealed record ExecFlags(IReadOnlyList<string> Args)
{
    public string? Cwd { get; init; }
    public IReadOnlyList<string> Env { get; init; } = [];
    public bool Tty { get; init; }
    public string? User { get; init; }
    public IReadOnlyList<string> AdditionalGids { get; init; } = [];
    public IReadOnlyList<string> Caps { get; init; } = [];
    public bool NoNewPrivileges { get; init; }
}
