using Google.Protobuf;

namespace VmSandbox.Ttrpc;

/// <summary>Collects the methods of one service for <see cref="TtrpcServer.RegisterService(string, Action{TtrpcServiceBuilder})"/>.</summary>
public sealed class TtrpcServiceBuilder
{
    private readonly Dictionary<string, TtrpcMethodHandler> _methods = new(StringComparer.Ordinal);

    internal TtrpcServiceBuilder(string serviceName)
    {
        ServiceName = serviceName;
    }

    /// <summary>The fully qualified service name, e.g. <c>containerd.task.v2.Task</c>.</summary>
    public string ServiceName { get; }

    internal IReadOnlyDictionary<string, TtrpcMethodHandler> Methods => _methods;

    /// <summary>Adds a method working on serialized bytes.</summary>
    public TtrpcServiceBuilder AddMethod(string method, TtrpcMethodHandler handler)
    {
        ArgumentException.ThrowIfNullOrEmpty(method);
        ArgumentNullException.ThrowIfNull(handler);
        if (!_methods.TryAdd(method, handler))
        {
            throw new ArgumentException($"register method {method} of service {ServiceName}: already registered", nameof(method));
        }
        return this;
    }

    /// <summary>
    /// Adds a method with protobuf messages: the request is parsed with
    /// <paramref name="requestParser"/> (garbage answers INVALID_ARGUMENT), the response is
    /// serialized.
    /// </summary>
    public TtrpcServiceBuilder AddMethod<TRequest, TResponse>(
        string method,
        MessageParser<TRequest> requestParser,
        Func<TRequest, TtrpcCallContext, ValueTask<TResponse>> handler)
        where TRequest : IMessage<TRequest>
        where TResponse : IMessage
    {
        ArgumentNullException.ThrowIfNull(requestParser);
        ArgumentNullException.ThrowIfNull(handler);
        return AddMethod(method, async (payload, context) =>
        {
            TRequest request = requestParser.ParseFrom(payload.Span);
            TResponse response = await handler(request, context);
            return TtrpcResult.FromMessage(response);
        });
    }
}
