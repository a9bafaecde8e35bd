using System.Net.Sockets;
using Google.Protobuf;
using VmSandbox.Ttrpc;
using VmSandbox.Ttrpc.Framing;
using VmSandbox.Ttrpc.Protocol;
using Xunit;

namespace VmSandbox.Tests.Unit.Ttrpc;

/// <summary>
/// A misbehaving peer on either side: raw frames written by hand. Every case ends in a status
/// on the stream or a clean close, never an exception out of the server or a hung call.
/// </summary>
public sealed class TtrpcMalformedInputTests
{
    private const string Service = "test.v1.Echo";
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(10);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task OversizedFrameIsDiscardedAndAnsweredResourceExhausted()
    {
        await using var peer = StartServer(out Task serving, out _);

        const int length = FrameHeader.MaxDataLength + 1;
        await peer.WriteAsync(RawFrames.Frame(length, 1, (byte)FrameType.Request, 0, []), Ct);
        await peer.WriteAsync(new byte[length], Ct);

        var response = await RawFrames.ReadResponseAsync(peer, 1);
        Assert.Equal((int)StatusCode.ResourceExhausted, response.Status.Code);
        Assert.Equal("message length 4194305 exceed maximum message size of 4194304", response.Status.Message);
        await AssertStillServesAsync(peer, 3);
        peer.Socket.Shutdown(SocketShutdown.Send);
        await serving.WaitAsync(s_wait, Ct);
    }

    [Fact]
    public async Task AbsurdLengthThenCloseEndsTheConnectionCleanly()
    {
        await using var peer = StartServer(out Task serving, out var errors);

        await peer.WriteAsync(RawFrames.Frame(0xffffffff, 1, (byte)FrameType.Request, 0, "junk"u8), Ct);
        peer.Socket.Shutdown(SocketShutdown.Send);

        await serving.WaitAsync(s_wait, Ct);
        var error = Assert.Single(errors);
        Assert.Contains("connection closed after 4 of 4294967295 bytes", error.Message);
    }

    [Theory]
    [InlineData(new byte[] { 0x00, 0x00, 0x00 })]                                   // half a header
    [InlineData(new byte[] { 0x00, 0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x01, 0x01, 0x00, 0x0a })] // data cut short
    public async Task TruncatedFrameEndsTheConnectionCleanly(byte[] bytes)
    {
        await using var peer = StartServer(out Task serving, out var errors);

        await peer.WriteAsync(bytes, Ct);
        peer.Socket.Shutdown(SocketShutdown.Send);

        await serving.WaitAsync(s_wait, Ct);
        Assert.Single(errors);
        Assert.Equal(0, await peer.ReadAsync(new byte[1], Ct));
    }

    [Fact]
    public async Task GarbageRequestEnvelopeIsInvalidArgument()
    {
        await using var peer = StartServer(out _, out _);

        // Field 1 claims 0x7f bytes, 2 follow.
        await peer.WriteAsync(RawFrames.Frame(1, FrameType.Request, [0x0a, 0x7f, 0x41, 0x42]), Ct);

        var response = await RawFrames.ReadResponseAsync(peer, 1);
        Assert.Equal((int)StatusCode.InvalidArgument, response.Status.Code);
        Assert.StartsWith("unmarshal request error: ", response.Status.Message);
        await AssertStillServesAsync(peer, 3);
    }

    [Theory]
    [InlineData(2u, "stream id 2 must be odd for client initiated streams")]
    [InlineData(0u, "stream id 0 must be odd for client initiated streams")]
    public async Task EvenStreamIdIsInvalidArgument(uint streamId, string message)
    {
        await using var peer = StartServer(out _, out _);

        await peer.WriteAsync(RawFrames.Request(streamId, Service, "Echo"), Ct);

        var response = await RawFrames.ReadResponseAsync(peer, streamId);
        Assert.Equal((int)StatusCode.InvalidArgument, response.Status.Code);
        Assert.Equal(message, response.Status.Message);
    }

    [Fact]
    public async Task ReusedStreamIdIsInvalidArgument()
    {
        await using var peer = StartServer(out _, out _);
        await AssertStillServesAsync(peer, 5);

        await peer.WriteAsync(RawFrames.Request(3, Service, "Echo"), Ct);

        var response = await RawFrames.ReadResponseAsync(peer, 3);
        Assert.Equal((int)StatusCode.InvalidArgument, response.Status.Code);
        Assert.Equal("stream id 3 cannot be re-used and must increment", response.Status.Message);
    }

    [Fact]
    public async Task NonRequestFramesAreIgnoredAndStreamingIsUnimplemented()
    {
        await using var peer = StartServer(out _, out _);

        // ttrpc 1.2 Data and a stray Response: ignored, as ttrpc 1.1.1 does.
        await peer.WriteAsync(RawFrames.Frame(3, 3, (byte)FrameType.Data, (byte)FrameFlags.RemoteClosed, "xyz"u8), Ct);
        await peer.WriteAsync(RawFrames.Frame(0, 1, (byte)FrameType.Response, 0, []), Ct);
        await peer.WriteAsync(RawFrames.Frame(0, 1, 0x7e, 0, []), Ct);
        // A client-streaming request (flag remote open).
        byte[] body = new Request { Service = Service, Method = "Echo" }.ToByteArray();
        await peer.WriteAsync(RawFrames.Frame((uint)body.Length, 1, (byte)FrameType.Request, (byte)FrameFlags.RemoteOpen, body), Ct);

        var response = await RawFrames.ReadResponseAsync(peer, 1);
        Assert.Equal((int)StatusCode.Unimplemented, response.Status.Code);
        await AssertStillServesAsync(peer, 3);
    }

    [Fact]
    public async Task ClientFailsTheCallOnGarbageOrOversizedResponse()
    {
        var (clientStream, peer) = SocketPair.CreateStreams();
        await using var client = new TtrpcClient(clientStream);
        await using var _ = peer;

        var garbage = client.CallAsync(Service, "Echo", default, cancellationToken: Ct);
        var oversized = client.CallAsync(Service, "Echo", default, cancellationToken: Ct);
        await RawFrames.ReadAsync(peer);
        await RawFrames.ReadAsync(peer);

        await peer.WriteAsync(RawFrames.Frame(1, FrameType.Response, [0x0a, 0x7f]), Ct);
        var e = await Assert.ThrowsAsync<TtrpcException>(() => garbage.WaitAsync(s_wait, Ct));
        Assert.Equal(StatusCode.Internal, e.Status);

        await peer.WriteAsync(RawFrames.Frame(FrameHeader.MaxDataLength + 1, 3, (byte)FrameType.Response, 0, []), Ct);
        await peer.WriteAsync(new byte[FrameHeader.MaxDataLength + 1], Ct);
        e = await Assert.ThrowsAsync<TtrpcException>(() => oversized.WaitAsync(s_wait, Ct));
        Assert.Equal(StatusCode.ResourceExhausted, e.Status);

        // Responses for unknown streams are dropped; the connection keeps working.
        var good = client.CallAsync(Service, "Echo", default, cancellationToken: Ct);
        await RawFrames.ReadAsync(peer);
        await peer.WriteAsync(RawFrames.Frame(99, FrameType.Response, []), Ct);
        await peer.WriteAsync(RawFrames.Frame(5, FrameType.Response, new Response { Payload = ByteString.CopyFromUtf8("ok") }.ToByteArray()), Ct);
        Assert.Equal("ok"u8.ToArray(), (await good.WaitAsync(s_wait, Ct)).ToArray());
    }

    [Fact]
    public async Task ClientFailsPendingCallsWhenTheServerSendsAnAbsurdLengthAndCloses()
    {
        var (clientStream, peer) = SocketPair.CreateStreams();
        await using var client = new TtrpcClient(clientStream);

        var call = client.CallAsync(Service, "Echo", default, cancellationToken: Ct);
        await RawFrames.ReadAsync(peer);
        await peer.WriteAsync(RawFrames.Frame(0xfffffff0, 1, (byte)FrameType.Response, 0, "abc"u8), Ct);
        await peer.DisposeAsync();

        var e = await Assert.ThrowsAsync<TtrpcException>(() => call.WaitAsync(s_wait, Ct));
        Assert.Equal(StatusCode.Unavailable, e.Status);
        await client.Completion.WaitAsync(s_wait, Ct);
    }

    private static NetworkStream StartServer(out Task serving, out List<Exception> errors)
    {
        var server = new TtrpcServer();
        server.RegisterService(Service, svc => svc.AddMethod("Echo", (p, _) => ValueTask.FromResult<TtrpcResult>(p.ToArray())));
        var seen = new List<Exception>();
        server.ConnectionError = e =>
        {
            lock (seen)
            {
                seen.Add(e);
            }
        };
        errors = seen;
        var (serverStream, peer) = SocketPair.CreateStreams();
        serving = server.ServeConnectionAsync(serverStream, Ct);
        return peer;
    }

    private static async Task AssertStillServesAsync(NetworkStream peer, uint streamId)
    {
        await peer.WriteAsync(RawFrames.Request(streamId, Service, "Echo", new KeyValue { Key = "still" }), Ct);
        var response = await RawFrames.ReadResponseAsync(peer, streamId);
        Assert.Equal(0, response.Status?.Code ?? 0);
        Assert.Equal("still", KeyValue.Parser.ParseFrom(response.Payload).Key);
    }
}
