using VmSandbox.Ttrpc;
using VmSandbox.Ttrpc.Framing;
using Xunit;

namespace VmSandbox.Tests.Unit.Ttrpc;

/// <summary>
/// Exact bytes on the wire, written by hand from the ttrpc frame layout (channel.go) and the
/// protobuf encoding rules (tag = field_number &lt;&lt; 3 | wire_type; wire type 0 = varint,
/// 2 = length-delimited), never produced by our own encoder.
/// </summary>
public sealed class TtrpcGoldenBytesTests
{
    // A containerd StartRequest{id = "c1"}: field 1, wire type 2 → tag 0x0a, length 2, "c1".
    private static readonly byte[] s_startPayload = [0x0a, 0x02, 0x63, 0x31];

    private static readonly byte[] s_startRequestFrame = Hex(
        // header: length 0x53 = 83 (BE u32), stream id 1 (BE u32), type 0x01 Request, flags 0
        "00000053" + "00000001" + "01" + "00" +
        // field 1 service: tag 0x0a, length 0x17 = 23, "containerd.task.v2.Task"
        "0a17" + Ascii("containerd.task.v2.Task") +
        // field 2 method: tag 0x12, length 5, "Start"
        "1205" + Ascii("Start") +
        // field 3 payload: tag 0x1a, length 4, the StartRequest bytes
        "1a04" + "0a026331" +
        // field 4 timeout_nano = 1 s = 1_000_000_000 = 0x3b9aca00: tag 0x20, varint in 7-bit
        // groups, low first: 0x00|0x80, 0x14|0x80, 0x6b|0x80, 0x5c|0x80, 0x03
        "20" + "8094ebdc03" +
        // field 5 metadata (one KeyValue): tag 0x2a, length 0x25 = 37 =
        //   field 1 key: tag 0x0a, length 0x1a = 26, "containerd-namespace-ttrpc" (2 + 26)
        //   field 2 value: tag 0x12, length 7, "default" (2 + 7)
        "2a25" + "0a1a" + Ascii("containerd-namespace-ttrpc") + "1207" + Ascii("default"));

    private static readonly byte[] s_notFoundResponseFrame = Hex(
        // header: length 0x0f = 15, stream id 1, type 0x02 Response, flags 0
        "0000000f" + "00000001" + "02" + "00" +
        // Response field 1 status: tag 0x0a, length 0x0d = 13 =
        //   Status field 1 code = 5: tag 0x08, varint 5 (2 bytes)
        //   Status field 2 message: tag 0x12, length 9, "not found" (2 + 9)
        // no payload: proto3 omits an empty bytes field
        "0a0d" + "0805" + "1209" + Ascii("not found"));

    [Fact]
    public void HeaderIsBigEndianLengthAndStreamIdThenTypeAndFlags()
    {
        var bytes = new byte[FrameHeader.Size];
        new FrameHeader(0x01020304, 0x0a0b0c0d, FrameType.Data, FrameFlags.RemoteClosed).Write(bytes);

        Assert.Equal(Hex("01020304" + "0a0b0c0d" + "03" + "01"), bytes);
        Assert.Equal(new FrameHeader(0x01020304, 0x0a0b0c0d, FrameType.Data, FrameFlags.RemoteClosed), FrameHeader.Read(bytes));
    }

    [Fact]
    public async Task ClientSendsTheExactRequestFrame()
    {
        var (clientStream, peer) = SocketPair.CreateStreams();
        await using var client = new TtrpcClient(clientStream);
        await using var _ = peer;

        Task<ReadOnlyMemory<byte>> call = client.CallAsync("containerd.task.v2.Task", "Start", s_startPayload, new TtrpcCallOptions
        {
            Timeout = TimeSpan.FromSeconds(1),
            Metadata = [new("containerd-namespace-ttrpc", "default")],
        }, Ct);

        var received = new byte[s_startRequestFrame.Length];
        await peer.ReadExactlyAsync(received, Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(10), Ct);
        Assert.Equal(Convert.ToHexString(s_startRequestFrame), Convert.ToHexString(received));

        // Answer with the hand-written NOT_FOUND response: the client surfaces code and message.
        await peer.WriteAsync(s_notFoundResponseFrame, Ct);
        var e = await Assert.ThrowsAsync<TtrpcException>(() => call);
        Assert.Equal(StatusCode.NotFound, e.Status);
        Assert.Equal("not found", e.Message);
    }

    [Fact]
    public async Task ServerSendsTheExactStatusResponseFrame()
    {
        var server = new TtrpcServer();
        server.RegisterService("containerd.task.v2.Task", s => s.AddMethod("Start",
            (_, _) => throw new TtrpcException(StatusCode.NotFound, "not found")));
        var (serverStream, peer) = SocketPair.CreateStreams();
        Task serving = server.ServeConnectionAsync(serverStream, Ct);
        await using (peer)
        {
            await peer.WriteAsync(s_startRequestFrame, Ct);
            var received = new byte[s_notFoundResponseFrame.Length];
            await peer.ReadExactlyAsync(received, Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(10), Ct);
            Assert.Equal(Convert.ToHexString(s_notFoundResponseFrame), Convert.ToHexString(received));
        }
        await serving.WaitAsync(TimeSpan.FromSeconds(10), Ct);
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string Ascii(string s) => Convert.ToHexString(System.Text.Encoding.ASCII.GetBytes(s));

    private static byte[] Hex(string hex) => Convert.FromHexString(hex);
}
