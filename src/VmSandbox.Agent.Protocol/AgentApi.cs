namespace VmSandbox.Agent.Protocol;

/// <summary>Names and constants of the agent API (Protos/agent.proto).</summary>
public static class AgentApi
{
    /// <summary>The ttrpc service name: proto package + service.</summary>
    public const string ServiceName = "vmsandbox.agent.v1.Agent";

    /// <summary>The guest vsock port the agent's ttrpc server listens on.</summary>
    public const uint VsockPort = 1024;

    /// <summary>Reported in <see cref="CheckResponse.ApiVersion"/>; bump on incompatible changes.</summary>
    public const uint ApiVersion = 1;

    public const string CheckMethod = "Check";

    public const string GetGuestDetailsMethod = "GetGuestDetails";

    public const string CreateContainerMethod = "CreateContainer";

    public const string StartContainerMethod = "StartContainer";

    public const string ExecProcessMethod = "ExecProcess";

    public const string SignalProcessMethod = "SignalProcess";

    public const string WaitProcessMethod = "WaitProcess";

    public const string ResizeTtyMethod = "ResizeTty";

    public const string CloseStdinMethod = "CloseStdin";

    public const string ListProcessesMethod = "ListProcesses";

    public const string StatsMethod = "Stats";

    public const string RemoveContainerMethod = "RemoveContainer";
    public const string PauseContainerMethod = "PauseContainer";
    public const string ResumeContainerMethod = "ResumeContainer";
    public const string UpdateContainerMethod = "UpdateContainer";

    public const string SetTimeMethod = "SetTime";

    public const string ConfigureNetworkMethod = "ConfigureNetwork";

    public const string ShutdownMethod = "Shutdown";
}
