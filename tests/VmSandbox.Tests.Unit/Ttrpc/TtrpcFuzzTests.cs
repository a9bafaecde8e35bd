using System.Diagnostics;
using Google.Protobuf;
using VmSandbox.Ttrpc;
using VmSandbox.Ttrpc.Framing;
using VmSandbox.Ttrpc.Protocol;
using Xunit;

namespace VmSandbox.Tests.Unit.Ttrpc;

/// <summary>
/// Bounded, seeded fuzzing of both frame readers: valid frames are mutated (bit flips, byte
/// overwrites, truncation, insertions, length tampering) and fed to a server connection and to
/// a client. Each iteration must end by itself, with no exception escaping and every call
/// completed. The seed is fixed so that a failure reproduces.
/// </summary>
public sealed class TtrpcFuzzTests
{
    private const int Seed = 0x7472_7063; // "trpc"
    private const int MaxIterations = 3000;
    private static readonly TimeSpan s_budget = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan s_iterationLimit = TimeSpan.FromSeconds(10);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ServerSurvivesMutatedFrames()
    {
        var server = new TtrpcServer();
        server.RegisterService("fuzz.v1.Svc", svc => svc
            .AddMethod("Echo", (p, _) => ValueTask.FromResult<TtrpcResult>(p.ToArray()))
            .AddMethod<KeyValue, KeyValue>("Typed", KeyValue.Parser, (kv, _) => ValueTask.FromResult(kv))
            .AddMethod("Throw", (_, _) => throw new InvalidOperationException("boom")));
        var seeds = new[]
        {
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
        };

        int iterations = await RunAsync(seeds, async (input, random) =>
        {
            var stream = new ScriptedStream(input, random);
            await server.ServeConnectionAsync(stream, Ct).WaitAsync(s_iterationLimit, Ct);
        });

        Assert.True(iterations > 100, $"only {iterations} iterations ran");
    }

    [Fact]
    public async Task ClientSurvivesMutatedFrames()
    {
        var seeds = new[]
        {
            Concat(
                RawFrames.Frame(1, FrameType.Response, new Response { Status = new Status(), Payload = ByteString.CopyFromUtf8("ok") }.ToByteArray()),
                RawFrames.Frame(3, FrameType.Response, new Response { Status = new Status { Code = 5, Message = "not found" } }.ToByteArray()),
                RawFrames.Frame(5, FrameType.Response, new KeyValue { Key = "x" }.ToByteArray())),
        };

        int iterations = await RunAsync(seeds, async (input, random) =>
        {
            var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var client = new TtrpcClient(new ScriptedStream(input, random, gate.Task));
            var calls = Enumerable.Range(0, 3)
                .Select(_ => client.CallAsync("fuzz.v1.Svc", "Echo", default, cancellationToken: Ct))
                .ToArray();
            gate.SetResult();
            foreach (var call in calls)
            {
                try
                {
                    await call.WaitAsync(s_iterationLimit, Ct);
                }
                catch (TtrpcException)
                {
                    // A status, a decode failure or the end of the input: all clean outcomes.
                }
            }
            await client.Completion.WaitAsync(s_iterationLimit, Ct);
            await client.DisposeAsync();
        });

        Assert.True(iterations > 100, $"only {iterations} iterations ran");
    }

    private static async Task<int> RunAsync(byte[][] seeds, Func<byte[], Random, Task> feed)
    {
        var random = new Random(Seed);
        var clock = Stopwatch.StartNew();
        int i = 0;
        for (; i < MaxIterations && clock.Elapsed < s_budget; i++)
        {
            byte[] input = Mutate(seeds[random.Next(seeds.Length)], random);
            try
            {
                await feed(input, random);
            }
            catch (Exception e)
            {
                Assert.Fail($"iteration {i} (seed {Seed}) input {Convert.ToHexString(input)}: {e}");
            }
        }
        return i;
    }

    private static byte[] Mutate(byte[] seed, Random random)
    {
        var data = new List<byte>(seed);
        int mutations = random.Next(1, 5);
        for (int m = 0; m < mutations && data.Count > 0; m++)
        {
            int at = random.Next(data.Count);
            switch (random.Next(7))
            {
                case 0:
                    data[at] ^= (byte)(1 << random.Next(8));
                    break;
                case 1:
                    data[at] = (byte)random.Next(256);
                    break;
                case 2:
                    data.RemoveRange(at, data.Count - at);
                    break;
                case 3:
                    data.InsertRange(at, Enumerable.Range(0, random.Next(1, 16)).Select(_ => (byte)random.Next(256)));
                    break;
                case 4:
                    data.RemoveAt(at);
                    break;
                case 5:
                    // Tamper with a header length or stream id field (bytes 0-7 of a frame).
                    data[Math.Min(at, 7) % data.Count] = (byte)random.Next(256);
                    break;
                default:
                    data.AddRange(data.GetRange(0, Math.Min(data.Count, random.Next(1, 40))));
                    break;
            }
        }
        return [.. data];
    }

    private static byte[] Concat(params byte[][] parts) => [.. parts.SelectMany(p => p)];
}
