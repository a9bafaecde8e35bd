using System.Net.Sockets;
using System.Threading.Channels;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using VmSandbox.Runtime;
using VmSandbox.Shim.Protocol;
using VmSandbox.Ttrpc;

namespace VmSandbox.Shim;

/// <summary>
/// Publishes task events to containerd in the order they happened, one at a time: over
/// containerd's ttrpc socket ($TTRPC_ADDRESS), <c>containerd.services.events.ttrpc.v1.Events/Forward</c>
/// with an envelope, as containerd's own shim library does. The Any's type URL is the bare message
/// name (containerd 1.6's typeurl registry has no type.googleapis.com/ prefix). A call that fails
/// is retried with a growing pause and a fresh connection (containerd may be restarting); an event
/// that still cannot be delivered is logged and dropped, so one lost containerd never wedges the shim.
/// </summary>
public sealed class EventPublisher : IAsyncDisposable
{
    public const string ForwardService = "containerd.services.events.ttrpc.v1.Events";
    public const string ForwardMethod = "Forward";
    private const int Attempts = 5;
    private static readonly TtrpcCallOptions s_call = new() { Timeout = TimeSpan.FromSeconds(5) };

    private readonly string? _socketPath;
    private readonly string _namespace;
    private readonly IRuntimeLog _log;
    private readonly Channel<Envelope> _queue = Channel.CreateUnbounded<Envelope>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _loop;
    private TtrpcClient? _client;

    /// <param name="ttrpcAddress">$TTRPC_ADDRESS (a path, or unix://path); null or empty: events are only logged.</param>
    public EventPublisher(string? ttrpcAddress, string ns, IRuntimeLog log)
    {
        _socketPath = string.IsNullOrEmpty(ttrpcAddress) ? null
            : ttrpcAddress.StartsWith("unix://", StringComparison.Ordinal) ? ttrpcAddress["unix://".Length..] : ttrpcAddress;
        _namespace = ns;
        _log = log;
        _loop = Task.Run(RunAsync);
    }

    public const string TopicCreate = "/tasks/create";
    public const string TopicStart = "/tasks/start";
    public const string TopicExit = "/tasks/exit";
    public const string TopicDelete = "/tasks/delete";
    public const string TopicOom = "/tasks/oom";
    public const string TopicExecAdded = "/tasks/exec-added";
    public const string TopicExecStarted = "/tasks/exec-started";
    public const string TopicPaused = "/tasks/paused";
    public const string TopicResumed = "/tasks/resumed";

    /// <summary>Queues <paramref name="evt"/> under <paramref name="topic"/>; never blocks.</summary>
    public void Publish(string topic, IMessage evt)
    {
        var envelope = new Envelope
        {
            Timestamp = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow),
            Namespace = _namespace,
            Topic = topic,
            Event = new Any { TypeUrl = evt.Descriptor.FullName, Value = evt.ToByteString() },
        };
        if (!_queue.Writer.TryWrite(envelope))
        {
            _log.Warn($"event {topic} dropped: the shim is shutting down");
        }
    }

    /// <summary>Delivers what is queued (bounded by the retries), then closes the connection.</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _loop;
        if (_client is not null)
        {
            await _client.DisposeAsync();
        }
    }

    private async Task RunAsync()
    {
        await foreach (Envelope envelope in _queue.Reader.ReadAllAsync())
        {
            if (_socketPath is null)
            {
                _log.Debug($"event {envelope.Topic} {envelope.Event.TypeUrl} (no TTRPC_ADDRESS: not forwarded)");
                continue;
            }
            await ForwardAsync(envelope);
        }
    }

    private async Task ForwardAsync(Envelope envelope)
    {
        var request = new ForwardRequest { Envelope = envelope };
        TimeSpan pause = TimeSpan.FromMilliseconds(100);
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                _client ??= await ConnectAsync(_socketPath!);
                await _client.CallAsync(ForwardService, ForwardMethod, request, Empty.Parser, s_call);
                return;
            }
            catch (Exception e) when (e is TtrpcException or SocketException or IOException or OperationCanceledException)
            {
                if (_client is not null)
                {
                    await _client.DisposeAsync();
                    _client = null;
                }
                if (attempt == Attempts)
                {
                    _log.Warn($"event {envelope.Topic} not delivered to containerd after {Attempts} tries: {e.Message}");
                    return;
                }
                await Task.Delay(pause);
                pause *= 2;
            }
        }
    }

    private static async Task<TtrpcClient> ConnectAsync(string path)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(path));
            return new TtrpcClient(new NetworkStream(socket, ownsSocket: true));
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
