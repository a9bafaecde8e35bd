using System.Reflection;

namespace VmSandbox.Agent;

/// <summary>Static facts about this agent build.</summary>
public static class AgentInfo
{
    public static string Version { get; } =
        typeof(AgentInfo).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";

    /// <summary>Prefix of every line the agent writes to the console; the host parses these.</summary>
    public const string ConsolePrefix = "vmsandbox-agent:";
}
