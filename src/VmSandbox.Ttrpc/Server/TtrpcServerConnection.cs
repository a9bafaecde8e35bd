using Google.Protobuf;
using VmSandbox.Ttrpc.Framing;
using VmSandbox.Ttrpc.Protocol;

namespace VmSandbox.Ttrpc;

/// <summary>
/// One server-side connection: a receive loop that validates frames (server.go serverConn.run)
/// and starts a task per call, and a shared <see cref="FrameWriter"/> the calls answer
/// through. Everything the peer sends is untrusted: a bad frame gets a status on its stream, a
/// broken stream ends the connection, nothing throws out of <see cref="RunAsync"/>.
/// </summary>
internal sealed class TtrpcServerConnection : IAsyncDisposable
{
    // Stops waiting for handlers that ignore their cancellation token when a connection ends.
    private static readonly TimeSpan s_drainTimeout = TimeSpan.FromSeconds(10);

    private readonly TtrpcServer _server;
    private readonly Stream _stream;
    private readonly FrameWriter _writer;
    private readonly CancellationTokenSource _closing = new();
    private readonly object _callsLock = new();
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _activeCalls = 1; // 1 = the receive loop itself; see EndCall
    private uint _lastStreamId;

    public TtrpcServerConnection(TtrpcServer server, Stream stream)
    {
        _server = server;
        _stream = stream;
        _writer = new FrameWriter(stream);
    }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        using var link = cancellationToken.Register(static s => ((CancellationTokenSource)s!).Cancel(), _closing);
        var reader = new FrameReader(_stream);
        try
        {
            while (true)
            {
                Frame? next = await reader.ReadAsync(_closing.Token);
                if (next is not { } frame)
                {
                    break;
                }
                using (frame)
                {
                    await OnFrameAsync(frame);
                }
            }
        }
        catch (OperationCanceledException) when (_closing.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            // Whatever the stream or the peer did, it ends this connection only.
            if (!_closing.IsCancellationRequested)
            {
                _server.ConnectionError?.Invoke(e);
            }
        }
        finally
        {
            // server.go: a closed connection cancels the contexts of its calls.
            await _closing.CancelAsync();
            EndCall();
            await _drained.Task.WaitAsync(s_drainTimeout, CancellationToken.None).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync();
        if (_drained.Task.IsCompleted)
        {
            // A handler that outlived the drain timeout may still touch these.
            _writer.Dispose();
            _closing.Dispose();
        }
    }

    private async ValueTask OnFrameAsync(Frame frame)
    {
        FrameHeader header = frame.Header;
        if (frame.IsOversized)
        {
            // channel.go: the body was discarded; the stream gets RESOURCE_EXHAUSTED.
            await SendStatusAsync(header.StreamId, StatusCode.ResourceExhausted,
                $"message length {header.Length} exceed maximum message size of {FrameHeader.MaxDataLength}");
            return;
        }
        if (header.Type != FrameType.Request)
        {
            // ttrpc 1.1.1 ignores other frame types "for future compat"; 1.2 Data frames
            // belong to streams, which this server does not offer.
            return;
        }
        if (header.StreamId % 2 == 0)
        {
            await SendStatusAsync(header.StreamId, StatusCode.InvalidArgument,
                $"stream id {header.StreamId} must be odd for client initiated streams");
            return;
        }
        if (header.StreamId <= _lastStreamId)
        {
            // ttrpc 1.2 server.go: ids cannot be re-used and must increment.
            await SendStatusAsync(header.StreamId, StatusCode.InvalidArgument,
                $"stream id {header.StreamId} cannot be re-used and must increment");
            return;
        }
        _lastStreamId = header.StreamId;

        Request request;
        try
        {
            request = Request.Parser.ParseFrom(frame.Data.Span);
        }
        catch (InvalidProtocolBufferException e)
        {
            await SendStatusAsync(header.StreamId, StatusCode.InvalidArgument, "unmarshal request error: " + e.Message);
            return;
        }
        if ((header.Flags & FrameFlags.RemoteOpen) != 0)
        {
            await SendStatusAsync(header.StreamId, StatusCode.Unimplemented,
                $"method {request.Service}/{request.Method}: streaming calls are not supported");
            return;
        }

        lock (_callsLock)
        {
            _activeCalls++;
        }
        _ = Task.Run(() => HandleCallAsync(header.StreamId, request));
    }

    private async Task HandleCallAsync(uint streamId, Request request)
    {
        CancellationTokenSource? deadline = null;
        try
        {
            CancellationToken token = _closing.Token;
            DateTimeOffset? deadlineAt = null;
            if (request.TimeoutNano > 0)
            {
                // Clamp: CancelAfter takes at most ~49 days, and a bogus value must not throw.
                var timeout = TimeSpan.FromTicks(Math.Min(request.TimeoutNano / TimeSpan.NanosecondsPerTick, TimeSpan.FromDays(30).Ticks));
                deadlineAt = DateTimeOffset.UtcNow + timeout;
                deadline = CancellationTokenSource.CreateLinkedTokenSource(token);
                deadline.CancelAfter(timeout);
                token = deadline.Token;
            }

            TtrpcMethodHandler? handler = _server.FindMethod(request.Service, request.Method, out bool serviceExists);
            Response response;
            if (handler is null)
            {
                // server.go answers an unknown service or method with UNIMPLEMENTED.
                response = StatusResponse(StatusCode.Unimplemented, serviceExists
                    ? $"service {request.Service}: unknown method {request.Method}"
                    : $"unknown service {request.Service}");
            }
            else
            {
                var metadata = new KeyValuePair<string, string>[request.Metadata.Count];
                for (int i = 0; i < metadata.Length; i++)
                {
                    metadata[i] = new(request.Metadata[i].Key, request.Metadata[i].Value);
                }
                var context = new TtrpcCallContext(request.Service, request.Method, streamId, metadata, deadlineAt, token);
                try
                {
                    TtrpcResult result = await handler(request.Payload.Memory, context);
                    response = new Response { Status = new Status(), Payload = result.ToByteString() };
                }
                catch (Exception e)
                {
                    bool expired = deadline is not null && deadline.IsCancellationRequested && !_closing.IsCancellationRequested;
                    var (code, message) = StatusMapping.FromException(e, expired);
                    response = StatusResponse(code, message);
                }
            }
            await SendAsync(streamId, response);
        }
        finally
        {
            deadline?.Dispose();
            EndCall();
        }
    }

    private static Response StatusResponse(StatusCode code, string message) =>
        new() { Status = new Status { Code = (int)code, Message = message } };

    private ValueTask SendStatusAsync(uint streamId, StatusCode code, string message) =>
        SendAsync(streamId, StatusResponse(code, message));

    private async ValueTask SendAsync(uint streamId, Response response)
    {
        if (_closing.IsCancellationRequested)
        {
            return;
        }
        try
        {
            await _writer.WriteAsync(streamId, FrameType.Response, FrameFlags.None, response, _closing.Token);
        }
        catch (TtrpcException e) when (e.Status == StatusCode.ResourceExhausted)
        {
            // The handler's answer is above the frame limit: tell the caller instead.
            await SendStatusAsync(streamId, StatusCode.ResourceExhausted, e.Message);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException)
        {
            // The peer is gone; the receive loop notices and ends the connection.
        }
    }

    private void EndCall()
    {
        lock (_callsLock)
        {
            if (--_activeCalls == 0)
            {
                _drained.TrySetResult();
            }
        }
    }
}
