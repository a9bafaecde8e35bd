using System.Globalization;
using VmSandbox.Runtime.Containers;
using Xunit;

namespace VmSandbox.Tests.Vm;

/// <summary>
/// Many short containers, several at once, each checked for its exit status and every byte of its
/// output, through both ways in: `run`, and Docker's create + start with stdin at /dev/null and
/// the status from the monitor (containerd-shim-runc-v2 reaps the monitor; here its exit file,
/// which holds what it exits with). The monitor's WaitProcess could be refused by the agent's
/// ttrpc server when its own CloseStdin overtook it on the wire, and the status became 255
/// (about 1 container in 60 the Docker way under load). The default suite runs 16;
/// VMSANDBOX_STRESS=COUNT asks for more (`make stress`: 300 containers).
/// </summary>
[Collection(LifecycleCollection.Name)]
public sealed class ExitStatusStressTests(BundleFixture fx)
{
    public const string CountVariable = "VMSANDBOX_STRESS";
    private const int Concurrency = 4;

    /// <summary>How many the default suite runs; `make stress` asks for 300 through <see cref="CountVariable"/>.</summary>
    private const int DefaultCount = 16;

    [Fact]
    public async Task Short_containers_under_load_keep_status_and_output()
    {
        string? requested = Environment.GetEnvironmentVariable(CountVariable);
        if (!int.TryParse(requested, NumberStyles.None, CultureInfo.InvariantCulture, out int count) || count <= 0)
        {
            count = DefaultCount;
        }
        // Keep the CPUs busy as other VMs would: two idle sandboxes and a busy loop.
        string root = fx.NewRoot();
        string sleeper = fx.Bundle("sleep", "100000");
        for (int i = 0; i < 2; i++)
        {
            var r = await fx.Cli(root, "run", "--detach", "--bundle", sleeper, $"idle{i}");
            Assert.True(r.ExitCode == 0, $"idle{i}: {r.Stderr}");
        }
        using var busy = new CancellationTokenSource();
        Task spin = Task.Factory.StartNew(() =>
        {
            while (!busy.IsCancellationRequested)
            {
                Thread.SpinWait(1000);
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        try
        {
            await RunManyAsync(count);
        }
        finally
        {
            await busy.CancelAsync();
            await spin;
            for (int i = 0; i < 2; i++)
            {
                _ = await fx.Cli(root, "delete", "--force", $"idle{i}");
            }
        }
    }

    private async Task RunManyAsync(int count)
    {
        string root = fx.NewRoot();
        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
        int right = 0;
        using var slots = new SemaphoreSlim(Concurrency);
        Task[] all = [.. Enumerable.Range(1, count).Select(async n =>
        {
            await slots.WaitAsync(TestContext.Current.CancellationToken);
            try
            {
                string? failure = n % 2 == 0 ? await ViaRunAsync(root, n) : await ViaCreateStartAsync(root, n);
                if (failure is null)
                {
                    Interlocked.Increment(ref right);
                }
                else
                {
                    failures.Enqueue(failure);
                }
            }
            finally
            {
                slots.Release();
            }
        })];
        await Task.WhenAll(all);
        TestContext.Current.SendDiagnosticMessage($"{count} containers, {right} with the right status and output");
        Assert.True(failures.IsEmpty, $"{failures.Count} of {count} wrong:\n{string.Join('\n', failures.Take(10))}");
        Assert.Empty(Directory.GetFileSystemEntries(root));
    }

    private static string Script(int n) => $"echo out-{n}; echo err-{n} >&2; exit {n % 7}";

    private async Task<string?> ViaRunAsync(string root, int n)
    {
        string id = $"run{n}";
        using PipedCli run = Start(["--root", root, "run", "--bundle", fx.Bundle("sh", "-c", Script(n)), id]);
        int code = await run.ExitedAsync();
        return Check(n, id, code, await run.Stdout.WaitAsync(s_timeout), await run.Stderr.WaitAsync(s_timeout), "");
    }

    private async Task<string?> ViaCreateStartAsync(string root, int n)
    {
        string id = $"cs{n}";
        string bundle = fx.Bundle("sh", "-c", Script(n));
        string pidFile = Path.Combine(bundle, "pid");
        // As the shim: our pipes are the container's stdio, read to EOF (the monitor holds them).
        using PipedCli create = Start(["--root", root, "create", "--bundle", bundle, "--pid-file", pidFile, id]);
        int created = await create.ExitedAsync();
        if (created != 0)
        {
            return $"{id}: create exited {created}: {await create.Stderr.WaitAsync(s_timeout)}";
        }
        int monitor = int.Parse(File.ReadAllText(pidFile), CultureInfo.InvariantCulture);
        TestEnvironment.CliResult s = await fx.Cli(root, "start", id);
        string notes = s.ExitCode == 0 ? "" : $" start exited {s.ExitCode}: {s.Stderr}";
        DateTime deadline = DateTime.UtcNow + s_timeout;
        while (Directory.Exists($"/proc/{monitor}") && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }
        string stdout = await create.Stdout.WaitAsync(s_timeout);
        string stderr = await create.Stderr.WaitAsync(s_timeout);
        string exitFile = Path.Combine(root, id, ContainerStore.ExitFile);
        int status = File.Exists(exitFile) ? int.Parse(File.ReadAllText(exitFile), CultureInfo.InvariantCulture) : -1;
        string logPath = Path.Combine(root, id, "monitor.log");
        string monitorLog = File.Exists(logPath) ? File.ReadAllText(logPath) : "";
        TestEnvironment.CliResult d = await fx.Cli(root, "delete", id);
        if (d.ExitCode != 0)
        {
            notes += $" delete exited {d.ExitCode}: {d.Stderr}";
        }
        string? failure = Check(n, id, status, stdout, stderr, notes);
        return failure is null ? null : $"{failure}\n  monitor.log: {monitorLog.Replace("\n", "\n  ")}";
    }

    private static string? Check(int n, string id, int status, string stdout, string stderr, string notes)
    {
        string wantOut = $"out-{n}\n";
        string wantErr = $"err-{n}\n";
        return status == n % 7 && stdout == wantOut && stderr == wantErr && notes.Length == 0
            ? null
            : $"{id}: status {status} (want {n % 7}), stdout [{stdout}], stderr [{stderr}]{notes}";
    }

    private static readonly TimeSpan s_timeout = PipedCli.Timeout;

    private PipedCli Start(string[] args) => PipedCli.Start(fx, args);
}
