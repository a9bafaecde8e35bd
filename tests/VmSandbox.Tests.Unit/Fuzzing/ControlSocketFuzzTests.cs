using System.Net.Sockets;
using System.Text.Json;
using VmSandbox.Common;
using VmSandbox.Oci;
using VmSandbox.Runtime;
using VmSandbox.Runtime.Containers;
using VmSandbox.Runtime.Sandbox;
using VmSandbox.Tests.Unit.Runtime;
using Xunit;

namespace VmSandbox.Tests.Unit.Fuzzing;

/// <summary>
/// The host's own control sockets (0600, in 0700 run directories), fuzzed from both ends: the
/// sandbox monitor's and pooled VM's control socket reading a request line (sync-network,
/// add-member ID, remove-member ID, claim PID ID ROOT), and the CLI reading a helper's
/// <see cref="MonitorReport"/> (the control socket's answer, the monitor's start-up report).
/// </summary>
public sealed class ControlSocketFuzzTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vmsb-ctlfuzz-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    [Trait("Category", "Reliability")]
    [Trait("Category", "Fuzz")]
    public async Task Control_requests()
    {
        var target = new FuzzTarget("monitor and pooled-VM control requests",
            "mutated request lines (sync-network, add-member ID, remove-member ID, claim PID ID ROOT; over-long, unterminated, binary) sent to a MonitorControl socket whose handler parses them as the monitor and PoolVm do (PoolClaimRequest.Parse, the container ID rule, the claimant's store)",
            "the handler gets one line of at most 255 bytes and refuses bad ones with a VmSandboxException; every request gets one MonitorReport answer; the socket keeps serving")
        {
            Seeds =
            [
                FuzzSeeds.Utf8("sync-network\n"), FuzzSeeds.Utf8("add-member c2\n"), FuzzSeeds.Utf8("remove-member pod.member-1\n"),
                FuzzSeeds.Utf8("claim 4242 c1 /run/vmsandbox-fuzz/store root\n"),
            ],
            Tokens = ["claim ", "add-member ", "remove-member ", "sync-network", " ", "\n", "\0", "..", "/", "1", "0", "-1"],
            MaxInputLength = 1024,
            DefaultIterations = 1500,
        };
        string? undocumented = null;
        await using MonitorControl control = MonitorControl.Start(_dir, (verb, ct) =>
        {
            try
            {
                Handle(verb);
            }
            catch (Exception e) when (e is not VmSandboxException)
            {
                undocumented ??= $"request \"{verb}\": {e}";
                throw;
            }
            return Task.CompletedTask;
        }, _ => { });
        FuzzReport report = await Fuzzer.RunAsync(target, async (input, ct) =>
        {
            undocumented = null;
            using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(control.Path), ct);
            await socket.SendAsync(input, SocketFlags.None, ct);
            socket.Shutdown(SocketShutdown.Send);
            byte[] answer = await FuzzSockets.ReadToEndAsync(socket, ct);
            MonitorReport report = JsonSerializer.Deserialize(answer, RuntimeJsonContext.Default.MonitorReport)
                ?? throw new InvalidDataException("a null answer");
            if (undocumented is not null)
            {
                throw new InvalidDataException(undocumented);
            }
            return report.Error is null;
        });
        report.RecordAndAssert();
    }

    [Fact]
    [Trait("Category", "Reliability")]
    [Trait("Category", "Fuzz")]
    public async Task Helper_reports()
    {
        var target = new FuzzTarget("monitor reports read by the CLI",
            "mutated MonitorReport answers (guest pid, pooled VM, error code and message; bad JSON, nulls, wrong types) read by MonitorControl.Request and ReportChannel.Await",
            "each is taken or refused with a VmSandboxException (a helper's own error rebuilt from its WireError, or a malformed report); nothing else thrown")
        {
            Seeds =
            [
                JsonSerializer.SerializeToUtf8Bytes(new MonitorReport { GuestPid = 7, VmRunDir = "/run/vmsandbox/.pool/ab", VmPid = 42, VmStartTime = 99 }, RuntimeJsonContext.Default.MonitorReport),
                JsonSerializer.SerializeToUtf8Bytes(MonitorReport.Failed(new VmSandboxException(ErrorCode.NotFound, "container c1 does not exist")), RuntimeJsonContext.Default.MonitorReport),
                FuzzSeeds.Utf8("{}\n"),
            ],
            Tokens = FuzzSeeds.JsonTokens,
            MaxInputLength = 4096,
            DefaultIterations = 1000,
        };
        string runDir = Directory.CreateDirectory(Path.Combine(_dir, "run")).FullName;
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(Path.Combine(runDir, MonitorControl.FileName)));
        listener.Listen(4);
        using var self = new RunningHelper();
        string channelPath = Path.Combine(_dir, "report.sock");
        (await Fuzzer.RunAsync(target, async (input, ct) =>
        {
            // The control socket's answer: the monitor writes it and closes.
            Task answered = AnswerAsync(listener, input, ct);
            bool taken = true;
            try
            {
                await Task.Run(() => MonitorControl.Request(runDir, MonitorControl.SyncNetwork, TimeSpan.FromSeconds(5)), ct);
            }
            catch (VmSandboxException)
            {
                taken = false;
            }
            await answered;
            // The start-up report: the helper connects, writes one line and closes.
            using var channel = new ReportChannel(channelPath);
            Task sent = RunningHelper.SendAsync(channelPath, input, ct);
            _ = channel.Await(self, TimeSpan.FromSeconds(5), "fuzzed helper").ThrowIfFailed();
            await sent;
            return taken;
        })).RecordAndAssert();
    }

    /// <summary>What the monitor's verbs and PoolVm's claim do with a request before acting on the sandbox.</summary>
    private void Handle(string verb)
    {
        if (verb.Contains('\n', StringComparison.Ordinal) || verb.Length > 255)
        {
            throw new InvalidDataException($"the handler got {verb.Length} chars with a newline or past the limit");
        }
        if (verb.StartsWith(WarmPool.ClaimVerb + " ", StringComparison.Ordinal))
        {
            PoolClaimRequest claim = PoolClaimRequest.Parse(verb);
            _ = new ContainerStore(claim.StoreRoot, _dir).Load(claim.Id);
            return;
        }
        switch (verb.Split(' ', 2))
        {
            case [MonitorControl.SyncNetwork]:
                return;
            case [MonitorControl.AddMember, string member]:
                ContainerIdValidator.Validate(member);
                return;
            case [MonitorControl.RemoveMember, string member]:
                _ = SandboxPlan.MemberPrefix(member);
                return;
            default:
                throw new VmSandboxException(ErrorCode.InvalidArgument, $"unknown control verb \"{verb}\"");
        }
    }

    private static async Task AnswerAsync(Socket listener, byte[] answer, CancellationToken ct)
    {
        using Socket conn = await listener.AcceptAsync(ct);
        byte[] request = new byte[64];
        while (await conn.ReceiveAsync(request, SocketFlags.None, ct) > 0)
        {
        }
        await conn.SendAsync(answer, SocketFlags.None, ct);
    }
}
