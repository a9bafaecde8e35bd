using System.Diagnostics;
using VmSandbox.Common;
using VmSandbox.Hypervisor.Devices;
using VmSandbox.Hypervisor.Qmp;
using VmSandbox.Interop;

namespace VmSandbox.Hypervisor.Qemu;

/// <summary>
/// One running QEMU process and what belongs to it: the QMP connection, the console log, the
/// sockets in the state directory. It never outlives its owner: <see cref="DisposeAsync"/> stops
/// the VM (gracefully if it can, then QMP quit, then SIGKILL) and removes the sockets.
/// Collaborators: <see cref="QemuCommandLine"/> builds the arguments, <see cref="QmpClient"/>
/// talks to QEMU; the console log is the runtime's to read (the agent announces itself there).
/// </summary>
public sealed partial class QemuVm : IVm
{
    private readonly Process _process;
    private readonly Stopwatch _clock;
    private readonly StderrTail _stderr = new();
    private QmpClient? _qmp;
    private int _disposed;
    private int _hotplugged;

    private QemuVm(VmSpec spec, Process process, Stopwatch clock)
    {
        Spec = spec;
        _process = process;
        _clock = clock;
    }

    public VmSpec Spec { get; }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public TimeSpan SinceStart => _clock.Elapsed;

    public TimeSpan ControlReadyAt { get; private set; }

    public string ConsoleLogPath => Spec.ConsoleLogPath;

    /// <summary>
    /// All QEMU keeps of root's capabilities (ADR 0020): CAP_NET_ADMIN, because it creates the
    /// sandbox's tap devices itself (at boot and at hot-plug). Everything else it opens is the
    /// runtime's own (0600 sockets, 0700 run directory, /dev/kvm) or world-readable (kernel, initrd).
    /// </summary>
    public static readonly IReadOnlyList<string> QemuCapabilities = ["net_admin"];

    /// <summary>Starts QEMU and waits until its QMP socket answers.</summary>
    public static async Task<QemuVm> StartAsync(VmSpec spec, TimeSpan qmpTimeout, CancellationToken ct)
    {
        CheckFile(spec.QemuPath, "qemu", "make setup (installs qemu-system-x86)");
        CheckFile(spec.KernelPath, "guest kernel", "make guest");
        CheckFile(spec.InitrdPath, "guest initramfs", "make guest");
        Directory.CreateDirectory(spec.StateDir);
        SocketFile.RemoveStale(spec.QmpSocketPath);
        File.Delete(spec.ConsoleLogPath);

        // setpriv --pdeathsig KILL from a dedicated thread: even a SIGKILLed owner leaves no VM behind.
        ProcessStartInfo psi = OwnedProcess.StartInfo(spec.QemuPath, QemuCommandLine.Build(spec), QemuCapabilities);
        var clock = Stopwatch.StartNew();
        Process process;
        try
        {
            process = OwnedProcess.Start(psi, "qemu-parent");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new VmSandboxException(ErrorCode.HostMissing, $"start {spec.QemuPath}", e);
        }
        process.StandardInput.Close();
        var vm = new QemuVm(spec, process, clock);
        process.ErrorDataReceived += (_, e) => vm._stderr.Add(e.Data);
        process.OutputDataReceived += (_, e) => vm._stderr.Add(e.Data);
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        try
        {
            vm._qmp = await QmpClient.ConnectAsync(spec.QmpSocketPath, DateTime.UtcNow + qmpTimeout, () => !process.HasExited, ct);
            vm.ControlReadyAt = clock.Elapsed;
        }
        catch (Exception e)
        {
            // Wait briefly: QEMU failing at start-up exits right away, and its exit code and
            // last stderr line make a better message than the QMP connect error.
            await vm.WaitExitAsync(TimeSpan.FromMilliseconds(500));
            VmSandboxException error = vm.ExitedError(e);
            await vm.DisposeAsync();
            throw error;
        }
        return vm;
    }

    /// <summary>Hot-plugs a device into the next free root port through QMP.</summary>
    public async Task HotplugAsync(VmDevice device, CancellationToken ct)
    {
        QmpClient qmp = _qmp ?? throw new InvalidOperationException("qemu not started");
        int port = Interlocked.Increment(ref _hotplugged) - 1;
        if (port >= Spec.HotplugSlots)
        {
            throw new VmSandboxException(ErrorCode.FailedPrecondition,
                $"hot-plug {device.Id} into {Spec.Id}: all {Spec.HotplugSlots} hot-plug slots are in use");
        }
        foreach ((string command, Action<System.Text.Json.Utf8JsonWriter> arguments) in QemuDeviceRenderer.Hotplug(device, port))
        {
            await qmp.ExecuteAsync(command, arguments, ct);
        }
    }

    /// <summary>The last lines QEMU wrote to stderr/stdout, for error messages.</summary>
    public string StderrTailText => _stderr.Text;

    public VmSandboxException ExitError() => ExitedError(null);

    private VmSandboxException ExitedError(Exception? inner)
    {
        if (_process.HasExited)
        {
            _process.WaitForExit();
            string tail = _stderr.LastLine;
            return new VmSandboxException(ErrorCode.Vm,
                $"qemu for {Spec.Id} exited with code {_process.ExitCode}" + (tail.Length > 0 ? $": {tail}" : ""));
        }
        return inner as VmSandboxException ?? new VmSandboxException(ErrorCode.Vm, $"start qemu for {Spec.Id}", inner);
    }

    private static void CheckFile(string path, string what, string fix)
    {
        if (!File.Exists(path))
        {
            throw new VmSandboxException(ErrorCode.HostMissing, $"{what} {path} not found") { Hint = fix };
        }
    }
}
