using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace VmSandbox.TestSupport.Containerd;

/// <summary>ctr against this daemon, and what tests read back from it.</summary>
public sealed partial class ContainerdDaemon
{
    /// <summary>A row of `ctr task ls`.</summary>
    public sealed record TaskRow(string Id, int Pid, string Status);

    /// <summary>ctr's global flags for this daemon and the test namespace.</summary>
    public IReadOnlyList<string> CtrCommand(params IEnumerable<string> args) => [CtrPath, "-a", Socket, "-n", Namespace, .. args];

    public Task<CommandResult> CtrAsync(IEnumerable<string> args, TimeSpan timeout, string? stdin = null) =>
        CtrInAsync(Namespace, args, timeout, stdin);

    /// <summary>ctr in another containerd namespace (CRI's is <see cref="CriNamespace"/>).</summary>
    public Task<CommandResult> CtrInAsync(string ns, IEnumerable<string> args, TimeSpan timeout, string? stdin = null) =>
        ChildProcess.RunAsync(CtrPath, ["-a", Socket, "-n", ns, .. args], timeout, stdin);

    /// <summary>ctr left running with its stdio as pipes (to feed stdin while the task runs).</summary>
    public ChildProcess StartCtr(IEnumerable<string> args)
    {
        IReadOnlyList<string> command = CtrCommand(args);
        return ChildProcess.Start(command[0], command.Skip(1));
    }

    /// <summary>The task's row in `ctr task ls`, or null when containerd lists no task of that id.</summary>
    public async Task<TaskRow?> TaskAsync(string id)
    {
        CommandResult r = await CtrAsync(["task", "ls"], TimeSpan.FromSeconds(30));
        if (r.ExitCode != 0)
        {
            throw new InvalidOperationException($"list tasks: {r}");
        }
        foreach (string line in r.Stdout.Split('\n').Skip(1))
        {
            string[] f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length == 3 && f[0] == id)
            {
                return new TaskRow(f[0], int.Parse(f[1], System.Globalization.CultureInfo.InvariantCulture), f[2]);
            }
        }
        return null;
    }

    /// <summary>Polls `ctr task ls` until <paramref name="done"/> holds for the task's row (null: not listed).</summary>
    public async Task<TaskRow?> WaitForTaskAsync(string id, Func<TaskRow?, bool> done, string what, TimeSpan timeout)
    {
        DateTime deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            TaskRow? row = await TaskAsync(id);
            if (done(row))
            {
                return row;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"task {id} not {what} within {timeout.TotalSeconds:0} s: `ctr task ls` shows {row?.ToString() ?? "no such task"}");
            }
            await Task.Delay(200);
        }
    }

    public Task<TaskRow?> WaitForStatusAsync(string id, string status, TimeSpan timeout) =>
        WaitForTaskAsync(id, row => row?.Status == status, status, timeout);

    /// <summary>Best effort, for a test's finally: kill the task, delete it and the container.</summary>
    public async Task RemoveAsync(string id)
    {
        try
        {
            if (await TaskAsync(id) is { } row)
            {
                if (row.Status != "STOPPED")
                {
                    _ = await CtrAsync(["task", "kill", "--all", "--signal", "SIGKILL", id], TimeSpan.FromSeconds(30));
                    _ = await WaitForTaskAsync(id, r => r is null || r.Status == "STOPPED", "stopped", TimeSpan.FromSeconds(60));
                }
                _ = await CtrAsync(["task", "delete", "--force", id], TimeSpan.FromMinutes(1));
            }
            _ = await CtrAsync(["containers", "rm", id], TimeSpan.FromMinutes(1));
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException)
        {
            // The test has already failed or passed; the fixture sweeps again at the end.
        }
        RemoveStaleRuncSocket(Namespace, id);
    }

    /// <summary>
    /// The runc shim listens on /run/containerd/s/HEX(sha256(ADDRESS/NAMESPACE/ID)) (containerd 1.6
    /// runtime/v2/shim SocketAddress) and leaves the file there when it is killed: neither its
    /// `delete` nor containerd removes it.
    /// </summary>
    private void RemoveStaleRuncSocket(string ns, string id)
    {
        string path = Path.Combine("/run/containerd/s", Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{Socket}/{ns}/{id}"))));
        if (!File.Exists(path))
        {
            return;
        }
        using var probe = new System.Net.Sockets.Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(path));
        }
        catch (SocketException)
        {
            File.Delete(path); // nobody listens: a dead shim's
        }
    }

    /// <summary>Every task and container of the test namespace, so that the shims exit before containerd does.</summary>
    private async Task RemoveEverythingAsync()
    {
        try
        {
            CommandResult tasks = await CtrAsync(["task", "ls", "--quiet"], TimeSpan.FromSeconds(30));
            CommandResult containers = await CtrAsync(["containers", "ls", "--quiet"], TimeSpan.FromSeconds(30));
            foreach (string id in tasks.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Union(containers.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)))
            {
                await RemoveAsync(id.Trim());
            }
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException)
        {
            // Stopping containerd and killing its shims below is the fallback.
        }
    }
}
