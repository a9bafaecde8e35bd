using Google.Protobuf;
using VmSandbox.Ttrpc.Framing;
using VmSandbox.Ttrpc.Protocol;

namespace VmSandbox.Ttrpc;

public sealed partial class TtrpcClient
{
    // The single reader of the connection: routes each Response to its pending call.
    private async Task ReceiveLoopAsync()
    {
        var reader = new FrameReader(_stream);
        Exception reason = new EndOfStreamException("ttrpc connection closed by the peer");
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
                    Dispatch(frame);
                }
            }
        }
        catch (OperationCanceledException) when (_closing.IsCancellationRequested)
        {
            reason = new ObjectDisposedException(nameof(TtrpcClient), "ttrpc client disposed");
        }
        catch (Exception e)
        {
            // Whatever ended the stream ends the connection; the calls learn why.
            reason = _closing.IsCancellationRequested
                ? new ObjectDisposedException(nameof(TtrpcClient), "ttrpc client disposed")
                : e;
        }
        finally
        {
            _closedReason = reason;
            foreach (var (streamId, call) in _pending)
            {
                if (_pending.TryRemove(streamId, out _))
                {
                    call.TrySetException(new TtrpcException(StatusCode.Unavailable, "ttrpc connection closed",
                        reason is EndOfStreamException ? null : reason));
                }
            }
        }
    }

    private void Dispatch(Frame frame)
    {
        FrameHeader header = frame.Header;
        // Requests from the server (even ids) and streaming Data frames are not supported;
        // ignore them as ttrpc 1.1.1 ignores unknown frame types.
        if (header.Type != FrameType.Response || !_pending.TryRemove(header.StreamId, out var call))
        {
            return;
        }
        if (frame.IsOversized)
        {
            call.TrySetException(new TtrpcException(StatusCode.ResourceExhausted,
                $"message length {header.Length} exceed maximum message size of {FrameHeader.MaxDataLength}"));
            return;
        }
        try
        {
            call.TrySetResult(Response.Parser.ParseFrom(frame.Data.Span));
        }
        catch (InvalidProtocolBufferException e)
        {
            call.TrySetException(new TtrpcException(StatusCode.Internal, $"decode ttrpc response for stream {header.StreamId}", e));
        }
    }
}
