using System.Text.Json.Nodes;
using Grpc.Core;
using VmSandbox.TestSupport.Containerd.Cri;
using VmSandbox.TestSupport.Containerd.Cri.V1;

namespace VmSandbox.TestSupport.Containerd;

/// <summary>
/// The daemon's CRI side, set up as a kubelet's node has it: two runtime handlers, `runc`
/// (runc's shim) and `vmsandbox` (ours, by the absolute path `make build` publishes it to), the
/// tests' own pod network (<see cref="PodNetwork"/>), and the pause and busybox images in CRI's
/// namespace. At the end every pod goes through StopPodSandbox and RemovePodSandbox, then what
/// CNI leaves on the host (bridge, veths, netns) goes too.
/// </summary>
public sealed partial class ContainerdDaemon
{
    /// <summary>The containerd namespace CRI keeps its images, containers and tasks in.</summary>
    public const string CriNamespace = "k8s.io";

    /// <summary>
    /// The pause image's process: sleeps until TERM or INT, which end it with 0 (as the real
    /// pause does). A trap only runs between commands, hence the background sleep and `wait`.
    /// </summary>
    internal static readonly string[] PauseCommand = ["/bin/sh", "-c", "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait; done"];

    private static readonly TimeSpan s_criCleanupCall = TimeSpan.FromMinutes(1);
    private readonly List<string> _podNamespaces = [];
    private CriClient? _cri;

    /// <summary>The kubelet's connection to CRI on this daemon's socket.</summary>
    public CriClient Cri => _cri ?? throw new InvalidOperationException("containerd is not started");

    /// <summary>
    /// The cgroup parent a pod gets (a kubelet with the cgroupfs driver gives /kubepods/…/podUID):
    /// below the ctr tests' /NAMESPACE, which the fixture removes at the end once empty.
    /// </summary>
    public static string PodCgroupParent(string podUid) => $"/{Namespace}/pod{podUid}";

    /// <summary>The bundle containerd makes for a CRI task (a pod's sandbox or container).</summary>
    public string CriBundleOf(string id) => Path.Combine(State, "io.containerd.runtime.v2.task", CriNamespace, id);

    private string CniConfDir => Path.Combine(_dir, "cni");

    /// <summary>Before containerd starts: an earlier run's network goes, ours is configured.</summary>
    private async Task PrepareCriAsync()
    {
        await PodNetwork.RemoveLeftovers([]);
        PodNetwork.WriteConfig(CniConfDir, Path.Combine(_dir, "cni-ipam"));
    }

    private void StartCriClient() => _cri = new CriClient(Socket, _cancellation);

    /// <summary>containerd 1.6's CRI keys (config version 2, pkg/cri/config).</summary>
    private string CriConfig() => $$"""
        [plugins."io.containerd.grpc.v1.cri"]
          sandbox_image = "{{SandboxImage}}"
          # CRI gives a pod's sandbox oom_score_adj -998; lowering it needs CAP_SYS_RESOURCE, which
          # this machine's root may lack (runc: "failed to update /proc/self/oom_score_adj:
          # Permission denied"). With this, no task gets less than containerd's own.
          restrict_oom_score_adj = true

        [plugins."io.containerd.grpc.v1.cri".containerd]
          default_runtime_name = "{{ShimRuntime.RuncName}}"

        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.{{ShimRuntime.RuncName}}]
          runtime_type = "{{ShimRuntime.Runc.RuntimeArgument}}"
        # runc's state in our directory, not its default /run/containerd/runc/NAMESPACE.
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.{{ShimRuntime.RuncName}}.options]
          Root = "{{Path.Combine(_dir, "runc")}}"

        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.{{ShimRuntime.VmSandboxName}}]
          runtime_type = "io.containerd.vmsandbox.v2"
          # What `vmsandbox install --containerd` writes. containerd 1.6.20 does not use it for
          # RunPodSandbox (it resolves containerd-shim-vmsandbox-v2 on PATH, which the fixture
          # starts with out/bin); later releases pass it with the task.
          runtime_path = "{{ShimRuntime.VmSandbox.ShimPath}}"

        [plugins."io.containerd.grpc.v1.cri".cni]
          bin_dir = "{{PodNetwork.BinDir}}"
          conf_dir = "{{CniConfDir}}"
          max_conf_num = 1
        """;

    /// <summary>
    /// The network namespace path in containerd 1.6's verbose PodSandboxStatus (info["info"] is
    /// its JSON view of the sandbox; the runtime spec names the netns CRI made), or null.
    /// </summary>
    public static string? NetnsPathOf(PodSandboxStatusResponse status) =>
        status.Info.TryGetValue("info", out string? json)
            && JsonNode.Parse(json)?["runtimeSpec"]?["linux"]?["namespaces"] is JsonArray namespaces
            ? namespaces.FirstOrDefault(n => (string?)n?["type"] == "network")?["path"]?.GetValue<string>()
            : null;

    /// <summary>Every pod CRI still has, stopped and removed (which ends its tasks and shims).</summary>
    private async Task RemoveAllPodsAsync()
    {
        if (_cri is null)
        {
            return;
        }
        try
        {
            ListPodSandboxResponse pods = await _cri.Runtime.ListPodSandboxAsync(new ListPodSandboxRequest(), Deadline());
            foreach (PodSandbox pod in pods.Items)
            {
                try
                {
                    PodSandboxStatusResponse status = await _cri.Runtime.PodSandboxStatusAsync(
                        new PodSandboxStatusRequest { PodSandboxId = pod.Id, Verbose = true }, Deadline());
                    if (NetnsPathOf(status) is { } netns)
                    {
                        _podNamespaces.Add(netns);
                    }
                    _ = await _cri.Runtime.StopPodSandboxAsync(new StopPodSandboxRequest { PodSandboxId = pod.Id }, Deadline());
                    _ = await _cri.Runtime.RemovePodSandboxAsync(new RemovePodSandboxRequest { PodSandboxId = pod.Id }, Deadline());
                }
                catch (RpcException)
                {
                    // The network sweep below and the shim kill in DisposeAsync are the fallback.
                }
                // A pod's runc shim is grouped by the sandbox id (protocols.md §5.2).
                RemoveStaleRuncSocket(CriNamespace, pod.Id);
            }
        }
        catch (RpcException)
        {
        }
    }

    /// <summary>After containerd stopped: what CNI made on the host for our pods, and the client.</summary>
    private async Task RemovePodNetworkAsync()
    {
        _cri?.Dispose();
        await PodNetwork.RemoveLeftovers(_podNamespaces);
    }

    private static CallOptions Deadline() => new(deadline: DateTime.UtcNow + s_criCleanupCall);
}
