using System.Collections.Concurrent;
using System.Text;
using VmSandbox.Common;
using VmSandbox.Ttrpc;
using Xunit;

namespace VmSandbox.Tests.Unit.Ttrpc;

/// <summary>A real client against a real server over a Unix socket pair.</summary>
public sealed class TtrpcClientServerTests
{
    private const string Service = "test.v1.Echo";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task UnaryCallRoundTripsPayloadAndMetadata()
    {
        TtrpcCallContext? seen = null;
        await using var host = TtrpcTestHost.Start(s => s.RegisterService(Service, svc => svc
            .AddMethod("Echo", (payload, ctx) =>
            {
                seen = ctx;
                return ValueTask.FromResult<TtrpcResult>(payload.ToArray().Reverse().ToArray());
            })),
            new TtrpcClientOptions { Metadata = [new("containerd-namespace-ttrpc", "default")] });

        var reply = await host.Client.CallAsync(Service, "Echo", "abc"u8.ToArray(), new TtrpcCallOptions
        {
            Timeout = TimeSpan.FromSeconds(30),
            Metadata = [new("k", "1"), new("k", "2")],
        }, Ct);

        Assert.Equal("cba", Encoding.ASCII.GetString(reply.Span));
        Assert.NotNull(seen);
        Assert.Equal(1u, seen.StreamId);
        Assert.Equal("Echo", seen.Method);
        Assert.Equal("default", seen.GetMetadata("containerd-namespace-ttrpc"));
        Assert.Equal(["1", "2"], seen.Metadata.Where(kv => kv.Key == "k").Select(kv => kv.Value));
        Assert.NotNull(seen.Deadline);
        Assert.Null(seen.GetMetadata("absent"));
    }

    [Fact]
    public async Task EmptyPayloadIsAValidAnswer()
    {
        await using var host = TtrpcTestHost.Start(s => s.RegisterService(Service, svc => svc
            .AddMethod("Empty", (_, _) => ValueTask.FromResult(TtrpcResult.FromBytes(default)))));

        var reply = await host.Client.CallAsync(Service, "Empty", default, cancellationToken: Ct);

        Assert.True(reply.IsEmpty);
    }

    [Fact]
    public async Task ConcurrentCallsAreMultiplexedAndAnsweredOutOfOrder()
    {
        const int calls = 48;
        var gates = Enumerable.Range(0, calls).Select(_ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).ToArray();
        var arrived = new CountdownEvent(calls);
        var streamIds = new ConcurrentBag<uint>();
        await using var host = TtrpcTestHost.Start(s => s.RegisterService(Service, svc => svc
            .AddMethod("Gate", async (payload, ctx) =>
            {
                int i = payload.Span[0];
                streamIds.Add(ctx.StreamId);
                arrived.Signal();
                await gates[i].Task;
                return new byte[] { (byte)i, 0xee };
            })));

        var completionOrder = new ConcurrentQueue<int>();
        var tasks = Enumerable.Range(0, calls).Select(async i =>
        {
            var reply = await host.Client.CallAsync(Service, "Gate", new[] { (byte)i }, cancellationToken: Ct);
            completionOrder.Enqueue(i);
            return reply.ToArray();
        }).ToArray();

        // Every call is in a handler at once: they really run concurrently on one connection.
        Assert.True(arrived.Wait(TimeSpan.FromSeconds(20), Ct));
        for (int i = calls - 1; i >= 0; i--)
        {
            gates[i].SetResult();
            await tasks[i].WaitAsync(TimeSpan.FromSeconds(10), Ct);
        }

        for (int i = 0; i < calls; i++)
        {
            Assert.Equal(new byte[] { (byte)i, 0xee }, await tasks[i]);
        }
        Assert.Equal(Enumerable.Range(0, calls).Reverse(), completionOrder);
        // Client stream ids: odd, from 1, step 2.
        Assert.Equal(Enumerable.Range(0, calls).Select(i => (uint)(2 * i + 1)), streamIds.Order());
    }

    /// <summary>
    /// ttrpc 1.2 servers (ours too) refuse a request whose stream id is not above the last one
    /// ("stream id N cannot be re-used and must increment"), so a client must put its ids on the
    /// wire in the order it takes them. Taking the id before the write lock let a call that was
    /// preempted in between be overtaken: the sandbox monitor's WaitProcess, racing its own
    /// CloseStdin, got that refusal and the container's exit status became 255.
    /// </summary>
    [Fact]
    public async Task ConcurrentCallsFromManyThreadsReachTheServerInStreamIdOrder()
    {
        const int Threads = 8;
        const int CallsEach = 250;
        await using var host = TtrpcTestHost.Start(s => s.RegisterService(Service, svc => svc
            .AddMethod("Echo", (payload, _) => ValueTask.FromResult<TtrpcResult>(payload.ToArray()))));
        var failures = new ConcurrentQueue<string>();
        using var start = new Barrier(Threads);

        async Task CallAsync(int i)
        {
            try
            {
                var reply = await host.Client.CallAsync(Service, "Echo", new[] { (byte)i }, cancellationToken: Ct);
                if (reply.Length != 1 || reply.Span[0] != (byte)i)
                {
                    failures.Enqueue($"call {i}: wrong answer");
                }
            }
            catch (TtrpcException e)
            {
                failures.Enqueue($"call {i}: {e.Status}: {e.Message}");
            }
        }

        Task[] threads = [.. Enumerable.Range(0, Threads).Select(_ => Task.Factory.StartNew(() =>
        {
            start.SignalAndWait(Ct);
            return Task.WhenAll(Enumerable.Range(0, CallsEach).Select(CallAsync).ToArray());
        }, Ct, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap())];
        await Task.WhenAll(threads).WaitAsync(TimeSpan.FromSeconds(60), Ct);

        Assert.True(failures.IsEmpty, $"{failures.Count} of {Threads * CallsEach} calls failed, first: {failures.FirstOrDefault()}");
    }

    [Fact]
    public async Task DeadlineIsSentAndExceededCallsFailBothSides()
    {
        var handlerCancelled = new TaskCompletionSource<DateTimeOffset?>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var host = TtrpcTestHost.Start(s => s.RegisterService(Service, svc => svc
            .AddMethod("Hang", async (_, ctx) =>
            {
                try
                {
                    await Task.Delay(Timeout.Infinite, ctx.CancellationToken);
                }
                catch (OperationCanceledException)
                {
                    handlerCancelled.SetResult(ctx.Deadline);
                    throw;
                }
                return Array.Empty<byte>();
            })));

        var e = await Assert.ThrowsAsync<TtrpcException>(() => host.Client.CallAsync(Service, "Hang", default,
            new TtrpcCallOptions { Timeout = TimeSpan.FromMilliseconds(200) }, Ct));

        Assert.Equal(StatusCode.DeadlineExceeded, e.Status);
        Assert.Equal(ErrorCode.Timeout, e.Code);
        // The server applied timeout_nano as its own deadline and cancelled the handler.
        Assert.NotNull(await handlerCancelled.Task.WaitAsync(TimeSpan.FromSeconds(10), Ct));
        // The connection is still usable.
        await Assert.ThrowsAsync<TtrpcException>(() => host.Client.CallAsync(Service, "Missing", default, cancellationToken: Ct));
    }

    [Fact]
    public async Task ServerAnswersDeadlineExceededWhenTheHandlerRunsOutOfTime()
    {
        // A caller that sends a deadline and waits longer than it gets the server's status.
        var (clientStream, serverStream) = SocketPair.CreateStreams();
        var server = new TtrpcServer();
        server.RegisterService(Service, svc => svc.AddMethod("Hang", async (_, ctx) =>
        {
            await Task.Delay(Timeout.Infinite, ctx.CancellationToken);
            return Array.Empty<byte>();
        }));
        Task serving = server.ServeConnectionAsync(serverStream, Ct);
        await using (clientStream)
        {
            var request = new VmSandbox.Ttrpc.Protocol.Request { Service = Service, Method = "Hang", TimeoutNano = 100_000_000 };
            await clientStream.WriteAsync(RawFrames.Frame(1, VmSandbox.Ttrpc.Framing.FrameType.Request, Google.Protobuf.MessageExtensions.ToByteArray(request)), Ct);
            var response = await RawFrames.ReadResponseAsync(clientStream, 1);
            Assert.Equal((int)StatusCode.DeadlineExceeded, response.Status.Code);
        }
        await serving.WaitAsync(TimeSpan.FromSeconds(10), Ct);
    }

    [Fact]
    public async Task ZeroTimeoutFailsWithoutSendingAndInfiniteMeansNone()
    {
        int calls = 0;
        await using var host = TtrpcTestHost.Start(s => s.RegisterService(Service, svc => svc
            .AddMethod("Count", (_, ctx) =>
            {
                Interlocked.Increment(ref calls);
                Assert.Null(ctx.Deadline);
                return ValueTask.FromResult(TtrpcResult.FromBytes(default));
            })));

        var e = await Assert.ThrowsAsync<TtrpcException>(() => host.Client.CallAsync(Service, "Count", default,
            new TtrpcCallOptions { Timeout = TimeSpan.Zero }, Ct));
        await host.Client.CallAsync(Service, "Count", default, new TtrpcCallOptions { Timeout = Timeout.InfiniteTimeSpan }, Ct);

        Assert.Equal(StatusCode.DeadlineExceeded, e.Status);
        Assert.Equal(1, calls);
    }

    [Theory]
    [InlineData(Service, "NoSuchMethod", "service test.v1.Echo: unknown method NoSuchMethod")]
    [InlineData("no.such.Service", "Echo", "unknown service no.such.Service")]
    public async Task UnknownServiceOrMethodIsUnimplemented(string service, string method, string message)
    {
        await using var host = TtrpcTestHost.Start(s => s.RegisterService(Service, svc => svc
            .AddMethod("Echo", (p, _) => ValueTask.FromResult<TtrpcResult>(p))));

        var e = await Assert.ThrowsAsync<TtrpcException>(() => host.Client.CallAsync(service, method, default, cancellationToken: Ct));

        Assert.Equal(StatusCode.Unimplemented, e.Status);
        Assert.Equal(message, e.Message);
    }

    public static TheoryData<Exception, StatusCode, string> HandlerExceptions => new()
    {
        { new InvalidOperationException("disk on fire"), StatusCode.Unknown, "disk on fire" },
        { new VmSandboxException(ErrorCode.NotFound, "find container c1", new IOException("no such file")), StatusCode.NotFound, "find container c1: no such file" },
        { new TtrpcException(StatusCode.FailedPrecondition, "container c1 is not running"), StatusCode.FailedPrecondition, "container c1 is not running" },
        { new ArgumentException("bad signal 99"), StatusCode.InvalidArgument, "bad signal 99" },
        { new NotImplementedException("checkpoint"), StatusCode.Unimplemented, "checkpoint" },
    };

    [Theory]
    [MemberData(nameof(HandlerExceptions))]
    public async Task HandlerExceptionBecomesAStatusWithoutStackTrace(Exception thrown, StatusCode code, string message)
    {
        await using var host = TtrpcTestHost.Start(s => s.RegisterService(Service, svc => svc
            .AddMethod("Throw", (_, _) => Throw(thrown))
            .AddMethod("ThrowSync", (_, _) => throw thrown)));

        foreach (string method in new[] { "Throw", "ThrowSync" })
        {
            var e = await Assert.ThrowsAsync<TtrpcException>(() => host.Client.CallAsync(Service, method, default, cancellationToken: Ct));
            Assert.Equal(code, e.Status);
            Assert.Equal(message, e.Message);
            Assert.DoesNotContain(" at ", e.Message);
            Assert.DoesNotContain(thrown.GetType().Name, e.Message);
        }
    }

    [Fact]
    public async Task TypedMethodAnswersInvalidArgumentToGarbagePayload()
    {
        await using var host = TtrpcTestHost.Start(s => s.RegisterService(Service, svc => svc
            .AddMethod<VmSandbox.Ttrpc.Protocol.KeyValue, VmSandbox.Ttrpc.Protocol.KeyValue>("Typed",
                VmSandbox.Ttrpc.Protocol.KeyValue.Parser,
                (kv, _) => ValueTask.FromResult(new VmSandbox.Ttrpc.Protocol.KeyValue { Key = kv.Value, Value = kv.Key }))));

        var swapped = await host.Client.CallAsync(Service, "Typed", new VmSandbox.Ttrpc.Protocol.KeyValue { Key = "a", Value = "b" },
            VmSandbox.Ttrpc.Protocol.KeyValue.Parser, cancellationToken: Ct);
        Assert.Equal(("b", "a"), (swapped.Key, swapped.Value));

        // Field 1 (length-delimited) claiming 100 bytes that are not there.
        var e = await Assert.ThrowsAsync<TtrpcException>(() => host.Client.CallAsync(Service, "Typed", new byte[] { 0x0a, 0x64, 0x01 }, cancellationToken: Ct));
        Assert.Equal(StatusCode.InvalidArgument, e.Status);
        Assert.StartsWith("decode request: ", e.Message);
    }

    [Fact]
    public async Task ConnectionLossFailsPendingAndLaterCalls()
    {
        var entered = new CountdownEvent(5);
        await using var host = TtrpcTestHost.Start(s => s.RegisterService(Service, svc => svc
            .AddMethod("Hang", async (_, ctx) =>
            {
                entered.Signal();
                await Task.Delay(Timeout.Infinite, ctx.CancellationToken);
                return Array.Empty<byte>();
            })));
        var pending = Enumerable.Range(0, 5).Select(_ => host.Client.CallAsync(Service, "Hang", default, cancellationToken: Ct)).ToArray();
        Assert.True(entered.Wait(TimeSpan.FromSeconds(10), Ct));

        host.ServerStream.Socket.Shutdown(System.Net.Sockets.SocketShutdown.Both);

        foreach (var call in pending)
        {
            var e = await Assert.ThrowsAsync<TtrpcException>(() => call.WaitAsync(TimeSpan.FromSeconds(10), Ct));
            Assert.Equal(StatusCode.Unavailable, e.Status);
        }
        await host.Client.Completion.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        var later = await Assert.ThrowsAsync<TtrpcException>(() => host.Client.CallAsync(Service, "Hang", default, cancellationToken: Ct));
        Assert.Equal(StatusCode.Unavailable, later.Status);
        // The server cancelled its handlers and finished the connection.
        await host.Serving.WaitAsync(TimeSpan.FromSeconds(10), Ct);
    }

    [Fact]
    public async Task CallerCancellationThrowsOperationCanceled()
    {
        await using var host = TtrpcTestHost.Start(s => s.RegisterService(Service, svc => svc
            .AddMethod("Hang", async (_, ctx) =>
            {
                await Task.Delay(Timeout.Infinite, ctx.CancellationToken);
                return Array.Empty<byte>();
            })));
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        cts.CancelAfter(100);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => host.Client.CallAsync(Service, "Hang", default, cancellationToken: cts.Token));
    }

    [Fact]
    public async Task ServeAsyncHandlesManyConnections()
    {
        string path = Path.Combine(Path.GetTempPath(), $"vms-ttrpc-{Guid.NewGuid():N}.sock");
        using var listener = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
        listener.Bind(new System.Net.Sockets.UnixDomainSocketEndPoint(path));
        listener.Listen(16);
        var server = new TtrpcServer();
        server.RegisterService(Service, svc => svc.AddMethod("Echo", (p, _) => ValueTask.FromResult<TtrpcResult>(p.ToArray())));
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        Task serving = server.ServeAsync(listener, stop.Token);
        try
        {
            var clients = await Task.WhenAll(Enumerable.Range(0, 8).Select(async i =>
            {
                var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
                await socket.ConnectAsync(new System.Net.Sockets.UnixDomainSocketEndPoint(path), Ct);
                var client = new TtrpcClient(new System.Net.Sockets.NetworkStream(socket, ownsSocket: true));
                var reply = await client.CallAsync(Service, "Echo", new[] { (byte)i }, cancellationToken: Ct);
                Assert.Equal(i, reply.Span[0]);
                return client;
            }));
            foreach (var client in clients.Skip(1))
            {
                await client.DisposeAsync();
            }

            // Stopping the server closes the connections still open.
            await stop.CancelAsync();
            await serving.WaitAsync(TimeSpan.FromSeconds(10), Ct);
            await clients[0].Completion.WaitAsync(TimeSpan.FromSeconds(10), Ct);
            await clients[0].DisposeAsync();
        }
        finally
        {
            await stop.CancelAsync();
            await serving.WaitAsync(TimeSpan.FromSeconds(10), Ct);
            File.Delete(path);
        }
    }

    [Fact]
    public async Task ResponseAboveTheFrameLimitBecomesResourceExhausted()
    {
        await using var host = TtrpcTestHost.Start(s => s.RegisterService(Service, svc => svc
            .AddMethod("Huge", (_, _) => ValueTask.FromResult<TtrpcResult>(new byte[5 << 20]))
            .AddMethod("Echo", (p, _) => ValueTask.FromResult<TtrpcResult>(p.ToArray()))));

        var e = await Assert.ThrowsAsync<TtrpcException>(() => host.Client.CallAsync(Service, "Huge", default, cancellationToken: Ct));
        var sendTooBig = await Assert.ThrowsAsync<TtrpcException>(() => host.Client.CallAsync(Service, "Echo", new byte[5 << 20], cancellationToken: Ct));

        Assert.Equal(StatusCode.ResourceExhausted, e.Status);
        Assert.Contains("exceed maximum message size of 4194304", e.Message);
        Assert.Equal(StatusCode.ResourceExhausted, sendTooBig.Status);
        Assert.Equal(1, (await host.Client.CallAsync(Service, "Echo", new byte[] { 1 }, cancellationToken: Ct)).Length);
    }

    private static async ValueTask<TtrpcResult> Throw(Exception e)
    {
        await Task.Yield();
        throw e;
    }
}
