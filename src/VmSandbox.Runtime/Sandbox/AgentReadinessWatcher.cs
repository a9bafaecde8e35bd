using System.Text;
using VmSandbox.Common;
using VmSandbox.Hypervisor;

namespace VmSandbox.Runtime.Sandbox;

/// <summary>
/// Waits for the guest agent's readiness line on the VM's console (<see cref="AgentReadiness"/>),
/// or its fatal line, or the hypervisor's exit. The console is guest-written: lines are bounded
/// and only printable characters reach an error message. This is the runtime's concern; the
/// hypervisor driver only provides the console file and its clock.
/// </summary>
public static class AgentReadinessWatcher
{
    /// <summary>How long a guest whose agent reported a fatal error gets to power itself off.</summary>
    private static readonly TimeSpan s_fatalGrace = TimeSpan.FromSeconds(10);

    public static async Task<(AgentReadiness Ready, BootTimings Timings)> WaitAsync(IVm vm, TimeSpan timeout, CancellationToken ct)
    {
        DateTime deadline = DateTime.UtcNow + timeout;
        var console = new ConsoleLines(vm.ConsoleLogPath);
        string lastLine = "";
        var oops = new KernelOops();
        while (true)
        {
            // Read the exit state before the console: QEMU flushes the console before it exits,
            // so an exit seen here never hides the agent's last words.
            bool exited = vm.HasExited;
            foreach (string line in console.ReadNew())
            {
                if (line.Trim().Length > 0)
                {
                    lastLine = line;
                    oops.Observe(line);
                }
                if (AgentReadiness.TryParse(line) is { } ready)
                {
                    return (ready, BootTimings.From(vm.ControlReadyAt.TotalMilliseconds, vm.SinceStart.TotalMilliseconds, ready));
                }
                int fatal = line.IndexOf(AgentReadiness.FatalPrefix, StringComparison.Ordinal);
                if (fatal >= 0)
                {
                    // The agent powers the VM off after its fatal line: let it, briefly, so that
                    // its last console lines are written before the owner stops what is left.
                    await vm.WaitExitAsync(s_fatalGrace);
                    throw new VmSandboxException(ErrorCode.Vm, $"guest agent of {vm.Spec.Id} failed: {Sanitize(line[(fatal + AgentReadiness.FatalPrefix.Length)..])}");
                }
            }
            if (exited)
            {
                // The guest's last words (a panic, a reset) say why; QEMU's exit status rarely does.
                VmSandboxException error = vm.ExitError();
                if (lastLine.Length == 0)
                {
                    throw error;
                }
                string? crash = oops.Describe();
                string message = $"{error.Message}; {(crash is null ? "" : $"guest kernel: {crash}; ")}last console line: \"{Sanitize(lastLine)}\"";
                throw crash is null ? new VmSandboxException(error.Code, message) : new GuestKernelCrashException(error.Code, message);
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new VmSandboxException(ErrorCode.Timeout,
                    $"guest agent of {vm.Spec.Id} not ready after {timeout.TotalSeconds:F0}s; last console line: \"{Sanitize(lastLine)}\"");
            }
            await Task.Delay(15, ct);
        }
    }

    /// <summary>
    /// The first kernel failure on the console (an oops, BUG, panic or warning) and where it
    /// happened (its first RIP line): a guest that dies while booting prints its stack trace last,
    /// and only these two lines say what went wrong.
    /// </summary>
    internal sealed class KernelOops
    {
        private static readonly string[] s_markers = ["BUG:", "Oops:", "Kernel panic", "general protection fault", "WARNING:", "kernel BUG", "double fault"];
        private string? _first;
        private string? _rip;

        public void Observe(string line)
        {
            if (_first is null && s_markers.Any(m => line.Contains(m, StringComparison.Ordinal)))
            {
                _first = StripTimestamp(line);
            }
            else if (_first is not null && _rip is null && line.Contains("RIP:", StringComparison.Ordinal))
            {
                _rip = StripTimestamp(line);
            }
        }

        /// <summary>"\"failure\" at \"RIP: …\"", or null when the console showed none.</summary>
        public string? Describe() => _first is null ? null
            : _rip is null ? $"\"{Sanitize(_first)}\"" : $"\"{Sanitize(_first)}\" at \"{Sanitize(_rip)}\"";

        private static string StripTimestamp(string line)
        {
            string t = line.TrimStart();
            int close = t.IndexOf(']', StringComparison.Ordinal);
            return t.StartsWith('[') && close > 0 ? t[(close + 1)..].Trim() : t.Trim();
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

    /// <summary>The console file's complete lines not read yet; a guest that never ends a line gets no unbounded buffer.</summary>
    private sealed class ConsoleLines(string path)
    {
        private readonly StringBuilder _pending = new();
        private long _offset;

        public List<string> ReadNew()
        {
            var lines = new List<string>();
            if (!File.Exists(path))
            {
                return lines;
            }
            using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            if (fs.Length <= _offset)
            {
                return lines;
            }
            fs.Position = _offset;
            byte[] buf = new byte[Math.Min(fs.Length - _offset, 1 << 20)];
            int n = fs.Read(buf, 0, buf.Length);
            _offset += n;
            _pending.Append(Encoding.UTF8.GetString(buf, 0, n));
            string text = _pending.ToString();
            int last = text.LastIndexOf('\n');
            if (last >= 0)
            {
                lines.AddRange(text[..last].Split('\n'));
                _pending.Clear().Append(text[(last + 1)..]);
            }
            if (_pending.Length > 64 * 1024)
            {
                _pending.Clear();
            }
            return lines;
        }
    }
}
