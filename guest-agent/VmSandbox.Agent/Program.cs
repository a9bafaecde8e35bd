using VmSandbox.Agent.Api;
using VmSandbox.Agent.ContainerInit;
using VmSandbox.Agent.Containers;
using VmSandbox.Agent.Vm;

namespace VmSandbox.Agent;

/// <summary>Entry point of vmsandbox-agent, the guest's PID 1 (NativeAOT, /init in the initramfs).</summary>
public static class Program
{
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
        var sys = new Pid1System();
        var children = new ChildRegistry();
        return new Pid1(sys, pid1 =>
        {
            var containers = new ContainerManager(new ProcessSpawner(children), new ShareMounter());
            var service = new AgentService(new GuestFacts(), pid1.RequestShutdown, containers);
            new VsockApiListener(service, line => sys.WriteConsole($"{AgentInfo.ConsolePrefix} {line}")).Start();
            string api = $"vsock:{VmSandbox.Agent.Protocol.AgentApi.VsockPort}";
            if (EchoListener.PortFromCmdline(File.ReadAllText("/proc/cmdline")) is { } echo)
            {
                EchoListener.Start(echo);
                api += $",echo:{echo}";
            }
            return api;
        }, children).Run();
    }
}
