using System.Collections.Concurrent;
using Google.Protobuf;
using VmSandbox.Ttrpc.Framing;
using VmSandbox.Ttrpc.Protocol;

namespace VmSandbox.Ttrpc;

/// <summary>
/// A ttrpc client on one connection (client.go). Calls are multiplexed: each gets the next odd
/// stream id (1, 3, 5, …), any number may be in flight, and responses may come back in any
/// order. One receive loop (TtrpcClient.Receive.cs) completes the pending calls; when
/// the connection ends every pending and later call fails with
/// <see cref="StatusCode.Unavailable"/>.
/// Collaborators: <see cref="FrameReader"/>/<see cref="FrameWriter"/> for the frames, the
/// generated <see cref="Request"/>/<see cref="Response"/> envelopes.
/// </summary>
public sealed partial class TtrpcClient : IAsyncDisposable
{
    private static readonly TimeSpan s_maxLocalTimeout = TimeSpan.FromMilliseconds(uint.MaxValue - 1);

    private readonly Stream _stream;
    private readonly FrameWriter _writer;
    private readonly TtrpcClientOptions _options;
    private readonly ConcurrentDictionary<uint, TaskCompletionSource<Response>> _pending = new();
    private readonly CancellationTokenSource _closing = new();
    private readonly Task _receiveLoop;
    private long _nextStreamId = 1;
    private volatile Exception? _closedReason;

    /// <summary>Starts a client on a connected stream, which it owns from now on.</summary>
    public TtrpcClient(Stream stream, TtrpcClientOptions? options = null)
    {
        _stream = stream;
        _writer = new FrameWriter(stream);
        _options = options ?? new TtrpcClientOptions();
        _receiveLoop = Task.Run(ReceiveLoopAsync);
    }

    /// <summary>Completes when the connection has ended (peer closed, error, or dispose).</summary>
    public Task Completion => _receiveLoop;

    /// <summary>
    /// Calls <paramref name="service"/>/<paramref name="method"/> with a serialized request and
    /// returns the serialized response. Throws <see cref="TtrpcException"/> for a non-OK
    /// status, a passed deadline or a lost connection, and
    /// <see cref="OperationCanceledException"/> when <paramref name="cancellationToken"/> fires.
    /// </summary>
    public async Task<ReadOnlyMemory<byte>> CallAsync(
        string service,
        string method,
        ReadOnlyMemory<byte> payload,
        TtrpcCallOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(service);
        ArgumentException.ThrowIfNullOrEmpty(method);
        ThrowIfClosed(service, method);

        TimeSpan? timeout = options?.Timeout ?? _options.DefaultTimeout;
        if (timeout == System.Threading.Timeout.InfiniteTimeSpan)
        {
            timeout = null;
        }
        else if (timeout <= TimeSpan.Zero)
        {
            // Like an expired Go context: fail before sending anything.
            throw new TtrpcException(StatusCode.DeadlineExceeded, $"call {service}/{method}: deadline exceeded before the call");
        }
        var request = new Request
        {
            Service = service,
            Method = method,
            // No copy: the payload is only read while the frame is encoded below.
            Payload = UnsafeByteOperations.UnsafeWrap(payload),
            TimeoutNano = timeout is { } t ? ToNanoseconds(t) : 0,
        };
        AddMetadata(request, _options.Metadata);
        AddMetadata(request, options?.Metadata);

        var pending = new TaskCompletionSource<Response>(TaskCreationOptions.RunContinuationsAsynchronously);
        uint streamId = 0; // 0: none taken yet (client ids are odd)
        // The deadline covers the whole call, the wait for the write lock included. Past
        // ~49 days (CancelAfter's limit) only the server enforces it.
        using var deadline = timeout is { } limit && limit < s_maxLocalTimeout
            ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken)
            : null;
        deadline?.CancelAfter(timeout!.Value);
        CancellationToken token = deadline?.Token ?? cancellationToken;
        try
        {
            Response response;
            try
            {
                try
                {
                    // The stream id is taken under the write lock (see FrameWriter): taken before
                    // it, a call preempted in between could reach the server after a later id,
                    // which refuses it (ttrpc 1.2: ids "must increment").
                    await _writer.WriteAsync(() =>
                    {
                        streamId = NextStreamId(service, method);
                        _pending[streamId] = pending;
                        // The receive loop sets _closedReason before it fails what is pending; checking
                        // after registering means either it sees this call or this call sees the reason.
                        ThrowIfClosed(service, method);
                        return streamId;
                    }, FrameType.Request, FrameFlags.None, request, token);
                }
                catch (Exception e) when (e is IOException or ObjectDisposedException or NotSupportedException)
                {
                    throw new TtrpcException(StatusCode.Unavailable, $"call {service}/{method}: send request", e);
                }
                response = await pending.Task.WaitAsync(token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && deadline is { IsCancellationRequested: true })
            {
                throw new TtrpcException(StatusCode.DeadlineExceeded, $"call {service}/{method}: deadline exceeded after {timeout}");
            }

            // client.go Call: the payload is decoded first, then a non-OK status is an error.
            if (response.Status is { Code: not 0 } status)
            {
                throw new TtrpcException(ToStatusCode(status.Code), status.Message);
            }
            return response.Payload.Memory;
        }
        finally
        {
            if (streamId != 0)
            {
                _pending.TryRemove(streamId, out _);
            }
        }
    }

    /// <summary>A typed call: serializes <paramref name="request"/>, parses the response.</summary>
    public async Task<TResponse> CallAsync<TResponse>(
        string service,
        string method,
        IMessage request,
        MessageParser<TResponse> responseParser,
        TtrpcCallOptions? options = null,
        CancellationToken cancellationToken = default)
        where TResponse : IMessage<TResponse>
    {
        ReadOnlyMemory<byte> payload = await CallAsync(service, method, request.ToByteArray(), options, cancellationToken);
        try
        {
            return responseParser.ParseFrom(payload.Span);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new TtrpcException(StatusCode.Internal, $"call {service}/{method}: decode response", e);
        }
    }

    /// <summary>Closes the connection; pending calls fail with UNAVAILABLE.</summary>
    public async ValueTask DisposeAsync()
    {
        await _closing.CancelAsync();
        await _stream.DisposeAsync();
        try
        {
            await _receiveLoop;
        }
        catch (Exception)
        {
            // The loop records its failure in _closedReason; nothing to add here.
        }
        _writer.Dispose();
        _closing.Dispose();
    }

    private uint NextStreamId(string service, string method)
    {
        long id = Interlocked.Add(ref _nextStreamId, 2) - 2;
        if (id > uint.MaxValue)
        {
            throw new TtrpcException(StatusCode.ResourceExhausted, $"call {service}/{method}: stream ids of this connection are used up");
        }
        return (uint)id;
    }

    private void ThrowIfClosed(string service, string method)
    {
        if (_closedReason is { } reason)
        {
            throw new TtrpcException(StatusCode.Unavailable, $"call {service}/{method}: ttrpc connection closed",
                reason is EndOfStreamException ? null : reason);
        }
    }

    private static void AddMetadata(Request request, IReadOnlyList<KeyValuePair<string, string>>? metadata)
    {
        if (metadata is null)
        {
            return;
        }
        foreach (var (key, value) in metadata)
        {
            request.Metadata.Add(new KeyValue { Key = key, Value = value });
        }
    }

    private static long ToNanoseconds(TimeSpan t) =>
        t.Ticks > long.MaxValue / TimeSpan.NanosecondsPerTick ? long.MaxValue : t.Ticks * TimeSpan.NanosecondsPerTick;

    private static StatusCode ToStatusCode(int code) =>
        code is > 0 and <= (int)StatusCode.Unauthenticated ? (StatusCode)code : StatusCode.Unknown;
}
