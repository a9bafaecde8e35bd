using VmSandbox.Agent.Protocol;
using VmSandbox.Common;
using VmSandbox.Interop;
using VmSandbox.Oci;
using VmSandbox.Oci.Spec;

namespace VmSandbox.Agent.Containers;

/// <summary>Signals, waits, terminals, listing, stats, freezing, limits and removal.</summary>
public sealed partial class ContainerManager
{
    public static readonly TimeSpan FreezeTimeout = TimeSpan.FromSeconds(10);

    public void Signal(SignalProcessRequest request)
    {
        Container container = Get(request.ContainerId);
        int signal = (int)request.Signal;
        if (signal is <= 0 or > 64)
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, $"signal container {container.Id}: invalid signal {request.Signal}");
        }
        if (request.All)
        {
            foreach (int pid in container.Cgroup.Processes())
            {
                _ = ProcessCalls.Kill(pid, signal);
            }
            return;
        }
        ContainerProcess process = GetProcess(container, request.ExecId);
        if (process.HasExited || !ProcessCalls.Kill(process.Pid, signal))
        {
            // runc compat: "container not running" / "process already finished".
            throw new VmSandboxException(ErrorCode.NotFound, $"signal {(request.ExecId.Length == 0 ? "container " + container.Id : "exec " + request.ExecId)}: process already finished");
        }
    }

    public Task<WaitProcessResponse> WaitAsync(WaitProcessRequest request, CancellationToken cancellationToken) =>
        GetProcess(Get(request.ContainerId), request.ExecId).WaitAsync(cancellationToken);

    public void ResizeTty(ResizeTtyRequest request)
    {
        ContainerProcess process = GetProcess(Get(request.ContainerId), request.ExecId);
        SafeFd master = process.Stdio.Master
            ?? throw new VmSandboxException(ErrorCode.FailedPrecondition, $"resize tty of {Describe(request.ContainerId, request.ExecId)}: no terminal");
        Pty.SetSize(master, TerminalSize.Clamp(request.Rows, request.Columns));
    }

    public void CloseStdin(CloseStdinRequest request) =>
        GetProcess(Get(request.ContainerId), request.ExecId).Stdio.CloseStdinAfter(request.StdinBytes);

    public ListProcessesResponse List(ListProcessesRequest request)
    {
        Container container = Get(request.ContainerId);
        var byPid = new Dictionary<int, string>();
        lock (container)
        {
            byPid[container.Init!.Pid] = "";
            foreach (var (execId, p) in container.Execs)
            {
                byPid[p.Pid] = execId;
            }
        }
        var response = new ListProcessesResponse();
        foreach (int pid in container.Cgroup.Processes())
        {
            if (ProcInfo.Read(pid) is not { } info)
            {
                continue;
            }
            info.ExecId = byPid.GetValueOrDefault(pid, "");
            response.Processes.Add(info);
        }
        return response;
    }

    public StatsResponse Stats(StatsRequest request) => Get(request.ContainerId).Cgroup.Stats();

    public void Pause(PauseContainerRequest request) => Get(request.ContainerId).Cgroup.Freeze(true, FreezeTimeout);

    public void Resume(ResumeContainerRequest request) => Get(request.ContainerId).Cgroup.Freeze(false, FreezeTimeout);

    public void Update(UpdateContainerRequest request)
    {
        Container container = Get(request.ContainerId);
        // Parsed through a spec so that the OCI library's rules and error positions apply.
        string json = "{\"ociVersion\":\"1.0.2\",\"linux\":{\"resources\":" + request.Resources.ToStringUtf8() + "}}";
        RuntimeSpec spec = SpecLoader.Parse(System.Text.Encoding.UTF8.GetBytes(json), "resources");
        container.Cgroup.Apply(spec.Linux?.Resources);
    }

    public async Task RemoveAsync(RemoveContainerRequest request)
    {
        Container container = Get(request.ContainerId);
        await Task.Run(() => Destroy(container, TimeSpan.FromMilliseconds(request.TimeoutMs))).ConfigureAwait(false);
        lock (_lock)
        {
            _containers.Remove(container.Id);
        }
        PrespawnIfEmpty();
    }

    /// <summary>SIGTERM, the grace period, SIGKILL to every process, then the cgroup and shares go.</summary>
    private void Destroy(Container container, TimeSpan grace)
    {
        ContainerProcess? init = container.Init;
        try
        {
            container.Cgroup.Freeze(false, FreezeTimeout);
        }
        catch (VmSandboxException)
        {
            // A cgroup that cannot thaw still gets killed below.
        }
        if (init is not null && !init.HasExited && grace > TimeSpan.Zero)
        {
            _ = ProcessCalls.Kill(init.Pid, SIGTERM);
            _ = init.Exited.Wait(grace);
        }
        if (!container.Cgroup.KillAll())
        {
            foreach (int pid in SafeProcesses(container))
            {
                _ = ProcessCalls.Kill(pid, SIGKILL);
            }
        }
        if (init is not null && init.Pid > 0)
        {
            _ = ProcessCalls.Kill(init.Pid, SIGKILL);
            _ = init.Exited.Wait(TimeSpan.FromSeconds(10));
        }
        init?.Channel?.Dispose();
        init?.Stdio.Dispose();
        lock (container)
        {
            foreach (ContainerProcess exec in container.Execs.Values)
            {
                exec.Channel?.Dispose();
                exec.Stdio.Dispose();
            }
        }
        try
        {
            container.Cgroup.Remove(TimeSpan.FromSeconds(5));
        }
        finally
        {
            foreach (string tag in container.Shares)
            {
                _shares.Release(tag);
            }
            container.Shares.Clear();
        }
    }

    private static IReadOnlyList<int> SafeProcesses(Container container)
    {
        try
        {
            return container.Cgroup.Processes();
        }
        catch (VmSandboxException)
        {
            return [];
        }
    }

    private static string Describe(string containerId, string execId) =>
        execId.Length == 0 ? $"container {containerId}" : $"exec {execId} in container {containerId}";
}
