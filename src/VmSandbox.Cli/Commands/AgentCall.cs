using VmSandbox.Agent.Protocol;
using VmSandbox.Runtime.Containers;
using VmSandbox.Ttrpc;

namespace VmSandbox.Cli.Commands;

/// <summary>One short call to a container's guest agent over the sandbox's vsock socket.</summary>
public static class AgentCall
{
    public static readonly TtrpcCallOptions Options = new() { Timeout = TimeSpan.FromSeconds(30) };

    public static T Run<T>(ContainerRecord record, Func<AgentClient, Task<T>> call) =>
        RunAsync(record, call).GetAwaiter().GetResult();

    public static async Task<T> RunAsync<T>(ContainerRecord record, Func<AgentClient, Task<T>> call)
    {
        await using AgentConnection conn = await AgentConnection.ConnectAsync(record.RunDir, CancellationToken.None);
        return await call(conn.Agent);
    }
}
