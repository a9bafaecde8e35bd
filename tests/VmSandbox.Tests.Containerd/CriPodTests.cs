using VmSandbox.TestSupport;
using VmSandbox.TestSupport.Containerd;
using VmSandbox.TestSupport.Containerd.Cri;
using VmSandbox.TestSupport.Containerd.Cri.V1;
using Xunit;

namespace VmSandbox.Tests.Containerd;

/// <summary>
/// containerd's CRI driven as a kubelet drives it (<see cref="Kubelet"/>), once per runtime
/// handler: `runc` (runc's shim, the reference) and `vmsandbox` (ours, one VM per pod). What a
/// cluster relies on: the pod READY with an IP of the pod network, its containers sharing
/// localhost (and, in a VM, one kernel that is not the host's), ExecSync's status and streams,
/// stats, the pod IP reachable from the node, and nothing left once the pod is removed — also
/// when the pod's VM dies under it. A VM boot under TCG takes seconds: each test puts many checks
/// on a few pods.
/// </summary>
public sealed class CriPodTests
{
    private const string Page = "pod-web-says-hi\n";
    private const int HttpPort = 8080;
    private const string BootIdPath = "/proc/sys/kernel/random/boot_id";
    private const string CriSandboxes = "io.containerd.grpc.v1.cri/sandboxes";
    private static readonly string[] s_catBootId = ["cat", BootIdPath];

    /// <summary>How soon a pod's containers must exit once its VM is gone (the sandbox's own exit takes well under a second).</summary>
    private static readonly TimeSpan s_vmLossBound = TimeSpan.FromSeconds(5);

    private readonly ContainerdDaemon _daemon;

    public CriPodTests(ContainerdFixture containerd)
    {
        _daemon = containerd.Daemon;
    }

    [Theory(Timeout = ShimTaskTests.TestTimeoutMs)]
    [MemberData(nameof(RuntimeRows.All), MemberType = typeof(RuntimeRows))]
    public Task Two_pods_run_their_containers_on_one_network_and_kernel_each_and_leave_nothing(string runtime) => _daemon.WithLogOnFailure(async () =>
    {
        ShimRuntime shim = ShimTaskTests.Shim(runtime);
        Kubelet kubelet = await KubeletAsync();
        HashSet<int> before = HostProcesses.SandboxProcesses().Select(p => p.Pid).ToHashSet();
        HashSet<string> portsBefore = [.. PodNetwork.BridgePorts()];
        var pods = new List<Kubelet.Pod>();
        try
        {
            // "web" is a pod whose containers all have limits: the kubelet caps its pod cgroup.
            Kubelet.Pod web = await RunPodAsync(kubelet, runtime, "web", pods, WebPodMemory);
            Kubelet.Pod other = await RunPodAsync(kubelet, runtime, "other", pods);
            Assert.NotEqual(web.Ip, other.Ip);
            List<string> veths = PodNetwork.BridgePorts().Where(p => !portsBefore.Contains(p)).ToList();
            Assert.True(veths.Count == 2, $"expected one veth per pod on {PodNetwork.Bridge}, found {string.Join(", ", veths)}");

            string server = await kubelet.StartContainerAsync(web, "server", ContainerdDaemon.Image,
                "sh", "-c", $"mkdir -p /tmp/www && printf '{Page.TrimEnd()}\\n' > /tmp/www/index.html && exec httpd -f -p {HttpPort} -h /tmp/www");
            string client = await kubelet.StartContainerAsync(web, "client", ContainerdDaemon.Image, "sh", "-c", "echo client-started; exec sleep 100000");
            string lone = await kubelet.StartContainerAsync(other, "lone", ContainerdDaemon.Image, "sleep", "100000");

            // The pod's containers share one network namespace: the client reaches the server on localhost.
            // (No `wget -T`: Debian's busybox 1.35 wget crashes on it; ExecSync's timeout bounds the call.)
            ExecResult fetched = await kubelet.ExecUntilSuccessAsync(client, ["wget", "-q", "-O", "-", $"http://127.0.0.1:{HttpPort}/index.html"], ShimTaskTests.StateTimeout);
            Assert.Equal(Page, fetched.Stdout);
            // …and the pod's UTS namespace: the pod's hostname.
            ExecResult hostname = await kubelet.ExecAsync(client, ["hostname"]);
            Assert.True(hostname.ExitCode == 0 && hostname.Stdout == "web\n", hostname.ToString());

            // ExecSync passes the status and both streams through.
            ExecResult status = await kubelet.ExecAsync(client, ["sh", "-c", "echo out; echo err >&2; exit 3"]);
            Assert.True(status.ExitCode == 3 && status.Stdout == "out\n" && status.Stderr == "err\n", status.ToString());

            // One kernel per pod: vmsandbox boots one VM for the pod, runc shares the host's kernel.
            string hostBoot = File.ReadAllText(BootIdPath).Trim();
            string serverBoot = await BootIdAsync(kubelet, server);
            string clientBoot = await BootIdAsync(kubelet, client);
            string loneBoot = await BootIdAsync(kubelet, lone);
            if (shim.IsVmSandbox)
            {
                Assert.True(serverBoot == clientBoot, $"the pod's containers run on two kernels (boot ids {serverBoot} and {clientBoot}): not one VM per pod");
                Assert.NotEqual(hostBoot, serverBoot);
                Assert.NotEqual(hostBoot, loneBoot);
                Assert.True(loneBoot != serverBoot, $"two pods share one kernel (boot id {loneBoot})");
                // The VM holds the whole pod: containerd 1.6 names no pod totals, so the VM is
                // sized from the pod's cgroup (its limit plus the guest's overhead); "other" has
                // no pod limit and gets the default size.
                long webMemory = await GuestMemTotalAsync(kubelet, client), loneMemory = await GuestMemTotalAsync(kubelet, lone);
                Assert.True(webMemory > WebPodMemory && loneMemory < WebPodMemory,
                    $"guest MemTotal: web {webMemory >> 20} MiB (pod limit {WebPodMemory >> 20} MiB), other {loneMemory >> 20} MiB: the VM is not sized from the pod's cgroup");
                List<HostProcesses.Proc> vms = NewVms(before);
                Assert.True(vms.Count == 2, $"two pods should run {pods.Count} VMs, found {vms.Count}: {Describe(vms)}");
            }
            else
            {
                Assert.Equal([hostBoot, hostBoot, hostBoot], [serverBoot, clientBoot, loneBoot]);
            }

            // What `kubectl top` and the kubelet's eviction read.
            ContainerStats stats = (await kubelet.Runtime.ContainerStatsAsync(new ContainerStatsRequest { ContainerId = server }, _daemon.Cri.Deadline())).Stats;
            Assert.True(stats.Cpu?.UsageCoreNanoSeconds?.Value > 0, $"no CPU usage in {stats}");
            Assert.True(stats.Memory?.WorkingSetBytes?.Value > 0, $"no memory working set in {stats}");

            // The node reaches the pod IP (a Service's endpoint, the kubelet's HTTP probes).
            Assert.Equal(Page, await HttpGetAsync($"http://{web.Ip}:{HttpPort}/index.html"));

            // The container's stdout reaches CRI's log (what `kubectl logs` reads).
            Assert.Contains(" stdout F client-started", Kubelet.LogOf(web, "client"), StringComparison.Ordinal);

            await Task.WhenAll(kubelet.StopAndRemoveContainerAsync(server, 5), kubelet.StopAndRemoveContainerAsync(client, 5));
            await kubelet.StopAndRemovePodAsync(web.Id);
            // The other pod as the kubelet removes a pod whose containers still run.
            await kubelet.StopAndRemovePodAsync(other.Id);
            await AssertNothingLeftAsync(shim, pods, [server, client, lone], veths, before);
        }
        finally
        {
            foreach (Kubelet.Pod pod in pods)
            {
                await kubelet.ForgetPodAsync(pod.Id);
            }
        }
    });

    /// <summary>
    /// SIGKILL of the pod's QEMU, or of its virtiofsd (the monitor then ends the VM, whose files
    /// would hang otherwise): both containers exit at once, non-zero, and the pod still goes cleanly.
    /// </summary>
    [Theory(Timeout = ShimTaskTests.TestTimeoutMs)]
    [InlineData("qemu-system")]
    [InlineData("virtiofsd")]
    [Trait(ShimRuntime.Trait, ShimRuntime.VmSandboxName)]
    public Task A_killed_pod_VM_exits_its_containers_and_the_pod_is_still_removed_cleanly(string victim) => _daemon.WithLogOnFailure(async () =>
    {
        ShimRuntime shim = ShimTaskTests.Shim(ShimRuntime.VmSandboxName);
        Kubelet kubelet = await KubeletAsync();
        HashSet<int> before = HostProcesses.SandboxProcesses().Select(p => p.Pid).ToHashSet();
        HashSet<string> portsBefore = [.. PodNetwork.BridgePorts()];
        var pods = new List<Kubelet.Pod>();
        try
        {
            Kubelet.Pod pod = await RunPodAsync(kubelet, shim.Name, "doomed", pods);
            List<string> veths = PodNetwork.BridgePorts().Where(p => !portsBefore.Contains(p)).ToList();
            string first = await kubelet.StartContainerAsync(pod, "first", ContainerdDaemon.Image, "sleep", "100000");
            string second = await kubelet.StartContainerAsync(pod, "second", ContainerdDaemon.Image, "sleep", "100001");

            List<HostProcesses.Proc> vms = NewVms(before);
            Assert.True(vms.Count == 1, $"the pod should run one VM, found {vms.Count}: {Describe(vms)}");
            HostProcesses.Proc vm = vms[0];
            if (victim != "qemu-system")
            {
                // The outermost process of that name (virtiofsd forks into its own pid namespace).
                List<HostProcesses.Proc> all = HostProcesses.All();
                var byPid = all.ToDictionary(p => p.Pid);
                List<HostProcesses.Proc> named = [.. all.Where(p => !before.Contains(p.Pid) && Path.GetFileName(p.Argv[0]) == victim
                    && !(byPid.TryGetValue(HostProcesses.ParentOf(p.Pid), out HostProcesses.Proc? parent) && Path.GetFileName(parent.Argv[0]) == victim))];
                Assert.True(named.Count == 1, $"the pod should run one {victim}, found {named.Count}: {Describe(named)}");
                vm = named[0];
            }
            Assert.True(OfPod(vm, pod.Id, _daemon.CriBundleOf(pod.Id)), $"the one new VM is not the pod's (no sandbox id {pod.Id} in its command line or its ancestors'): {vm.CommandLine}");
            long killedAtNs = (DateTimeOffset.UtcNow - DateTimeOffset.UnixEpoch).Ticks * 100;
            Assert.True(HostProcesses.Kill(vm.Pid, HostProcesses.SIGKILL), $"kill -9 {vm.Pid}");

            foreach (string id in (string[])[first, second])
            {
                ContainerStatus exited = await kubelet.WaitForContainerStateAsync(id, ContainerState.ContainerExited, ShimTaskTests.StateTimeout);
                Assert.True(exited.ExitCode != 0, $"container {id} exited 0 with its VM killed: {exited}");
                // The runtime's exit time, not our polling: the VM's death is an event (the vsock
                // connections close, QEMU exits), and until the exit shows, a kubelet's probes and
                // execs go to a VM that is gone.
                double after = (exited.FinishedAt - killedAtNs) / 1e9;
                Assert.True(after < s_vmLossBound.TotalSeconds,
                    $"container {id} exited {after:0.0} s after its VM was killed (bound {s_vmLossBound.TotalSeconds:0} s): {exited}");
            }
            // The kubelet sees the sandbox die too, and would make the pod anew.
            _ = await kubelet.WaitForPodStateAsync(pod.Id, PodSandboxState.SandboxNotready, ShimTaskTests.StateTimeout);

            foreach (string id in (string[])[first, second])
            {
                await kubelet.StopAndRemoveContainerAsync(id, 5);
            }
            await kubelet.StopAndRemovePodAsync(pod.Id);
            await AssertNothingLeftAsync(shim, pods, [first, second], veths, before);
        }
        finally
        {
            foreach (Kubelet.Pod pod in pods)
            {
                await kubelet.ForgetPodAsync(pod.Id);
            }
        }
    });

    /// <summary>The kubelet for this daemon, once CRI answers and holds both images (the fixture imported them).</summary>
    private async Task<Kubelet> KubeletAsync()
    {
        CriClient cri = _daemon.Cri;
        VersionResponse version = await cri.Runtime.VersionAsync(new VersionRequest { Version = "v1" }, cri.Deadline(TimeSpan.FromSeconds(30)));
        Assert.True(version.RuntimeName == "containerd" && version.RuntimeApiVersion == "v1", $"CRI Version answered {version}");
        foreach (string image in (string[])[ContainerdDaemon.SandboxImage, ContainerdDaemon.Image])
        {
            ImageStatusResponse status = await cri.Images.ImageStatusAsync(
                new ImageStatusRequest { Image = new ImageSpec { Image = image } }, cri.Deadline(TimeSpan.FromSeconds(30)));
            Assert.True(status.Image is not null, $"CRI does not see {image} in namespace {ContainerdDaemon.CriNamespace}");
        }
        return new Kubelet(cri, _daemon.Scratch);
    }

    /// <summary>RunPodSandbox, recorded for the finally's clean-up, and what CRI must report for it.</summary>
    private static async Task<Kubelet.Pod> RunPodAsync(Kubelet kubelet, string handler, string name, List<Kubelet.Pod> pods, long? memoryLimit = null)
    {
        Kubelet.Pod pod = await kubelet.RunPodAsync(handler, name, memoryLimit);
        pods.Add(pod);
        Assert.True(pod.Status.State == PodSandboxState.SandboxReady, $"pod {name} is not READY after RunPodSandbox: {pod.Status}");
        Assert.Equal(handler, pod.Status.RuntimeHandler);
        Assert.True(PodNetwork.InSubnet(pod.Ip), $"pod {name}'s IP \"{pod.Ip}\" is not in {PodNetwork.Subnet}");
        Assert.True(pod.NetnsPath is not null && File.Exists(pod.NetnsPath), $"pod {name}'s network namespace \"{pod.NetnsPath}\" is not on the host");
        return pod;
    }

    /// <summary>The pod's memory limit for "web": above the runtime's default VM size (256 MiB).</summary>
    private const long WebPodMemory = 512L << 20;

    /// <summary>MemTotal of the kernel the container runs on, in bytes.</summary>
    private static async Task<long> GuestMemTotalAsync(Kubelet kubelet, string containerId)
    {
        ExecResult r = await kubelet.ExecAsync(containerId, ["sh", "-c", "grep MemTotal /proc/meminfo"]);
        string[] fields = r.Stdout.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(r.ExitCode == 0 && fields.Length == 3 && long.TryParse(fields[1], out _), r.ToString());
        return long.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
    }

    private static async Task<string> BootIdAsync(Kubelet kubelet, string containerId)
    {
        ExecResult r = await kubelet.ExecAsync(containerId, s_catBootId);
        Assert.True(r.ExitCode == 0 && r.Stdout.Trim().Length == 36, r.ToString());
        return r.Stdout.Trim();
    }

    /// <summary>An HTTP GET from the host, no proxy, retried while the pod's network settles.</summary>
    private static async Task<string> HttpGetAsync(string url)
    {
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false, ConnectTimeout = TimeSpan.FromSeconds(5) }) { Timeout = TimeSpan.FromSeconds(10) };
        DateTime deadline = DateTime.UtcNow + ShimTaskTests.StateTimeout;
        while (true)
        {
            try
            {
                return await http.GetStringAsync(new Uri(url));
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException && DateTime.UtcNow < deadline)
            {
                await Task.Delay(1000);
            }
        }
    }

    /// <summary>QEMU processes that were not running before the test.</summary>
    private static List<HostProcesses.Proc> NewVms(HashSet<int> before) =>
        HostProcesses.SandboxProcesses().Where(p => !before.Contains(p.Pid) && Path.GetFileName(p.Argv[0]).StartsWith("qemu-system", StringComparison.Ordinal)).ToList();

    /// <summary>Whether the pod's sandbox id is in the process's command line or an ancestor's (the shim's), or an ancestor works in the sandbox's bundle.</summary>
    private static bool OfPod(HostProcesses.Proc process, string podId, string bundle)
    {
        var byPid = HostProcesses.All().ToDictionary(p => p.Pid);
        for (int pid = process.Pid; pid > 1; pid = HostProcesses.ParentOf(pid))
        {
            if ((pid == process.Pid ? process : byPid.GetValueOrDefault(pid)) is { } p
                && (p.Argv.Any(a => a.Contains(podId, StringComparison.Ordinal)) || HostProcesses.WorkingDirectory(pid) == bundle))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>
    /// After RemovePodSandbox, within a bound: CRI and containerd know none of the pods and
    /// containers, their netns and veths are gone, no process names them, no bundle or mount is
    /// left, and for vmsandbox no QEMU, virtiofsd, monitor or shim that the test started, and no
    /// state directory.
    /// </summary>
    private async Task AssertNothingLeftAsync(ShimRuntime shim, List<Kubelet.Pod> pods, string[] containers, List<string> veths, HashSet<int> before)
    {
        string[] ids = [.. pods.Select(p => p.Id), .. containers];
        DateTime deadline = DateTime.UtcNow + ShimTaskTests.StateTimeout;
        while (true)
        {
            var left = new List<string>();
            ListPodSandboxResponse listedPods = await _daemon.Cri.Runtime.ListPodSandboxAsync(new ListPodSandboxRequest(), _daemon.Cri.Deadline());
            left.AddRange(listedPods.Items.Where(p => ids.Contains(p.Id)).Select(p => $"CRI pod {p.Id} ({p.State})"));
            ListContainersResponse listedContainers = await _daemon.Cri.Runtime.ListContainersAsync(new ListContainersRequest(), _daemon.Cri.Deadline());
            left.AddRange(listedContainers.Containers.Where(c => ids.Contains(c.Id)).Select(c => $"CRI container {c.Id} ({c.State})"));
            foreach (string what in (string[])["task", "containers"])
            {
                CommandResult ls = await _daemon.CtrInAsync(ContainerdDaemon.CriNamespace, [what, "ls", "--quiet"], ShimTaskTests.CtrTimeout);
                left.AddRange(ls.Stdout.Split('\n', StringSplitOptions.TrimEntries).Where(ids.Contains).Select(id => $"containerd {what} {id}"));
            }
            left.AddRange(pods.Select(p => p.NetnsPath).Where(File.Exists).Select(n => $"netns {n}"));
            left.AddRange(veths.Where(PodNetwork.InterfaceExists).Select(v => $"veth {v}"));
            left.AddRange(ids.SelectMany(HostProcesses.Mentioning).DistinctBy(p => p.Pid).Select(p => $"process {p.Pid}: {p.CommandLine}"));
            foreach (string id in ids)
            {
                string bundle = _daemon.CriBundleOf(id);
                left.AddRange(HostProcesses.MountsUnder(bundle).Select(m => $"mount {m}"));
                if (Directory.Exists(bundle))
                {
                    left.Add($"bundle {bundle}");
                }
            }
            // CRI's per-pod files: hostname, hosts, resolv.conf under root, the /dev/shm tmpfs under state.
            foreach (string dir in pods.SelectMany(p => (string[])[Path.Combine(_daemon.Root, CriSandboxes, p.Id), Path.Combine(_daemon.State, CriSandboxes, p.Id)]))
            {
                left.AddRange(HostProcesses.MountsUnder(dir).Select(m => $"mount {m}"));
                if (Directory.Exists(dir))
                {
                    left.Add($"CRI's sandbox directory {dir}");
                }
            }
            if (shim.IsVmSandbox)
            {
                left.AddRange(HostProcesses.SandboxProcesses().Where(p => !before.Contains(p.Pid)).Select(p => $"process {p.Pid}: {p.CommandLine}"));
                left.AddRange(ids.SelectMany(id => (string[])[Path.Combine(ShimRuntime.VmSandboxStateRoot, id), Path.Combine(ShimRuntime.VmSandboxStateRoot, ContainerdDaemon.CriNamespace, id)])
                    .Where(Directory.Exists).Select(d => $"state directory {d}"));
            }
            if (left.Count == 0)
            {
                return;
            }
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"left {ShimTaskTests.StateTimeout.TotalSeconds:0} s after RemovePodSandbox: {string.Join("; ", left)}");
            }
            await Task.Delay(500);
        }
    }

    private static string Describe(List<HostProcesses.Proc> procs) =>
        procs.Count == 0 ? "none" : string.Join("; ", procs.Select(p => $"{p.Pid}: {p.CommandLine}"));
}
