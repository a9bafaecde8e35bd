using System.Diagnostics;
using VmSandbox.Agent.Protocol;
using VmSandbox.Interop;
using VmSandbox.Runtime.Sandbox;
using VmSandbox.Ttrpc;

namespace VmSandbox.Runtime.Containers;

/// <summary>
/// The real <see cref="ISandboxHost"/>: helpers are <paramref name="executable"/> (the runtime's
/// own binary) under a hidden verb with <paramref name="globalArgs"/> (--root, --log, …); the agent
/// is reached through the sandbox's hybrid vsock socket, the monitor through its control socket.
/// With <paramref name="reapsHelpers"/> (the containerd shim, which waits for its helpers) they
/// are .NET processes; without (a CLI call, whose caller gets their PIDs and reaps them once we
/// have exited) they are <see cref="UnreapedHelper"/>s.
/// </summary>
public sealed class OsSandboxHost(string executable, IReadOnlyList<string> globalArgs, bool reapsHelpers) : ISandboxHost
{
    private static readonly TimeSpan s_failedHelperExit = TimeSpan.FromSeconds(30);

    public IHostCgroups Cgroups { get; } = new OsHostCgroups();

    public (IHelperProcess Helper, MonitorReport Report) Launch(HelperLaunch launch)
    {
        using var report = new ReportChannel(launch.ReportSocket);
        IReadOnlyList<string> verbArgs = [launch.Verb, "--report", report.Path, .. launch.Args];
        IHelperProcess helper;
        if (reapsHelpers)
        {
            Process process = HelperProcess.Start(executable, globalArgs, verbArgs, launch.Id, launch.TtyPath, launch.PipeStdio);
            HelperStdio? stdio = launch.PipeStdio && launch.TtyPath is null
                ? new HelperStdio(process.StandardInput.BaseStream, process.StandardOutput.BaseStream, process.StandardError.BaseStream)
                : null;
            helper = new OsHelper(process, stdio);
        }
        else
        {
            helper = launch.PipeStdio && launch.TtyPath is null
                ? throw new Common.VmSandboxException(Common.ErrorCode.Internal, $"{launch.What}: piped stdio need a caller that reaps its helpers")
                : UnreapedHelper.Start(executable, globalArgs, verbArgs, launch.Id, launch.TtyPath);
        }
        try
        {
            MonitorReport outcome = report.Await(helper, launch.Timeout, launch.What,
                launch.NamespaceReady is { } ready ? () => ready(helper.Pid) : null);
            if (outcome.Error is not null)
            {
                // It reported its failure and is on its way out: its exit comes before a kill.
                helper.WaitForExitAsync().Wait(s_failedHelperExit);
                outcome.ThrowIfFailed();
            }
            return (helper, outcome);
        }
        catch
        {
            helper.Abandon(s_failedHelperExit);
            helper.Dispose();
            throw;
        }
    }

    public IContainerAgent Agent(ContainerRecord record) => new OsContainerAgent(record);

    public void RefillPool(Config.RuntimeConfig config, Action<string> log)
    {
        try
        {
            WarmPool.Refill(config, dir =>
            {
                // Pipes closed at once (it moves to /dev/null): the caller's own stdio, Docker's
                // shim's pipes, must not stay open in a process that outlives it.
                using Process p = HelperProcess.Start(executable, globalArgs, [PoolVm.Verb], dir, ttyPath: null, pipeStdio: true);
                p.StandardInput.Close();
                p.StandardOutput.Close();
                p.StandardError.Close();
            }, log);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // The container runs; the next create tries again.
            log($"warm pool: refill: {e.Message}");
        }
    }

    public bool IsAlive(int pid, ulong startTime) => ProcessProbe.IsAlive(pid, startTime);

    public void Kill(int pid, ulong startTime)
    {
        SafeFd pidfd;
        try
        {
            pidfd = PidFd.Open(pid);
        }
        catch (Common.VmSandboxException)
        {
            return; // gone already
        }
        using (pidfd)
        {
            // The pidfd pins the process: checked after opening it, the start time names the one we signal.
            if (startTime == 0 || ProcessProbe.StartTime(pid) == startTime)
            {
                _ = PidFd.SendSignal(pidfd, 9);
            }
        }
    }

    private sealed class OsHelper(Process process, HelperStdio? stdio) : IHelperProcess
    {
        public int Pid => process.Id;

        public ulong StartTime { get; } = ProcessProbe.StartTime(process.Id) ?? 0;

        public bool HasExited => process.HasExited;

        public int ExitCode => process.ExitCode;

        public Task WaitForExitAsync(CancellationToken ct = default) => process.WaitForExitAsync(ct);

        public HelperStdio? Stdio => stdio;

        /// <summary>.NET reaps it on exit; the kill goes through the handle, so never to a reused PID.</summary>
        public void Abandon(TimeSpan exitWait)
        {
            if (!process.HasExited)
            {
                try
                {
                    process.Kill();
                }
                catch (InvalidOperationException)
                {
                    // exited meanwhile
                }
                process.WaitForExit(exitWait);
            }
        }

        public void Dispose() => process.Dispose();
    }

    /// <summary>One short call per operation, each on its own connection to the agent.</summary>
    private sealed class OsContainerAgent(ContainerRecord record) : IContainerAgent
    {
        private static readonly TtrpcCallOptions s_call = new() { Timeout = TimeSpan.FromSeconds(30) };
        private static readonly TimeSpan s_killAnswer = TimeSpan.FromSeconds(5);

        private string Id => record.Id;

        public void SyncNetwork() => MonitorControl.Request(record.VmRunDir(), MonitorControl.SyncNetwork, TimeSpan.FromSeconds(60));

        public void Start() => Call(a => a.StartContainerAsync(new StartContainerRequest { ContainerId = Id }, s_call, CancellationToken.None));

        public void Signal(int signal, bool all)
        {
            if (signal != 9)
            {
                Call(a => a.SignalProcessAsync(new SignalProcessRequest { ContainerId = Id, Signal = (uint)signal, All = all }, s_call, CancellationToken.None));
                return;
            }
            // SIGKILL is answered in milliseconds by a live agent; one that stays silent this long
            // has its VM killed instead (Container.Kill), so kill -9 and delete --force stay bounded.
            using var bound = new CancellationTokenSource(s_killAnswer);
            try
            {
                CallAsync(a => a.SignalProcessAsync(new SignalProcessRequest { ContainerId = Id, Signal = 9, All = all }, new TtrpcCallOptions { Timeout = s_killAnswer }, bound.Token), bound.Token)
                    .GetAwaiter().GetResult();
            }
            catch (OperationCanceledException)
            {
                throw new Common.VmSandboxException(Common.ErrorCode.Timeout, $"the guest agent did not answer within {s_killAnswer.TotalSeconds:F0}s");
            }
        }

        public void KillVm() => MonitorControl.Request(record.VmRunDir(), MonitorControl.KillVm, TimeSpan.FromSeconds(15));

        public void SignalExec(string execId, int signal) =>
            Call(a => a.SignalProcessAsync(new SignalProcessRequest { ContainerId = Id, ExecId = execId, Signal = (uint)signal }, s_call, CancellationToken.None));

        public void Pause() => Call(a => a.PauseContainerAsync(new PauseContainerRequest { ContainerId = Id }, s_call, CancellationToken.None));

        public void Resume() => Call(a => a.ResumeContainerAsync(new ResumeContainerRequest { ContainerId = Id }, s_call, CancellationToken.None));

        public void Update(byte[] resourcesJson) => Call(a => a.UpdateContainerAsync(
            new UpdateContainerRequest { ContainerId = Id, Resources = Google.Protobuf.ByteString.CopyFrom(resourcesJson) }, s_call, CancellationToken.None));

        public ListProcessesResponse ListProcesses() => Call(a => a.ListProcessesAsync(new ListProcessesRequest { ContainerId = Id }, s_call, CancellationToken.None));

        public StatsResponse Stats() => Call(a => a.StatsAsync(new StatsRequest { ContainerId = Id }, s_call, CancellationToken.None));

        private T Call<T>(Func<AgentClient, Task<T>> call) => CallAsync(call, CancellationToken.None).GetAwaiter().GetResult();

        private async Task<T> CallAsync<T>(Func<AgentClient, Task<T>> call, CancellationToken ct)
        {
            await using AgentConnection conn = await AgentConnection.ConnectAsync(record.VmRunDir(), ct);
            return await call(conn.Agent);
        }
    }

    private sealed class OsHostCgroups : IHostCgroups
    {
        public IReadOnlyList<string> Resolve(string? cgroupsPath, string id, bool systemd) =>
            HostCgroup.Resolve(cgroupsPath, id, systemd, File.ReadLines("/proc/self/mountinfo"), File.ReadLines("/proc/self/cgroup"));

        public void ThrowIfFrozen(IReadOnlyList<string> dirs) => HostCgroup.ThrowIfFrozen(dirs);

        public int CountProcesses(IReadOnlyList<string> dirs) => HostCgroup.CountProcesses(dirs);

        public void SetCpuset(IReadOnlyList<string> dirs, string? cpus, string? mems) => HostCgroup.SetCpuset(dirs, cpus, mems);

        public bool Remove(IReadOnlyList<string> dirs, TimeSpan wait) => HostCgroup.Remove(dirs, wait);
    }
}
