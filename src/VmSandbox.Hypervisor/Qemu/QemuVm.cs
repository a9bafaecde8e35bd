using System.Diagnostics;
using System.Text;
using VmSandbox.Common;
using VmSandbox.Hypervisor.Devices;
using VmSandbox.Hypervisor.Qmp;

namespace VmSandbox.Hypervisor.Qemu;

/// <summary>
/// One running QEMU process and what belongs to it: the QMP connection, the console log, the
/// sockets in the state directory. It never outlives its owner: <see cref="DisposeAsync"/> stops
/// the VM (gracefully if it can, then QMP quit, then SIGKILL) and removes the sockets.
/// Collaborators: <see cref="QemuCommandLine"/> builds the arguments, <see cref="QmpClient"/>
/// talks to QEMU, the guest agent announces itself on the console (<see cref="AgentReadiness"/>).
/// </summary>
public sealed partial class QemuVm : IVm
{
    private readonly Process _process;
    private readonly Stopwatch _clock;
    private readonly StderrTail _stderr = new();
    private QmpClient? _qmp;
    private double _qmpReadyMs;
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

    public AgentReadiness? Readiness { get; private set; }

    public BootTimings? Timings { get; private set; }

    /// <summary>Starts QEMU and waits until its QMP socket answers.</summary>
    public static async Task<QemuVm> StartAsync(VmSpec spec, TimeSpan qmpTimeout, CancellationToken ct)
    {
        CheckFile(spec.QemuPath, "qemu", "make setup (installs qemu-system-x86)");
        CheckFile(spec.KernelPath, "guest kernel", "make guest");
        CheckFile(spec.InitrdPath, "guest initramfs", "make guest");
        Directory.CreateDirectory(spec.StateDir);
        File.Delete(spec.QmpSocketPath);
        File.Delete(spec.ConsoleLogPath);

        // setpriv --pdeathsig KILL from a dedicated thread: even a SIGKILLed owner leaves no VM behind.
        ProcessStartInfo psi = OwnedProcess.StartInfo(spec.QemuPath, QemuCommandLine.Build(spec));
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
            vm._qmpReadyMs = clock.Elapsed.TotalMilliseconds;
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

    /// <summary>How long a guest whose agent reported a fatal error gets to power itself off.</summary>
    private static readonly TimeSpan s_fatalGrace = TimeSpan.FromSeconds(10);

    /// <summary>Waits for the agent's readiness line on the console.</summary>
    public async Task<AgentReadiness> WaitForAgentAsync(TimeSpan timeout, CancellationToken ct)
    {
        DateTime deadline = DateTime.UtcNow + timeout;
        long offset = 0;
        var pending = new StringBuilder();
        string lastLine = "";
        while (true)
        {
            // Read the exit state before the console: QEMU flushes the console before it exits,
            // so an exit seen here never hides the agent's last words.
            bool exited = _process.HasExited;
            foreach (string line in ReadNewConsoleLines(ref offset, pending))
            {
                if (line.Trim().Length > 0)
                {
                    lastLine = line;
                }
                if (AgentReadiness.TryParse(line) is { } ready)
                {
                    Readiness = ready;
                    Timings = BootTimings.From(_qmpReadyMs, _clock.Elapsed.TotalMilliseconds, ready);
                    return ready;
                }
                int fatal = line.IndexOf(AgentReadiness.FatalPrefix, StringComparison.Ordinal);
                if (fatal >= 0)
                {
                    // The agent powers the VM off after its fatal line: let it, briefly, so that
                    // its last console lines are written before the owner stops what is left.
                    using (var grace = CancellationTokenSource.CreateLinkedTokenSource(ct))
                    {
                        grace.CancelAfter(s_fatalGrace);
                        try
                        {
                            await _process.WaitForExitAsync(grace.Token);
                        }
                        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                        {
                            // Still running: the owner's stop takes over.
                        }
                    }
                    throw new VmSandboxException(ErrorCode.Vm, $"guest agent of {Spec.Id} failed: {Sanitize(line[(fatal + AgentReadiness.FatalPrefix.Length)..])}");
                }
            }
            if (exited)
            {
                throw ExitedError(null);
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new VmSandboxException(ErrorCode.Timeout,
                    $"guest agent of {Spec.Id} not ready after {timeout.TotalSeconds:F0}s; last console line: \"{Sanitize(lastLine)}\"");
            }
            await Task.Delay(15, ct);
        }
    }

    /// <summary>The last lines QEMU wrote to stderr/stdout, for error messages.</summary>
    public string StderrTailText => _stderr.Text;

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

    /// <summary>Keeps only printable characters of guest-written text: it is untrusted.</summary>
    internal static string Sanitize(string s)
    {
        var sb = new StringBuilder(Math.Min(s.Length, 512));
        s = s.Trim();
        foreach (char c in s.AsSpan(0, Math.Min(s.Length, 512)))
        {
            sb.Append(char.IsControl(c) ? '?' : c);
        }
        return sb.ToString().Trim();
    }

    private List<string> ReadNewConsoleLines(ref long offset, StringBuilder pending)
    {
        var lines = new List<string>();
        if (!File.Exists(Spec.ConsoleLogPath))
        {
            return lines;
        }
        using var fs = new FileStream(Spec.ConsoleLogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        if (fs.Length <= offset)
        {
            return lines;
        }
        fs.Position = offset;
        byte[] buf = new byte[Math.Min(fs.Length - offset, 1 << 20)];
        int n = fs.Read(buf, 0, buf.Length);
        offset += n;
        pending.Append(Encoding.UTF8.GetString(buf, 0, n));
        string text = pending.ToString();
        int last = text.LastIndexOf('\n');
        if (last >= 0)
        {
            lines.AddRange(text[..last].Split('\n'));
            pending.Clear().Append(text[(last + 1)..]);
        }
        if (pending.Length > 64 * 1024)
        {
            pending.Clear(); // a guest that never ends a line gets no unbounded buffer
        }
        return lines;
    }
}
