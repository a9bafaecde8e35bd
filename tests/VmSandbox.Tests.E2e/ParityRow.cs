namespace VmSandbox.Tests.E2e;

/// <summary>
/// One Docker behaviour of the parity table: <see cref="Observe"/> runs it under one runtime and
/// returns what a user would see, reduced to what must match (exit code, output, a fact read from
/// `docker inspect`); <see cref="Expect"/> is what runc gives on this machine, so a row also fails
/// when both runtimes break the same way.
/// </summary>
public sealed record ParityRow(string Name, Func<DockerSession, Task<string>> Observe, string Expect)
{
    public override string ToString() => Name;
}

/// <summary>The docker client bound to one runtime, plus the names it created (removed at the end).</summary>
public sealed class DockerSession : IAsyncDisposable
{
    private readonly List<string> _containers = [];
    private readonly List<string> _volumes = [];
    private readonly List<string> _networks = [];

    public DockerSession(DockerDaemon daemon, string runtime)
    {
        Daemon = daemon;
        Runtime = runtime;
    }

    public DockerDaemon Daemon { get; }

    public string Runtime { get; }

    /// <summary>`docker run --rm --runtime R [options] IMAGE [command]`; options, if any, end at "--".</summary>
    public Task<CommandResult> Run(params string[] args) => RunWith(null, args);

    /// <summary>As <see cref="Run"/> with stdin (and -i).</summary>
    public Task<CommandResult> RunWith(string? stdin, params string[] args)
    {
        var (options, command) = Split(args);
        return Daemon.DockerAsync(["run", "--rm", "--runtime", Runtime, .. stdin is null ? Array.Empty<string>() : ["-i"], .. options, DockerDaemon.Image, .. command], stdin);
    }

    /// <summary>Starts a detached container (not removed on exit) and returns its ID.</summary>
    public async Task<string> Detached(params string[] args)
    {
        var (options, command) = Split(args);
        CommandResult r = await Daemon.DockerAsync(["run", "-d", "--runtime", Runtime, .. options, DockerDaemon.Image, .. command]);
        if (r.ExitCode != 0)
        {
            throw new InvalidOperationException($"docker run -d ({Runtime}) failed with {r.ExitCode}: {r.Stderr.Trim()}");
        }
        string id = r.Stdout.Trim();
        _containers.Add(id);
        return id;
    }

    /// <summary>"OPTIONS… -- COMMAND…" or just "COMMAND…".</summary>
    private static (string[] Options, string[] Command) Split(string[] args)
    {
        int split = Array.IndexOf(args, "--");
        return split < 0 ? ([], args) : (args[..split], args[(split + 1)..]);
    }

    public Task<CommandResult> Docker(params string[] args) => Daemon.DockerAsync(args);

    public async Task<string> Inspect(string id, string format) => (await Docker("inspect", "--format", format, id)).Stdout.Trim();

    /// <summary>A volume name private to this session.</summary>
    public string Volume(string name)
    {
        string full = $"vmsb-{Runtime}-{name}";
        _volumes.Add(full);
        return full;
    }

    /// <summary>Creates a user-defined network private to this session (removed at the end) and returns its name.</summary>
    public async Task<string> Network(string name, params string[] options)
    {
        string full = $"vmsb-{Runtime}-{name}";
        _ = await Docker("network", "rm", full);
        CommandResult r = await Daemon.DockerAsync(["network", "create", .. options, full]);
        if (r.ExitCode != 0)
        {
            throw new InvalidOperationException($"docker network create {full} failed: {r.Stderr.Trim()}");
        }
        _networks.Add(full);
        return full;
    }

    /// <summary>A fresh host directory for bind mounts.</summary>
    public string HostDir(string name) => Directory.CreateDirectory(Path.Combine(Daemon.Scratch, $"{Runtime}-{name}-{Guid.NewGuid():N}")).FullName;

    /// <summary>Waits (bounded) until `docker inspect` shows <paramref name="want"/> for <paramref name="format"/>.</summary>
    public async Task<string> WaitFor(string id, string format, string want, TimeSpan limit)
    {
        DateTime deadline = DateTime.UtcNow + limit;
        string seen;
        while ((seen = await Inspect(id, format)) != want && DateTime.UtcNow < deadline)
        {
            await Task.Delay(250);
        }
        return seen;
    }

    /// <summary>Polls (bounded, every 250 ms) until <paramref name="check"/> holds; false if it never did.</summary>
    public async Task<bool> Until(Func<Task<bool>> check, TimeSpan limit)
    {
        DateTime deadline = DateTime.UtcNow + limit;
        while (!await check())
        {
            if (DateTime.UtcNow >= deadline)
            {
                return false;
            }
            await Task.Delay(250);
        }
        return true;
    }

    /// <summary>Until `docker logs` holds <paramref name="text"/>.</summary>
    public Task<bool> WaitForLogs(string id, string text, TimeSpan limit) =>
        Until(async () => (await Docker("logs", id)).Stdout.Contains(text, StringComparison.Ordinal), limit);

    public async ValueTask DisposeAsync()
    {
        foreach (string id in _containers)
        {
            _ = await Daemon.DockerAsync(["rm", "-f", id]);
        }
        foreach (string v in _volumes)
        {
            _ = await Daemon.DockerAsync(["volume", "rm", "-f", v]);
        }
        foreach (string n in _networks)
        {
            _ = await Daemon.DockerAsync(["network", "rm", n]);
        }
    }

    /// <summary>exit code, stdout and stderr in one string (the usual observation).</summary>
    public static string Show(CommandResult r) => $"exit={r.ExitCode} out={r.Stdout.TrimEnd()} err={r.Stderr.TrimEnd()}";
}
