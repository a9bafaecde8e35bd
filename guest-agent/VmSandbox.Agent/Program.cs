using VmSandbox.Agent.Init;

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
        return new Pid1(new SystemInit()).Run();
    }
}
