using System.Diagnostics;
using System.Globalization;
using System.Text;
using Grpc.Core;
using VmSandbox.TestSupport.Containerd;
using VmSandbox.TestSupport.Containerd.Cri;
using VmSandbox.TestSupport.Containerd.Cri.V1;

namespace VmSandbox.Bench;

/// <summary>
/// Pod start through containerd's CRI, as a kubelet asks for it (<see cref="Kubelet"/>):
/// RunPodSandbox, then CreateContainer and StartContainer of one busybox `sleep 3600`, until
/// ContainerStatus says RUNNING; for runc's shim and ours as two runtime handlers of one private
/// containerd, the containerd tests' own (<see cref="ContainerdDaemon"/>). Stopping and removing
/// each pod is not timed.
/// </summary>
internal static class PodBench
{
    /// <summary>Fewer pods make no median worth the name; `--runs` above this is taken as it is.</summary>
    private const int MinRuns = 5;

    private const string Title = "Pod start through containerd's CRI";
    private static readonly TimeSpan s_runningTimeout = TimeSpan.FromMinutes(1);

    public static void Run(StringBuilder doc, Plots plots, int runs) => RunAsync(doc, plots, Math.Max(runs, MinRuns)).GetAwaiter().GetResult();

    private static async Task RunAsync(StringBuilder doc, Plots plots, int runs)
    {
        doc.AppendLine("## Pod start through CRI").AppendLine();
        var containerd = new ContainerdDaemon();
        using IDisposable teardown = Teardown.Register("the bench's containerd", () => containerd.DisposeAsync().AsTask().GetAwaiter().GetResult());
        try
        {
            await containerd.StartAsync();
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException)
        {
            doc.AppendLine(CultureInfo.InvariantCulture, $"Not measured: the bench's containerd did not start ({BenchDockerd.OneLine(e.Message)}).").AppendLine();
            return;
        }
        string accel = Program.Accelerator();
        doc.AppendLine("A private containerd (Debian's 1.6, the containerd tests' fixture: its own root, state and sockets, a CNI bridge of its own,")
            .AppendLine("busybox and a busybox-based pause image imported locally) with two CRI runtime handlers: `runc` (runc's shim) and `vmsandbox`")
            .AppendLine(CultureInfo.InvariantCulture, $"(containerd-shim-vmsandbox-v2: one VM per pod, 1 vCPU). Per handler one unmeasured pod, then {runs} pods one after the other,")
            .AppendLine("each started as a kubelet starts it: RunPodSandbox (with the PodSandboxStatus that the kubelet reads the pod's IP from), then")
            .AppendLine("CreateContainer and StartContainer of a busybox `sleep 3600`, until ContainerStatus says RUNNING. Medians, each column its own")
            .AppendLine("(the phases' medians need not add up to the total's). Stopping and removing each pod is not timed.")
            .AppendLine(accel == "tcg"
                ? "These machines have no /dev/kvm: vmsandbox's pod VM boots under QEMU's TCG, which emulates every guest instruction, so its\n"
                    + "row is mostly the cost of that emulation; a measure to follow, not a target, until KVM is there."
                : $"vmsandbox's pod VM runs under {accel}.")
            .AppendLine();
        var table = new ResultTable("pod", Title,
            new Column("RunPodSandbox → container running", "ms", "F0"),
            new Column("RunPodSandbox", "ms", "F0"),
            new Column("CreateContainer + StartContainer", "ms", "F0"));
        var kubelet = new Kubelet(containerd.Cri, containerd.Scratch);
        var medians = new Dictionary<string, double>();
        foreach (ShimRuntime shim in (ShimRuntime[])[ShimRuntime.Runc, ShimRuntime.VmSandbox])
        {
            long mark = containerd.LogMark();
            try
            {
                shim.Require();
                var total = new List<double>();
                var pod = new List<double>();
                var container = new List<double>();
                for (int i = 0; i <= runs; i++)
                {
                    (double podMs, double containerMs) = await StartPodAsync(kubelet, shim.Name, $"bench-{shim.Name}-{i}");
                    if (i > 0)
                    {
                        total.Add(podMs + containerMs);
                        pod.Add(podMs);
                        container.Add(containerMs);
                    }
                }
                double[] values = [.. new[] { total, pod, container }.Select(v => Program.Median([.. v.Order()]))];
                medians[shim.Name] = values[0];
                table.Add(shim.Name, [.. values.Select(v => (double?)v)]);
            }
            catch (Exception e) when (e is InvalidOperationException or TimeoutException or RpcException)
            {
                Console.Error.WriteLine($"bench: pod start under {shim.Name} failed: {e.Message}\n--- containerd's log meanwhile:\n{containerd.LogSince(mark, 30)}");
                table.Fail(shim.Name, $"failed: {BenchDockerd.OneLine(e.Message)}");
            }
        }
        table.Write(doc, plots);
        if (medians.TryGetValue(ShimRuntime.VmSandboxName, out double vm) && medians.TryGetValue(ShimRuntime.RuncName, out double runc) && runc > 0)
        {
            doc.AppendLine(CultureInfo.InvariantCulture, $"Pod start, vmsandbox / runc: **{vm / runc:F1}×** ({vm:F0} ms against {runc:F0} ms).").AppendLine();
        }
    }

    /// <summary>One pod to its first container running: the milliseconds of RunPodSandbox and of the container's start; then it is removed.</summary>
    private static async Task<(double PodMs, double ContainerMs)> StartPodAsync(Kubelet kubelet, string handler, string name)
    {
        var clock = Stopwatch.StartNew();
        Kubelet.Pod pod = await kubelet.RunPodAsync(handler, name);
        double podMs = clock.Elapsed.TotalMilliseconds;
        try
        {
            string id = await kubelet.StartContainerAsync(pod, "sleeper", ContainerdDaemon.Image, "sleep", "3600");
            _ = await kubelet.WaitForContainerStateAsync(id, ContainerState.ContainerRunning, s_runningTimeout);
            double containerMs = clock.Elapsed.TotalMilliseconds - podMs;
            // No grace period: `sleep` as the container's PID 1 ignores SIGTERM.
            await kubelet.StopAndRemoveContainerAsync(id, 0);
            return (podMs, containerMs);
        }
        finally
        {
            await kubelet.ForgetPodAsync(pod.Id);
        }
    }
}
