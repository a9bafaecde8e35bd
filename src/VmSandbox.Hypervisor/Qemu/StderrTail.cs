namespace VmSandbox.Hypervisor.Qemu;

/// <summary>The last few lines a child process wrote, for error messages; bounded in size.</summary>
internal sealed class StderrTail
{
    private const int MaxLines = 20;
    private readonly Queue<string> _lines = new();
    private readonly Lock _lock = new();

    public void Add(string? line)
    {
        if (string.IsNullOrWhiteSpace(line))
        {
            return;
        }
        lock (_lock)
        {
            _lines.Enqueue(line.Length > 500 ? line[..500] : line);
            while (_lines.Count > MaxLines)
            {
                _lines.Dequeue();
            }
        }
    }

    public string LastLine
    {
        get
        {
            lock (_lock)
            {
                // QEMU prefixes its error with its program name and may add hints after it
                // ("Use -machine help to list supported machines"): prefer the error itself.
                string? error = _lines.LastOrDefault(l => l.StartsWith("qemu-system-", StringComparison.Ordinal));
                return (error ?? _lines.LastOrDefault() ?? "").Trim();
            }
        }
    }

    public string Text
    {
        get
        {
            lock (_lock)
            {
                return string.Join('\n', _lines);
            }
        }
    }
}
