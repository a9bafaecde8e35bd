using System.Text;
using Grpc.Core;
using VmSandbox.TestSupport.Containerd.Cri.V1;

namespace VmSandbox.TestSupport.Containerd.Cri;

/// <summary>
/// The CRI calls a kubelet makes for a pod, in its order and with the configuration it builds
/// (pkg/kubelet/kuberuntime): RunPodSandbox with the pod's metadata, hostname, log directory,
/// cgroup parent and namespace options (network and IPC per pod, PID per container, as for a pod
/// without shareProcessNamespace), then per container CreateContainer with its log path under the
/// pod's log directory and StartContainer; ExecSync for probes and `kubectl exec`; StopContainer
/// with a grace period, RemoveContainer, StopPodSandbox, RemovePodSandbox.
/// </summary>
public sealed class Kubelet
{
    /// <summary>The pods' Kubernetes namespace (metadata only).</summary>
    public const string PodNamespace = "vmsb-cri";

    private readonly CriClient _cri;
    private readonly string _logRoot;

    public Kubelet(CriClient cri, string logRoot)
    {
        _cri = cri;
        _logRoot = logRoot;
    }

    /// <summary>A pod the kubelet started: its id, the config it passes again with each container, its first status and netns.</summary>
    public sealed record Pod(string Id, string Name, PodSandboxConfig Config, PodSandboxStatus Status, string? NetnsPath)
    {
        public string Ip => Status.Network?.Ip ?? "";
    }

    public RuntimeService.RuntimeServiceClient Runtime => _cri.Runtime;

    /// <summary>RunPodSandbox on <paramref name="handler"/>; the pod as PodSandboxStatus then reports it.</summary>
    /// <param name="memoryLimit">
    /// The pod's memory limit (the sum of its containers' limits and its RuntimeClass overhead),
    /// which the kubelet writes on the pod's cgroup before RunPodSandbox (pkg/kubelet/cm's pod
    /// container manager); null: a pod with an unlimited container, whose pod cgroup has none.
    /// </param>
    public async Task<Pod> RunPodAsync(string handler, string name, long? memoryLimit = null)
    {
        string uid = Guid.NewGuid().ToString();
        string cgroupParent = ContainerdDaemon.PodCgroupParent(uid.Replace("-", "", StringComparison.Ordinal));
        if (memoryLimit is long limit)
        {
            CreatePodCgroup(cgroupParent, limit);
        }
        string logDirectory = Directory.CreateDirectory(Path.Combine(_logRoot, $"{PodNamespace}_{name}_{uid}")).FullName;
        var config = new PodSandboxConfig
        {
            Metadata = new PodSandboxMetadata { Name = name, Uid = uid, Namespace = PodNamespace, Attempt = 0 },
            Hostname = name,
            LogDirectory = logDirectory,
            Labels =
            {
                ["io.kubernetes.pod.name"] = name,
                ["io.kubernetes.pod.namespace"] = PodNamespace,
                ["io.kubernetes.pod.uid"] = uid,
            },
            Linux = new LinuxPodSandboxConfig
            {
                CgroupParent = cgroupParent,
                SecurityContext = new LinuxSandboxSecurityContext { NamespaceOptions = PodNamespaces() },
            },
        };
        RunPodSandboxResponse run = await Runtime.RunPodSandboxAsync(new RunPodSandboxRequest { Config = config, RuntimeHandler = handler }, _cri.Deadline());
        PodSandboxStatusResponse status = await Runtime.PodSandboxStatusAsync(
            new PodSandboxStatusRequest { PodSandboxId = run.PodSandboxId, Verbose = true }, _cri.Deadline());
        return new Pod(run.PodSandboxId, name, config, status.Status, ContainerdDaemon.NetnsPathOf(status));
    }

    /// <summary>
    /// The pod's cgroup with its memory limit, on cgroup v2 (memory.max, the controller enabled
    /// down the path) or v1 (the memory hierarchy's memory.limit_in_bytes). The containerd
    /// fixture removes the empty directories at the end.
    /// </summary>
    private static void CreatePodCgroup(string cgroupParent, long memoryLimit)
    {
        string limit = memoryLimit.ToString(System.Globalization.CultureInfo.InvariantCulture);
        string relative = cgroupParent.Trim('/');
        if (File.Exists("/sys/fs/cgroup/cgroup.controllers"))
        {
            string dir = "/sys/fs/cgroup";
            foreach (string part in relative.Split('/'))
            {
                File.WriteAllText(Path.Combine(dir, "cgroup.subtree_control"), "+memory");
                dir = Directory.CreateDirectory(Path.Combine(dir, part)).FullName;
            }
            File.WriteAllText(Path.Combine(dir, "memory.max"), limit);
        }
        else
        {
            string dir = Directory.CreateDirectory(Path.Combine("/sys/fs/cgroup/memory", relative)).FullName;
            File.WriteAllText(Path.Combine(dir, "memory.limit_in_bytes"), limit);
        }
    }

    /// <summary>CreateContainer from <paramref name="image"/> running <paramref name="command"/>, then StartContainer; returns its id.</summary>
    public async Task<string> StartContainerAsync(Pod pod, string name, string image, params string[] command)
    {
        // The kubelet makes the container's log directory; CRI opens LOGDIR/NAME/0.log in it.
        Directory.CreateDirectory(Path.Combine(pod.Config.LogDirectory, name));
        var config = new ContainerConfig
        {
            Metadata = new ContainerMetadata { Name = name, Attempt = 0 },
            Image = new ImageSpec { Image = image },
            Command = { command },
            LogPath = Path.Combine(name, "0.log"),
            Labels =
            {
                ["io.kubernetes.container.name"] = name,
                ["io.kubernetes.pod.name"] = pod.Name,
                ["io.kubernetes.pod.namespace"] = PodNamespace,
            },
            Linux = new LinuxContainerConfig
            {
                SecurityContext = new LinuxContainerSecurityContext { NamespaceOptions = PodNamespaces() },
            },
        };
        CreateContainerResponse created = await Runtime.CreateContainerAsync(
            new CreateContainerRequest { PodSandboxId = pod.Id, Config = config, SandboxConfig = pod.Config }, _cri.Deadline());
        _ = await Runtime.StartContainerAsync(new StartContainerRequest { ContainerId = created.ContainerId }, _cri.Deadline());
        return created.ContainerId;
    }

    /// <summary>The container's log as CRI writes it ("TIME STREAM TAG LINE" per line).</summary>
    public static string LogOf(Pod pod, string containerName)
    {
        string path = Path.Combine(pod.Config.LogDirectory, containerName, "0.log");
        return File.Exists(path) ? File.ReadAllText(path) : "";
    }

    /// <summary>ExecSync with a CRI timeout of <paramref name="timeoutSeconds"/>.</summary>
    public async Task<ExecResult> ExecAsync(string containerId, string[] cmd, int timeoutSeconds = 60)
    {
        ExecSyncResponse r = await Runtime.ExecSyncAsync(
            new ExecSyncRequest { ContainerId = containerId, Cmd = { cmd }, Timeout = timeoutSeconds }, _cri.Deadline());
        return new ExecResult(string.Join(' ', cmd), r.ExitCode, r.Stdout.ToString(Encoding.UTF8), r.Stderr.ToString(Encoding.UTF8));
    }

    /// <summary>ExecSync until it exits 0 (a server still starting); fails with the last result.</summary>
    public async Task<ExecResult> ExecUntilSuccessAsync(string containerId, string[] cmd, TimeSpan timeout)
    {
        DateTime deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            ExecResult r = await ExecAsync(containerId, cmd);
            if (r.ExitCode == 0)
            {
                return r;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"ExecSync did not succeed within {timeout.TotalSeconds:0} s: {r}");
            }
            await Task.Delay(500);
        }
    }

    public async Task<ContainerStatus> ContainerStatusAsync(string containerId) =>
        (await Runtime.ContainerStatusAsync(new ContainerStatusRequest { ContainerId = containerId }, _cri.Deadline())).Status;

    public async Task<PodSandboxStatus> PodStatusAsync(string podId) =>
        (await Runtime.PodSandboxStatusAsync(new PodSandboxStatusRequest { PodSandboxId = podId }, _cri.Deadline())).Status;

    /// <summary>Polls ContainerStatus until the container is in <paramref name="state"/>.</summary>
    public async Task<ContainerStatus> WaitForContainerStateAsync(string containerId, ContainerState state, TimeSpan timeout)
    {
        DateTime deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            ContainerStatus status = await ContainerStatusAsync(containerId);
            if (status.State == state)
            {
                return status;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"container {status.Metadata?.Name} ({containerId}) not {state} within {timeout.TotalSeconds:0} s: {status}");
            }
            await Task.Delay(500);
        }
    }

    /// <summary>Polls PodSandboxStatus until the pod is in <paramref name="state"/>.</summary>
    public async Task<PodSandboxStatus> WaitForPodStateAsync(string podId, PodSandboxState state, TimeSpan timeout)
    {
        DateTime deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            PodSandboxStatus status = await PodStatusAsync(podId);
            if (status.State == state)
            {
                return status;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"pod {status.Metadata?.Name} ({podId}) not {state} within {timeout.TotalSeconds:0} s: {status}");
            }
            await Task.Delay(500);
        }
    }

    /// <summary>StopContainer with the grace period <paramref name="timeoutSeconds"/>, then RemoveContainer.</summary>
    public async Task StopAndRemoveContainerAsync(string containerId, long timeoutSeconds)
    {
        _ = await Runtime.StopContainerAsync(new StopContainerRequest { ContainerId = containerId, Timeout = timeoutSeconds }, _cri.Deadline());
        ContainerStatus stopped = await ContainerStatusAsync(containerId);
        if (stopped.State != ContainerState.ContainerExited)
        {
            throw new InvalidOperationException($"container {containerId} is {stopped.State} after StopContainer returned: {stopped}");
        }
        _ = await Runtime.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = containerId }, _cri.Deadline());
    }

    /// <summary>StopPodSandbox (it must leave the pod NOTREADY), then RemovePodSandbox.</summary>
    public async Task StopAndRemovePodAsync(string podId)
    {
        _ = await Runtime.StopPodSandboxAsync(new StopPodSandboxRequest { PodSandboxId = podId }, _cri.Deadline());
        PodSandboxStatus stopped = await PodStatusAsync(podId);
        if (stopped.State != PodSandboxState.SandboxNotready)
        {
            throw new InvalidOperationException($"pod {podId} is {stopped.State} after StopPodSandbox returned");
        }
        _ = await Runtime.RemovePodSandboxAsync(new RemovePodSandboxRequest { PodSandboxId = podId }, _cri.Deadline());
    }

    /// <summary>Best effort, for a test's finally: the pod stopped and removed, whatever state it is in.</summary>
    public async Task ForgetPodAsync(string podId)
    {
        try
        {
            // Only a pod CRI still has: a removed one would put a NotFound error in containerd's log.
            ListPodSandboxResponse listed = await Runtime.ListPodSandboxAsync(
                new ListPodSandboxRequest { Filter = new PodSandboxFilter { Id = podId } }, _cri.Deadline());
            if (listed.Items.Count == 0)
            {
                return;
            }
            _ = await Runtime.StopPodSandboxAsync(new StopPodSandboxRequest { PodSandboxId = podId }, _cri.Deadline());
            _ = await Runtime.RemovePodSandboxAsync(new RemovePodSandboxRequest { PodSandboxId = podId }, _cri.Deadline());
        }
        catch (RpcException)
        {
            // The fixture removes every pod at the end.
        }
    }

    /// <summary>What the kubelet passes for a pod without hostNetwork, hostIPC, hostPID or shareProcessNamespace.</summary>
    private static NamespaceOption PodNamespaces() =>
        new() { Network = NamespaceMode.Pod, Ipc = NamespaceMode.Pod, Pid = NamespaceMode.Container };
}

