using System.Text.Json;
using Google.Protobuf;
using VmSandbox.Agent.Protocol;
using VmSandbox.Cli;
using VmSandbox.Cli.Commands;
using VmSandbox.Cli.Output;
using VmSandbox.Shim;
using VmSandbox.Tests.Unit.Ttrpc;
using VmSandbox.Ttrpc;
using VmSandbox.Ttrpc.Framing;
using VmSandbox.Ttrpc.Protocol;
using Xunit;

namespace VmSandbox.Tests.Unit.Fuzzing;

/// <summary>
/// Replies of a hostile agent, decoded on the host: a typed call on the host's real client
/// (<see cref="AgentClient"/> over <see cref="TtrpcClient"/>) reads mutated ttrpc frames whose
/// payloads are the agent API's replies, and the host then uses the reply as it does (runc's
/// `events` JSON and containerd's cgroup metrics from Stats, the process table from
/// ListProcesses). The first input byte picks the call.
/// </summary>
public sealed class AgentReplyFuzzTests
{
    private static readonly Func<AgentClient, CancellationToken, Task>[] s_calls =
    [
        async (a, ct) => _ = (await a.CheckAsync(new CheckRequest(), null, ct)).AgentVersion.Length,
        async (a, ct) => _ = (await a.GetGuestDetailsAsync(new GetGuestDetailsRequest(), null, ct)).ToString(),
        async (a, ct) => _ = (int)(await a.CreateContainerAsync(new CreateContainerRequest { ContainerId = "c" }, null, ct)).Pid,
        async (a, ct) => _ = (int)(await a.ExecProcessAsync(new ExecProcessRequest { ContainerId = "c", ExecId = "e" }, null, ct)).Pid,
        async (a, ct) => _ = (await a.WaitProcessAsync(new WaitProcessRequest { ContainerId = "c" }, null, ct)).ExitCode,
        async (a, ct) =>
        {
            ListProcessesResponse list = await a.ListProcessesAsync(new ListProcessesRequest { ContainerId = "c" }, null, ct);
            // PsCommand --guest: one row per process.
            TableWriter.Write(TextWriter.Null, [["PID", "PPID", "CMD"], .. list.Processes.Select(PsCommand.Row)]);
        },
        async (a, ct) =>
        {
            StatsResponse stats = await a.StatsAsync(new StatsRequest { ContainerId = "c" }, null, ct);
            _ = JsonSerializer.Serialize(StatsEvent.From("c", stats), CliJsonContext.Default.StatsEvent);
            _ = TaskService.ToMetrics(stats).ToByteArray();
        },
        async (a, ct) => await a.SignalProcessAsync(new SignalProcessRequest { ContainerId = "c", Signal = 15 }, null, ct),
    ];

    private static readonly IMessage[] s_replies =
    [
        new CheckResponse { Status = CheckResponse.Types.ServingStatus.Serving, AgentVersion = "0.1.0", ApiVersion = 1 },
        new GuestDetails { KernelRelease = "6.1.0-vmsandbox", MemoryTotalBytes = 268435456, MemoryAvailableBytes = 200000000, CpuCount = 2, AgentVersion = "0.1.0", UptimeNano = 1_500_000_000 },
        new CreateContainerResponse { Pid = 7 },
        new ExecProcessResponse { Pid = 12 },
        new WaitProcessResponse { ExitCode = 137, Signal = 9, ExitedAtUnixNano = 1_700_000_000_000_000_000 },
        new ListProcessesResponse
        {
            Processes =
            {
                new ProcessInfo { Pid = 1, Ppid = 0, Command = "sh", Args = { "sh", "-c", "sleep 1" } },
                new ProcessInfo { Pid = 9, Ppid = 1, ExecId = "e", Command = "sleep" },
            },
        },
        new StatsResponse
        {
            Cpu = new CpuStats { UsageUsec = 1000, UserUsec = 600, SystemUsec = 400, NrPeriods = 10, NrThrottled = 1, ThrottledUsec = 5 },
            Memory = new MemoryStats { UsageBytes = 1 << 20, LimitBytes = 1 << 28, AnonBytes = 4096, FileBytes = 8192, OomKills = 1 },
            Pids = new PidsStats { Current = 3, Limit = 100 },
            Io = { new IoDeviceStats { Major = 254, Minor = 0, ReadBytes = 4096, WriteBytes = 0, ReadIos = 1 } },
        },
        new Google.Protobuf.WellKnownTypes.Empty(),
    ];

    [Fact]
    [Trait("Category", "Reliability")]
    [Trait("Category", "Fuzz")]
    public async Task Agent_replies()
    {
        var target = new FuzzTarget("agent replies decoded on the host",
            "mutated ttrpc Response frames carrying the agent API's replies (Check, GetGuestDetails, CreateContainer, ExecProcess, WaitProcess, ListProcesses, Stats, SignalProcess), read by the host's AgentClient, then used as `events`, `ps --guest` and the shim's metrics use them",
            "each call returns a reply or fails with a TtrpcException (a status, a decode error, the connection's end); the host's use of a reply throws nothing; every call ends")
        {
            Seeds = [.. Seeds()],
            DefaultIterations = 2000,
        };
        (await Fuzzer.RunAsync(target, async (input, ct) =>
        {
            Func<AgentClient, CancellationToken, Task> call = s_calls[input.Length == 0 ? 0 : input[0] % s_calls.Length];
            var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var client = new TtrpcClient(new ScriptedStream(input.Length > 1 ? input[1..] : [], new Random(input.Length), gate.Task));
            try
            {
                Task running = call(new AgentClient(client), ct);
                gate.SetResult();
                await running;
                return true;
            }
            finally
            {
                await client.DisposeAsync();
            }
        })).RecordAndAssert();
    }

    private static IEnumerable<byte[]> Seeds()
    {
        for (int i = 0; i < s_calls.Length; i++)
        {
            byte[] payload = s_replies[i].ToByteArray();
            var ok = new Response { Status = new Status(), Payload = ByteString.CopyFrom(payload) };
            yield return [(byte)i, .. RawFrames.Frame(1, FrameType.Response, ok.ToByteArray())];
            var failed = new Response { Status = new Status { Code = 5, Message = "container c not found" } };
            yield return [(byte)i, .. RawFrames.Frame(3, FrameType.Response, ok.ToByteArray()), .. RawFrames.Frame(1, FrameType.Response, failed.ToByteArray())];
        }
    }
}
