using System.Text.Json;
using VmSandbox.TestSupport.Reliability;
using Xunit;

namespace VmSandbox.Tests.Vm;

/// <summary>
/// Two CLI calls on one container at once end as runc's do, and leave a state that the next call
/// reads right and that delete removes completely. runc 1.1.5's answers, seen on this host with a
/// busybox bundle: of two creates one fails ("container with given ID already exists"; runc 1.2:
/// "container with id exists"); of two starts one fails with "cannot start an already running
/// container"; a kill during create finds "container does not exist" and then "container not
/// running" until the container is created; `state` during a delete says running, then stopped,
/// then "container does not exist"; a delete during a start either kills what start started or
/// is refused because it runs. The locking that makes ours so is <c>ContainerLock</c>.
/// </summary>
[Collection(LifecycleCollection.Name)]
public sealed class ConcurrentCallsTests(BundleFixture fx)
{
    private const string Area = "Concurrent calls";

    private static string? StatusIn(TestEnvironment.CliResult state) =>
        state.ExitCode == 0 ? JsonDocument.Parse(state.Stdout).RootElement.GetProperty("status").GetString() : null;

    private async Task<string> StatusAsync(string root, string id)
    {
        var state = await fx.Cli(root, "state", id);
        return StatusIn(state) ?? (state.Stderr.Contains("does not exist", StringComparison.Ordinal) ? "gone" : $"error: {state.Stderr.Trim()}");
    }

    /// <summary>Waits (up to 60 s) until `state` says <paramref name="status"/>; returns the last answer.</summary>
    private async Task<string> WaitStatusAsync(string root, string id, string status)
    {
        string now = await StatusAsync(root, id);
        for (int i = 0; i < 600 && now != status; i++)
        {
            await Task.Delay(100, CancellationToken.None);
            now = await StatusAsync(root, id);
        }
        return now;
    }

    /// <summary>The end of every case: a forced delete succeeds and nothing of the container is left.</summary>
    private async Task<string?> DeleteLeavesNothingAsync(string root, string id)
    {
        var d = await fx.Cli(root, "delete", "--force", id);
        if (d.ExitCode != 0)
        {
            return $"delete --force: exit {d.ExitCode}: {d.Stderr.Trim()}";
        }
        try
        {
            fx.AssertNothingLeft(root, id);
            Assert.Empty(Directory.GetFileSystemEntries(root));
            return null;
        }
        catch (Exception e) when (e is Xunit.Sdk.XunitException)
        {
            return $"left after delete: {e.Message}";
        }
    }

    private static bool Failed(TestEnvironment.CliResult r, string words) => r.ExitCode != 0 && r.Stderr.Contains(words, StringComparison.Ordinal);

    [Fact]
    [Trait("Category", "Reliability")]
    public async Task Two_creates_of_one_id_at_once_one_wins()
    {
        string root = fx.NewRoot();
        string sleeper = fx.Bundle("sleep", "100000");
        TestEnvironment.CliResult[] both = await Task.WhenAll(fx.Cli(root, "create", "--bundle", sleeper, "twin"), fx.Cli(root, "create", "--bundle", sleeper, "twin"));
        int won = both.Count(r => r.ExitCode == 0);
        int refused = both.Count(r => Failed(r, "container with id exists: twin"));
        string status = await StatusAsync(root, "twin");
        string? left = await DeleteLeavesNothingAsync(root, "twin");
        string observed = $"exits {both[0].ExitCode} and {both[1].ExitCode}; loser said [{both.FirstOrDefault(r => r.ExitCode != 0)?.Stderr.Trim()}]; state then {status}; {left ?? "delete left nothing"}";
        Assert.True(ReliabilityLog.Record(Area, "two creates of one ID at once",
            "two `create --bundle B twin` at once",
            "exactly one succeeds; the other fails with \"container with id exists: twin\" (runc: \"container with given ID already exists\") and touches nothing of the winner's; state created; delete leaves nothing",
            observed, won == 1 && refused == 1 && status == "created" && left is null), observed);
    }

    [Fact]
    [Trait("Category", "Reliability")]
    public async Task Two_starts_at_once_one_runs_the_container()
    {
        string root = fx.NewRoot();
        var created = await fx.Cli(root, "create", "--bundle", fx.Bundle("sleep", "100000"), "twostart");
        Assert.True(created.ExitCode == 0, created.Stderr);
        TestEnvironment.CliResult[] both = await Task.WhenAll(fx.Cli(root, "start", "twostart"), fx.Cli(root, "start", "twostart"));
        int won = both.Count(r => r.ExitCode == 0);
        int refused = both.Count(r => Failed(r, "cannot start an already running container"));
        string status = await StatusAsync(root, "twostart");
        string? left = await DeleteLeavesNothingAsync(root, "twostart");
        string observed = $"exits {both[0].ExitCode} and {both[1].ExitCode}; loser said [{both.FirstOrDefault(r => r.ExitCode != 0)?.Stderr.Trim()}]; state then {status}; {left ?? "delete left nothing"}";
        Assert.True(ReliabilityLog.Record(Area, "two starts at once",
            "`create`, then two `start` of it at once",
            "exactly one succeeds; the other fails with runc's \"cannot start an already running container\"; state running; delete leaves nothing",
            observed, won == 1 && refused == 1 && status == "running" && left is null), observed);
    }

    [Fact]
    [Trait("Category", "Reliability")]
    public async Task Delete_during_start_ends_in_one_of_runcs_outcomes()
    {
        string root = fx.NewRoot();
        var created = await fx.Cli(root, "create", "--bundle", fx.Bundle("sleep", "100000"), "delstart");
        Assert.True(created.ExitCode == 0, created.Stderr);
        Task<TestEnvironment.CliResult> start = fx.Cli(root, "start", "delstart");
        Task<TestEnvironment.CliResult> delete = fx.Cli(root, "delete", "delstart");
        TestEnvironment.CliResult s = await start, d = await delete;
        string status = await StatusAsync(root, "delstart");
        // Either start ran it first (then the plain delete is refused, as runc refuses a running
        // container) or delete removed the created container first (then start finds none).
        bool startFirst = s.ExitCode == 0 && Failed(d, "cannot delete container delstart that is not stopped: running") && status == "running";
        bool deleteFirst = d.ExitCode == 0 && Failed(s, "container delstart does not exist") && status == "gone";
        string? left = await DeleteLeavesNothingAsync(root, "delstart");
        string observed = $"start exit {s.ExitCode} [{s.Stderr.Trim()}], delete exit {d.ExitCode} [{d.Stderr.Trim()}]; state then {status}; {left ?? "delete left nothing"}";
        Assert.True(ReliabilityLog.Record(Area, "delete during start",
            "`create`, then `start` and `delete` of it at once",
            "one goes first and the other answers what it left, in runc's words: start runs it and delete is refused (\"cannot delete container ID that is not stopped: running\"), or delete removes it and start finds \"container ID does not exist\"; delete leaves nothing",
            observed, (startFirst || deleteFirst) && left is null), observed);
    }

    [Fact]
    [Trait("Category", "Reliability")]
    public async Task Kill_during_create_is_refused_until_the_container_exists()
    {
        string root = fx.NewRoot();
        Task<TestEnvironment.CliResult> create = fx.Cli(root, "create", "--bundle", fx.Bundle("sleep", "100000"), "killcreate");
        var answers = new List<string>();
        bool wrong = false, killedDuring = false;
        for (int i = 0; i < 200 && !create.IsCompleted; i++)
        {
            var k = await fx.Cli(root, "kill", "killcreate", "KILL");
            if (k.ExitCode == 0)
            {
                // The record said created before the create call returned (runc did the same once).
                killedDuring = true;
                answers.Add("killed");
                break;
            }
            // While create runs the container is not there yet, or creating: runc's two answers.
            wrong |= !(Failed(k, "container killcreate does not exist") || Failed(k, "container not running"));
            answers.Add(k.Stderr.Trim());
            await Task.Delay(100, CancellationToken.None);
        }
        var c = await create;
        string statusAfterCreate = await StatusAsync(root, "killcreate");
        var kill = killedDuring ? c : await fx.Cli(root, "kill", "killcreate", "KILL");
        string statusAfterKill = await WaitStatusAsync(root, "killcreate", "stopped");
        var plainDelete = await fx.Cli(root, "delete", "killcreate");
        string? left = plainDelete.ExitCode == 0 ? null : $"delete: exit {plainDelete.ExitCode}: {plainDelete.Stderr.Trim()}";
        left ??= await DeleteLeavesNothingAsync(root, "killcreate");
        string distinct = string.Join("; ", answers.GroupBy(a => a).Select(g => $"{g.Count()}× [{g.Key}]"));
        string observed = $"{answers.Count} kills during create: {distinct}; create exit {c.ExitCode}; state then {statusAfterCreate}; "
            + $"kill after it exit {kill.ExitCode}, state {statusAfterKill}; {left ?? "delete left nothing"}";
        Assert.True(ReliabilityLog.Record(Area, "kill during create",
            "`create` of a container and, while it runs, `kill ID KILL` every 100 ms; then one kill after create returned",
            "the kills during create fail with runc's \"container does not exist\" or \"container not running\"; create still succeeds (created); the kill after it stops the container; delete leaves nothing",
            observed, answers.Count > 0 && !wrong && c.ExitCode == 0 && statusAfterCreate is "created" or "stopped" && kill.ExitCode == 0 && statusAfterKill == "stopped" && left is null), observed);
    }

    [Fact]
    [Trait("Category", "Reliability")]
    public async Task State_during_delete_goes_running_stopped_gone()
    {
        string root = fx.NewRoot();
        var run = await fx.Cli(root, "run", "--detach", "--bundle", fx.Bundle("sleep", "100000"), "statedel");
        Assert.True(run.ExitCode == 0, run.Stderr);
        Task<TestEnvironment.CliResult> delete = fx.Cli(root, "delete", "--force", "statedel");
        var seen = new List<string>();
        for (int i = 0; i < 600 && !delete.IsCompleted; i++)
        {
            seen.Add(await StatusAsync(root, "statedel"));
        }
        var d = await delete;
        seen.Add(await StatusAsync(root, "statedel"));
        // runc's order: running, then stopped, then gone; never back, never anything else.
        string[] order = ["running", "stopped", "gone"];
        int[] ranks = [.. seen.Select(s => Array.IndexOf(order, s))];
        bool monotone = ranks.All(r => r >= 0) && ranks.Zip(ranks.Skip(1)).All(p => p.First <= p.Second) && ranks[^1] == 2;
        string? left = d.ExitCode == 0 ? null : $"delete: exit {d.ExitCode}: {d.Stderr.Trim()}";
        left ??= await DeleteLeavesNothingAsync(root, "statedel");
        string observed = $"{seen.Count} states: {string.Join(" → ", seen.Zip(seen.Skip(1).Append("")).Where(p => p.First != p.Second).Select(p => p.First))} "
            + $"({string.Join(", ", order.Select(o => $"{seen.Count(s => s == o)} {o}"))}); {left ?? "delete left nothing"}";
        Assert.True(ReliabilityLog.Record(Area, "state during delete",
            "`run --detach`, then `delete --force` and, while it runs, `state` over and over",
            "each state answers running, then stopped, then \"container does not exist\", in that order (runc's); delete succeeds and leaves nothing",
            observed, monotone && left is null), observed);
    }
}
