using System.Diagnostics;
using System.Text;

namespace VmSandbox.TestSupport;

/// <summary>
/// A command run with all three stdio streams as pipes: output is collected as it arrives (so a
/// test can wait for a line before it closes stdin), and every wait is bounded. Disposing kills
/// what is still running, so a failed test leaves no ctr behind.
/// </summary>
public sealed class ChildProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly Task _readers;

    private ChildProcess(Process process, string commandLine)
    {
        _process = process;
        CommandLine = commandLine;
        _readers = Task.WhenAll(Pump(process.StandardOutput, _stdout), Pump(process.StandardError, _stderr));
    }

    public string CommandLine { get; }

    public int Pid => _process.Id;

    public string Stdout
    {
        get
        {
            lock (_stdout)
            {
                return _stdout.ToString();
            }
        }
    }

    public static ChildProcess Start(string file, IEnumerable<string> args, IReadOnlyDictionary<string, string>? env = null)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }
        foreach (var (k, v) in env ?? new Dictionary<string, string>())
        {
            psi.Environment[k] = v;
        }
        string commandLine = string.Join(' ', psi.ArgumentList.Prepend(file));
        return new ChildProcess(Process.Start(psi) ?? throw new InvalidOperationException($"start {commandLine}: no process"), commandLine);
    }

    /// <summary>Runs to the end: <paramref name="stdin"/> is written and closed first (null closes it at once).</summary>
    public static async Task<CommandResult> RunAsync(string file, IEnumerable<string> args, TimeSpan timeout, string? stdin = null,
        IReadOnlyDictionary<string, string>? env = null)
    {
        await using ChildProcess p = Start(file, args, env);
        if (stdin is not null)
        {
            await p.WriteStdinAsync(stdin);
        }
        p.CloseStdin();
        return await p.WaitAsync(timeout);
    }

    public async Task WriteStdinAsync(string text)
    {
        await _process.StandardInput.WriteAsync(text);
        await _process.StandardInput.FlushAsync();
    }

    public void CloseStdin() => _process.StandardInput.Close();

    /// <summary>Waits until stdout holds <paramref name="text"/>; fails with what arrived instead.</summary>
    public async Task WaitForStdoutAsync(string text, TimeSpan timeout)
    {
        DateTime deadline = DateTime.UtcNow + timeout;
        while (!Stdout.Contains(text, StringComparison.Ordinal))
        {
            if (_process.HasExited && _readers.IsCompleted && !Stdout.Contains(text, StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"`{CommandLine}` exited {_process.ExitCode} before printing \"{text}\": {Collected()}");
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"`{CommandLine}` did not print \"{text}\" within {timeout.TotalSeconds:0} s: {Collected()}");
            }
            await Task.Delay(50);
        }
    }

    /// <summary>Waits for the exit and for the end of both output streams.</summary>
    public async Task<CommandResult> WaitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
            // A process left behind holding our pipes must not keep us waiting for EOF either.
            await _readers.WaitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            Kill();
            throw new TimeoutException($"`{CommandLine}` ran past {timeout.TotalSeconds:0} s (or its output stayed open): {Collected()}");
        }
        lock (_stdout)
        {
            lock (_stderr)
            {
                return new CommandResult(CommandLine, _process.ExitCode, _stdout.ToString(), _stderr.ToString());
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        Kill();
        try
        {
            await _readers.WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (TimeoutException)
        {
        }
        _process.Dispose();
    }

    private void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
        }
    }

    private string Collected()
    {
        string err;
        lock (_stderr)
        {
            err = _stderr.ToString();
        }
        return $"stdout \"{Stdout}\", stderr \"{err}\"";
    }

    private static async Task Pump(StreamReader from, StringBuilder to)
    {
        var buffer = new char[4096];
        int n;
        while ((n = await from.ReadAsync(buffer)) > 0)
        {
            lock (to)
            {
                to.Append(buffer, 0, n);
            }
        }
    }
}
