using System.Globalization;
using System.Runtime.InteropServices;
using VmSandbox.Interop;

namespace VmSandbox.Agent.Vm;

/// <summary>
/// PID 1 duties of the guest: mount the pseudo file systems, load the kernel modules listed by
/// the initramfs builder in dependency order, reap orphans, announce readiness on the console
/// and end the VM on request (SIGTERM, Ctrl-Alt-Del from the host, or an agent RPC).
/// Any failure ends the VM too: a guest with a dead or broken PID 1 must never hang.
/// Collaborators: <see cref="IPid1System"/> for every OS call.
/// </summary>
public sealed class Pid1
{
    /// <summary>Module list written by packaging/guest/build-initramfs.sh, one path a line, in load order.</summary>
    public const string ModuleListPath = "/lib/modules/vmsandbox.load";

    private const ulong NoSuidNoDev = Mount.MS_NOSUID | Mount.MS_NODEV;
    private const int ENOSYS = 38;

    /// <summary>The pseudo file systems, in mount order (devtmpfs first: the console lives there).</summary>
    public static readonly IReadOnlyList<(string Source, string Target, string Type, ulong Flags, string? Data)> EssentialMounts =
    [
        ("devtmpfs", "/dev", "devtmpfs", Mount.MS_NOSUID, "mode=0755"),
        ("proc", "/proc", "proc", NoSuidNoDev | Mount.MS_NOEXEC, null),
        ("sysfs", "/sys", "sysfs", NoSuidNoDev | Mount.MS_NOEXEC, null),
        ("devpts", "/dev/pts", "devpts", Mount.MS_NOSUID | Mount.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5"),
        ("shm", "/dev/shm", "tmpfs", NoSuidNoDev, "mode=1777"),
        ("tmpfs", "/run", "tmpfs", NoSuidNoDev, "mode=0755"),
        ("cgroup2", "/sys/fs/cgroup", "cgroup2", NoSuidNoDev | Mount.MS_NOEXEC | Mount.MS_RELATIME, "nsdelegate"),
    ];

    private readonly IPid1System _sys;
    private readonly TaskCompletionSource<string> _shutdown = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<PosixSignalRegistration> _signals = [];
    private int _poweringOff;

    private readonly Func<Pid1, string>? _startServices;
    private readonly ChildRegistry _children;

    /// <param name="sys">OS calls.</param>
    /// <param name="startServices">Starts the agent API once the system is up; returns a short
    /// description for the readiness line (e.g. "vsock:1024"). A failure is logged, not fatal:
    /// the VM can still be stopped from the host.</param>
    /// <param name="children">The reaper's registry of watched children (container processes).</param>
    public Pid1(IPid1System sys, Func<Pid1, string>? startServices = null, ChildRegistry? children = null)
    {
        _sys = sys;
        _startServices = startServices;
        _children = children ?? new ChildRegistry();
    }

    /// <summary>Completes with the reason once a shutdown was requested.</summary>
    public Task<string> ShutdownRequested => _shutdown.Task;

    /// <summary>Number of modules this boot loaded.</summary>
    public int ModulesLoaded { get; private set; }

    /// <summary>Runs PID 1 to the end: returns only if powering off failed.</summary>
    public int Run()
    {
        AppDomain.CurrentDomain.UnhandledException += (_, e) =>
            Fatal(e.ExceptionObject as Exception ?? new InvalidOperationException("unknown crash"));
        try
        {
            Initialize();
            InstallSignalHandlers();
            string reason = _shutdown.Task.GetAwaiter().GetResult();
            PowerOff(reason);
        }
        catch (Exception e)
        {
            Fatal(e);
        }
        return 1;
    }

    /// <summary>Mounts, stdio, modules and the readiness line.</summary>
    public void Initialize()
    {
        double startedAt = 0;
        foreach (var m in EssentialMounts)
        {
            _sys.CreateDirectory(m.Target);
            _sys.Mount(m.Source, m.Target, m.Type, m.Flags, m.Data);
            if (m.Target == "/dev")
            {
                // The initramfs carries no device nodes; the kernel could not open a console for us.
                _sys.RedirectStdioTo("/dev/console");
            }
            else if (m.Target == "/proc")
            {
                startedAt = _sys.UptimeSeconds();
            }
        }
        LoadModules();
        _sys.DisableCtrlAltDel();
        _sys.BringUpLoopback();
        string api = "none";
        if (_startServices is not null)
        {
            try
            {
                api = _startServices(this);
            }
            catch (Exception e)
            {
                _sys.WriteConsole($"{AgentInfo.ConsolePrefix} api unavailable: {Common.VmSandboxException.FormatChain(e)}");
            }
        }
        double readyAt = _sys.UptimeSeconds();
        _sys.WriteConsole(string.Create(CultureInfo.InvariantCulture,
            $"{AgentInfo.ConsolePrefix} ready version={AgentInfo.Version} started_ms={startedAt * 1000:F0} ready_ms={readyAt * 1000:F0} modules={ModulesLoaded} api={api}"));
    }

    /// <summary>Asks PID 1 to end the VM; the first reason wins.</summary>
    public void RequestShutdown(string reason) => _shutdown.TrySetResult(reason);

    private void LoadModules()
    {
        if (!_sys.PathExists(ModuleListPath))
        {
            return;
        }
        foreach (string raw in _sys.ReadLines(ModuleListPath))
        {
            string line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }
            try
            {
                if (_sys.LoadModule(line))
                {
                    ModulesLoaded++;
                }
            }
            catch (Common.VmSandboxException e) when (e.Errno == ENOSYS)
            {
                // A kernel built without module support (the minimal kernel) has every driver built
                // in: a module list there is left over, not a failure.
                _sys.WriteConsole($"{AgentInfo.ConsolePrefix} kernel has no module support; {ModuleListPath} ignored");
                return;
            }
        }
    }

    private void InstallSignalHandlers()
    {
        _signals.Add(PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; RequestShutdown("SIGTERM"); }));
        // Ctrl-Alt-Del from the host (QMP send-key) arrives as SIGINT once CAD is disabled.
        _signals.Add(PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; RequestShutdown("ctrl-alt-del"); }));
        // No SIGCHLD handler: the reaper thread blocks in waitpid and turns the runtime's off.
        _children.Start();
    }

    private void PowerOff(string reason)
    {
        if (Interlocked.Exchange(ref _poweringOff, 1) != 0)
        {
            return;
        }
        _sys.WriteConsole($"{AgentInfo.ConsolePrefix} powering off reason={reason}");
        _sys.PowerOff();
    }

    private void Fatal(Exception e)
    {
        try
        {
            _sys.WriteConsole($"{AgentInfo.ConsolePrefix} fatal: {Common.VmSandboxException.FormatChain(e)}");
        }
        finally
        {
            PowerOff("fatal error");
        }
    }
}
