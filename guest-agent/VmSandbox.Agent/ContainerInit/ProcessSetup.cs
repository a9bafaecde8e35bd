using System.Globalization;
using VmSandbox.Agent.ContainerInit.Protocol;
using VmSandbox.Common;
using VmSandbox.Interop;
using VmSandbox.Oci;
using VmSandbox.Oci.HookRunning;
using VmSandbox.Oci.Spec;
using VmSandbox.Oci.State;
using VmSandbox.Seccomp;

namespace VmSandbox.Agent.ContainerInit;

/// <summary>
/// The per-process part of container setup (runc's finalizeNamespace and standard_init order):
/// terminal, rlimits, oom score, program lookup, bounding set, seccomp (early without
/// noNewPrivileges), user and groups with caps kept, capability sets, umask, cwd,
/// no_new_privs; then "ready", wait for "start", seccomp (late with noNewPrivileges),
/// startContainer hooks, execve.
/// Runs on the init's main thread: credentials, capabilities and seccomp are per thread, and
/// execve keeps only this thread.
/// </summary>
public sealed class ProcessSetup
{
    private readonly ProcessSpec _process;
    private readonly SeccompProgram? _seccomp;
    private readonly bool _terminal;
    private IReadOnlyList<Hook>? _startHooks;
    private HookState? _startState;
    private LinuxPersonality? _personality;

    public ProcessSetup(ProcessSpec process, SeccompProgram? seccomp, bool terminal)
    {
        _process = process;
        _seccomp = seccomp;
        _terminal = terminal;
    }

    /// <summary>The container's startContainer hooks and the state they read (the init only: an exec runs none).</summary>
    public ProcessSetup WithStartHooks(IReadOnlyList<Hook>? hooks, HookState state)
    {
        _startHooks = hooks;
        _startState = state;
        return this;
    }

    /// <summary>The container's linux.personality (the init only: an exec gets Linux's default, as with runc).</summary>
    public ProcessSetup WithPersonality(LinuxPersonality? personality)
    {
        _personality = personality;
        return this;
    }

    /// <summary>
    /// The persona the container's program is exec'd with: linux.personality's domain (runc
    /// sets the domain and ignores the flags), else Linux's default. Always set: the init itself
    /// may have been started without address-space randomisation (Vm.InitAddressLayout), which
    /// the program must not inherit.
    /// </summary>
    public static uint PersonaOf(LinuxPersonality? personality) => personality?.Domain switch
    {
        null or "" or "LINUX" => Personality.PerLinux,
        "LINUX32" => Personality.PerLinux32,
        string other => throw new VmSandboxException(ErrorCode.InvalidArgument, $"linux.personality.domain: unknown domain {other}"),
    };

    /// <summary>Sets everything up, reports ready on <paramref name="channel"/>, waits for start and execs; returns only with the execve errno.</summary>
    public int Run(InitChannel channel)
    {
        // Before the seccomp filter, which may allow personality(2) only with some personas.
        _ = Personality.Set(PersonaOf(_personality));
        SafeFd? master = _terminal ? SetUpTerminal(_process.ConsoleSize) : null;
        ProcessLimits.Apply(0, _process);
        string cwd = string.IsNullOrEmpty(_process.Cwd) ? "/" : _process.Cwd;
        IReadOnlyList<string> args = _process.Args is { Count: > 0 } a ? a : throw new VmSandboxException(ErrorCode.InvalidArgument, "process.args: must not be empty");
        IReadOnlyList<string> env = WithHome(_process.Env ?? [], _process.User.Uid, ReadPasswd());
        string program = ExecutableLookup.Resolve(args[0], ExecutableLookup.PathOf(env), cwd, ExecutableLookup.ProbeFile);

        LinuxCapabilities? caps = _process.Capabilities;
        if (caps is not null)
        {
            ulong bounding = CapabilityNames.ToMask(caps.Bounding);
            for (int cap = 0; cap <= 63; cap++)
            {
                if ((bounding & (1UL << cap)) == 0 && !Capabilities.DropBounding(cap))
                {
                    break;
                }
            }
        }
        SockFilter[]? filter = _seccomp?.Filter;
        SeccompFilterFlags filterFlags = _seccomp?.Flags ?? default;
        if (filter is not null && !_process.NoNewPrivileges)
        {
            // runc compat: without no_new_privs installing a filter needs CAP_SYS_ADMIN, so before the caps drop.
            SeccompFilter.Install(filter, filterFlags, setNoNewPrivs: false);
        }

        // runc compat: chdir while still root with every capability, so that a cwd only root may
        // enter works; a permission error is retried as the container user, for a cwd only that
        // user may enter.
        bool chdirAsUser = false;
        try
        {
            FileSystemCalls.ChangeDirectory(cwd);
        }
        catch (VmSandboxException e) when (e.Errno is 1 or 13)
        {
            chdirAsUser = true;
        }

        User user = _process.User;
        GiveStdioTo(user.Uid);
        if (caps is not null)
        {
            Capabilities.SetKeepCaps(true);
        }
        Credentials.SetGroups(user.AdditionalGids ?? []);
        Credentials.SetGid(user.Gid);
        Credentials.SetUid(user.Uid);
        if (caps is not null)
        {
            Capabilities.SetKeepCaps(false);
            Capabilities.Set(CapabilityNames.ToMask(caps.Effective), CapabilityNames.ToMask(caps.Permitted), CapabilityNames.ToMask(caps.Inheritable));
            Capabilities.ClearAmbient();
            foreach (string name in caps.Ambient ?? [])
            {
                if (CapabilityNames.TryGetNumber(name, out int n))
                {
                    try
                    {
                        Capabilities.RaiseAmbient(n);
                    }
                    catch (Common.VmSandboxException)
                    {
                        // runc compat: a capability missing from the inheritable set cannot be
                        // raised; runc only warns (its default spec lists none as inheritable).
                    }
                }
            }
        }
        if (user.Umask is uint umask)
        {
            _ = FileSystemCalls.SetUmask(umask);
        }
        if (chdirAsUser)
        {
            FileSystemCalls.ChangeDirectory(cwd);
        }
        if (_process.NoNewPrivileges)
        {
            SeccompCalls.SetNoNewPrivs();
        }

        if (master is not null)
        {
            channel.Send(new InitMessage { Type = InitMessage.ReadyType, HasPty = true }, [master.Fd]);
            master.Dispose();
        }
        else
        {
            channel.Send(new InitMessage { Type = InitMessage.ReadyType });
        }
        InitMessage? go = channel.Receive();
        if (go?.Type != InitMessage.StartType)
        {
            // The agent went away or changed its mind: never run the container's program.
            return 0;
        }
        if (filter is not null && _process.NoNewPrivileges)
        {
            SeccompFilter.Install(filter, filterFlags, setNoNewPrivs: false);
        }
        if (_startHooks is { Count: > 0 })
        {
            // runc's standard init: in the container, as its user, seccomp applied, right
            // before the program; the container's env is their default env.
            var state = _startState! with { Pid = ProcessCalls.GetPid() };
            new HookRunner(env).Run(HookKind.StartContainer, _startHooks, state);
        }
        ProcessCalls.ResetSignalsForExec();
        return ProcessCalls.Exec(program, args, env);
    }

    /// <summary>
    /// runc's default HOME: when the process's env has none, the user's home directory from the
    /// container's /etc/passwd, or "/" for a uid it does not list (Docker sets HOME itself; a
    /// bare runc bundle or an exec's process.json often does not).
    /// </summary>
    public static IReadOnlyList<string> WithHome(IReadOnlyList<string> env, uint uid, IEnumerable<string> passwd)
    {
        if (env.Any(e => e.StartsWith("HOME=", StringComparison.Ordinal)))
        {
            return env;
        }
        string home = "/";
        foreach (string line in passwd)
        {
            // name:password:uid:gid:gecos:home:shell
            string[] fields = line.Split(':');
            if (fields.Length >= 6 && uint.TryParse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture, out uint entry) && entry == uid)
            {
                home = fields[5].Length > 0 ? fields[5] : "/";
                break;
            }
        }
        return [.. env, "HOME=" + home];
    }

    /// <summary>The container's /etc/passwd lines (the process is in its root by now); none when it has none.</summary>
    private static List<string> ReadPasswd()
    {
        try
        {
            return File.ReadLines("/etc/passwd").Take(100_000).ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    /// <summary>
    /// runc's fixStdioPermissions: stdio (the container's pty, or our stream sockets) changes
    /// owner to the container user, group kept (tty, from devpts' gid=5), so that a non-root
    /// process can use its own terminal. /dev/null and what the user already owns stay as they
    /// are; EINVAL, EPERM and EROFS leave the descriptor alone, as with runc.
    /// </summary>
    private static void GiveStdioTo(uint uid)
    {
        var devNull = FileStat.GetOwner(-100, "/dev/null");
        for (int fd = 0; fd <= 2; fd++)
        {
            var (owner, group, major, minor) = FileStat.GetOwner(fd);
            if (owner == uid || (major == devNull.RdevMajor && minor == devNull.RdevMinor))
            {
                continue;
            }
            int errno = FileStat.TryChown(fd, uid, group);
            if (errno != 0 && errno != Errno.EINVAL && errno != Errno.EPERM && errno != Errno.EROFS)
            {
                throw SyscallError.Create("fchown", $"stdio fd {fd}", errno);
            }
        }
    }

    /// <summary>
    /// A new pty in the container's devpts: the slave becomes the controlling terminal and stdio,
    /// the master goes to the agent. runc compat: <c>process.consoleSize</c> is its size from the
    /// start, so the process never sees 0x0 before the caller's first resize arrives.
    /// </summary>
    private static SafeFd SetUpTerminal(ProcessSpec.Box? size)
    {
        var (master, slavePath) = Pty.OpenMaster("/dev/ptmx", "/dev/pts");
        if (size is { Height: > 0, Width: > 0 })
        {
            Pty.SetSize(master, TerminalSize.Clamp(size.Height, size.Width));
        }
        using SafeFd slave = FileSystemCalls.Open(slavePath, FileSystemCalls.O_RDWR);
        _ = ProcessCalls.NewSession();
        Pty.SetControllingTerminal(slave);
        for (int fd = 0; fd <= 2; fd++)
        {
            ProcessCalls.Dup2(slave.Fd, fd);
        }
        return master;
    }
}
