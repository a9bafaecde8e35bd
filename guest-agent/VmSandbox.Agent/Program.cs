using VmSandbox.Agent.Api;
using VmSandbox.Agent.ContainerInit;
using VmSandbox.Agent.Containers;
using VmSandbox.Agent.Vm;

namespace VmSandbox.Agent;

/// <summary>Entry point of vmsandbox-agent, the guest's PID 1 (NativeAOT, /init in the initramfs).</summary>
public static class Program
{
    /// <summary>Pool threads started without the starvation delay; they start only when work waits.</summary>
    private const int MinPoolThreads = 8;

    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "--version")
        {
            Console.WriteLine($"vmsandbox-agent {AgentInfo.Version}");
            return 0;
        }
        if (args.Length > 0 && args[0] == InitProcess.Argument)
        {
            return InitProcess.Run();
        }
        // One vCPU means a thread pool of one thread until starvation is noticed, and the
        // agent blocks pool threads (waitpid, container set-up): without this the first RPC
        // waited about a second for the pool to grow (issue 13).
        ThreadPool.GetMinThreads(out int workers, out int completion);
        ThreadPool.SetMinThreads(Math.Max(workers, MinPoolThreads), Math.Max(completion, MinPoolThreads));
        var sys = new Pid1System();
        var children = new ChildRegistry();
        return new Pid1(sys, pid1 =>
        {
            // First: before anything else runs, address-space randomisation is on again.
            string cmdline = File.ReadAllText("/proc/cmdline");
            bool fixedInits = InitAddressLayout.Apply(cmdline, File.WriteAllText);
            // Before any container exists: spare NICs wait where no container sees them.
            _ = Network.SpareNics.Park();
            var containers = new ContainerManager(new ProcessSpawner(children, fixedInits), new ShareMounter());
            var service = new AgentService(new GuestFacts(), pid1.RequestShutdown, containers);
            new VsockApiListener(service, line => sys.WriteConsole($"{AgentInfo.ConsolePrefix} {line}")).Start();
            string api = $"vsock:{VmSandbox.Agent.Protocol.AgentApi.VsockPort}";
            if (EchoListener.PortFromCmdline(cmdline) is { } echo)
            {
                EchoListener.Start(echo);
                api += $",echo:{echo}";
            }
            if (FaultListener.PortFromCmdline(cmdline) is { } fault)
            {
                FaultListener.Start(fault);
                api += $",fault:{fault}";
            }
            // At idle priority: what it runs ahead, the first create finds translated (TCG); a
            // pooled VM has it all done before its claim (ADR 0016).
            CreatePathWarmup.Start();
            // The first container's init, started ahead at idle priority (ADR 0016).
            containers.Prespawn(line => sys.WriteConsole($"{AgentInfo.ConsolePrefix} {line}"));
            return api;
        }, children).Run();
    }
}
