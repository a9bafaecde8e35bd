using System.Collections.Concurrent;
using VmSandbox.Agent.Protocol;
using VmSandbox.Runtime;
using VmSandbox.Runtime.Containers;
using VmSandbox.Runtime.Sandbox;

namespace VmSandbox.Tests.Unit.Runtime.Lifecycle;

/// <summary>
/// A sandbox host with no VM, no processes and no cgroups: helpers are PIDs in a set, the agent
/// records what it was asked, and a SIGKILL to the container ends its monitor (as the real one does).
/// </summary>
internal sealed class FakeSandboxHost : ISandboxHost
{
    private int _nextPid = 40_000;

    private readonly ConcurrentDictionary<int, bool> _alive = new();

    /// <summary>The helper process ends (the container exited, or it was killed).</summary>
    public void Exit(int pid) => _alive.TryRemove(pid, out _);

    public List<string> Calls { get; } = [];

    /// <summary>The report the next helper sends (default: created, guest PID 7).</summary>
    public MonitorReport NextReport { get; set; } = new() { GuestPid = 7 };

    /// <summary>When set, the agent fails every call with it.</summary>
    public Exception? AgentFailure { get; set; }

    /// <summary>When set, the agent fails Signal with it (a hung guest: a timeout; a refusal: the agent's error).</summary>
    public Exception? SignalFailure { get; set; }

    public FakeCgroups FakeCgroups { get; } = new();

    public IHostCgroups Cgroups => FakeCgroups;

    /// <summary>Helpers send the interim report (in the container's network namespace) before their final one, as a monitor whose spec has create hooks does.</summary>
    public bool ReportsNamespaceReady { get; set; }

    public (IHelperProcess Helper, MonitorReport Report) Launch(HelperLaunch launch)
    {
        Calls.Add($"launch {launch.Verb} {string.Join(' ', launch.Args)}".TrimEnd());
        int pid = _nextPid++;
        _alive[pid] = true;
        var helper = new Helper(this, pid);
        try
        {
            if (ReportsNamespaceReady)
            {
                Calls.Add("namespace ready");
                launch.NamespaceReady?.Invoke(pid);
            }
            NextReport.ThrowIfFailed();
        }
        catch
        {
            helper.Abandon(TimeSpan.Zero);
            throw;
        }
        return (helper, NextReport);
    }

    public IContainerAgent Agent(ContainerRecord record) => new FakeAgent(this, record);

    public void RefillPool(VmSandbox.Runtime.Config.RuntimeConfig config, Action<string> log) => Calls.Add("refill-pool");

    public bool IsAlive(int pid, ulong startTime) => _alive.ContainsKey(pid);

    public void Kill(int pid, ulong startTime)
    {
        Calls.Add("kill monitor");
        Exit(pid);
    }

    private sealed class Helper(FakeSandboxHost host, int pid) : IHelperProcess
    {
        public int Pid => pid;

        public ulong StartTime => 1;

        public bool HasExited => !host.IsAlive(pid, 1);

        public int ExitCode => 0;

        public Task WaitForExitAsync(CancellationToken ct = default) => Task.CompletedTask;

        public HelperStdio? Stdio => null;

        public void Abandon(TimeSpan exitWait)
        {
            if (!HasExited)
            {
                host.Calls.Add("abandon helper");
                host.Exit(pid);
            }
        }

        public void Dispose()
        {
        }
    }

    private sealed class FakeAgent(FakeSandboxHost host, ContainerRecord record) : IContainerAgent
    {
        public void SyncNetwork() => Record("sync-network");

        public void Start() => Record("start");

        public void Signal(int signal, bool all)
        {
            if (host.SignalFailure is { } e)
            {
                throw e;
            }
            Record($"signal {signal}{(all ? " all" : "")}");
            if (signal == 9)
            {
                host.Exit(record.MonitorPid); // the container died: its monitor takes the VM down and exits
            }
        }

        public void KillVm()
        {
            Record("kill-vm");
            host.Exit(record.MonitorPid);
        }

        public void SignalExec(string execId, int signal) => Record($"signal {signal} exec {execId}");

        public void Pause() => Record("pause");

        public void Resume() => Record("resume");

        public void Update(byte[] resourcesJson) => Record("update " + System.Text.Encoding.UTF8.GetString(resourcesJson));

        public ListProcessesResponse ListProcesses()
        {
            Record("ps");
            return new ListProcessesResponse();
        }

        public StatsResponse Stats()
        {
            Record("stats");
            return new StatsResponse();
        }

        private void Record(string call)
        {
            if (host.AgentFailure is { } e)
            {
                throw e;
            }
            host.Calls.Add(call);
        }
    }
}

internal sealed class FakeCgroups : IHostCgroups
{
    public List<string> Calls { get; } = [];

    public IReadOnlyList<string> Resolve(string? cgroupsPath, string id, bool systemd) => ["/fake/cgroup/" + id];

    public void ThrowIfFrozen(IReadOnlyList<string> dirs)
    {
    }

    public int CountProcesses(IReadOnlyList<string> dirs) => 0;

    public void SetCpuset(IReadOnlyList<string> dirs, string? cpus, string? mems) => Calls.Add($"cpuset {cpus}");

    public bool Remove(IReadOnlyList<string> dirs, TimeSpan wait)
    {
        Calls.Add("remove " + string.Join(',', dirs));
        return true;
    }
}

internal sealed class ListLog : IRuntimeLog
{
    public List<string> Lines { get; } = [];

    public void Warn(string message) => Lines.Add("warn: " + message);

    public void Debug(string message) => Lines.Add("debug: " + message);
}
