using Google.Protobuf;
using VmSandbox.Tests.Unit.Fuzzing;
using VmSandbox.Ttrpc;
using VmSandbox.Ttrpc.Framing;
using VmSandbox.Ttrpc.Protocol;
using Xunit;

namespace VmSandbox.Tests.Unit.Ttrpc;

/// <summary>
/// Fuzzing (Fuzzing/Fuzzer.cs) of both frame readers: valid frames are mutated (bit flips,
/// overwrites, truncation, insertions, interesting integers in the length and stream id fields,
/// splices) and fed, in random-sized pieces, to a server connection and to a client. Each input
/// must end by itself, with no exception escaping and every call completed.
/// </summary>
public sealed class TtrpcFuzzTests
{
    [Fact]
    [Trait("Category", "Reliability")]
    [Trait("Category", "Fuzz")]
    public async Task Server_frames()
    {
        var server = new TtrpcServer();
        server.RegisterService("fuzz.v1.Svc", svc => svc
            .AddMethod("Echo", (p, _) => ValueTask.FromResult<TtrpcResult>(p.ToArray()))
            .AddMethod<KeyValue, KeyValue>("Typed", KeyValue.Parser, (kv, _) => ValueTask.FromResult(kv))
            .AddMethod("Throw", (_, _) => throw new InvalidOperationException("boom")));
        var target = new FuzzTarget("ttrpc frames read by a server",
            "mutated ttrpc request frames (lengths, stream ids, types, flags, Request envelopes, payloads, metadata, timeouts) fed in random pieces to TtrpcServer.ServeConnectionAsync",
            "the connection ends by itself at the input's end or at the first bad frame; nothing thrown; oversized lengths skipped without allocating them")
        {
            Seeds =
            [
                Concat(
                    RawFrames.Request(1, "fuzz.v1.Svc", "Echo", new KeyValue { Key = "k", Value = "v" }),
                    RawFrames.Request(3, "fuzz.v1.Svc", "Typed", new KeyValue { Key = "k", Value = "v" }),
                    RawFrames.Request(5, "fuzz.v1.Svc", "Throw")),
                RawFrames.Frame(1, FrameType.Request, new Request
                {
                    Service = "fuzz.v1.Svc",
                    Method = "Typed",
                    TimeoutNano = 1_000_000_000,
                    Payload = new KeyValue { Key = "a" }.ToByteString(),
                    Metadata = { new KeyValue { Key = "containerd-namespace-ttrpc", Value = "default" } },
                }.ToByteArray()),
            ],
            IsDocumented = _ => false,
            DefaultIterations = 2500,
        };
        (await Fuzzer.RunAsync(target, async (input, ct) =>
        {
            var stream = new ScriptedStream(input, new Random(input.Length));
            await server.ServeConnectionAsync(stream, ct);
            return stream.BytesWritten > 0;
        })).RecordAndAssert();
    }

    [Fact]
    [Trait("Category", "Reliability")]
    [Trait("Category", "Fuzz")]
    public async Task Client_frames()
    {
        var target = new FuzzTarget("ttrpc frames read by a client",
            "mutated ttrpc response frames (lengths, stream ids, types, Response envelopes and statuses) fed in random pieces to a TtrpcClient with three calls in flight",
            "every call ends with its response or a TtrpcException (a status, a decode failure, the connection's end); nothing else thrown")
        {
            Seeds =
            [
                Concat(
                    RawFrames.Frame(1, FrameType.Response, new Response { Status = new Status(), Payload = ByteString.CopyFromUtf8("ok") }.ToByteArray()),
                    RawFrames.Frame(3, FrameType.Response, new Response { Status = new Status { Code = 5, Message = "not found" } }.ToByteArray()),
                    RawFrames.Frame(5, FrameType.Response, new KeyValue { Key = "x" }.ToByteArray())),
            ],
            DefaultIterations = 2500,
        };
        (await Fuzzer.RunAsync(target, async (input, ct) =>
        {
            var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var client = new TtrpcClient(new ScriptedStream(input, new Random(input.Length), gate.Task));
            var calls = Enumerable.Range(0, 3).Select(_ => client.CallAsync("fuzz.v1.Svc", "Echo", default, cancellationToken: ct)).ToArray();
            gate.SetResult();
            int answered = 0;
            foreach (var call in calls)
            {
                try
                {
                    await call;
                    answered++;
                }
                catch (TtrpcException)
                {
                    // A status, a decode failure or the end of the input: all clean outcomes.
                }
            }
            await client.Completion;
            await client.DisposeAsync();
            return answered > 0;
        })).RecordAndAssert();
    }

    private static byte[] Concat(params byte[][] parts) => [.. parts.SelectMany(p => p)];
}
