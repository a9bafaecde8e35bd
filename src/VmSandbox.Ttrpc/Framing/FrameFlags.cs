namespace VmSandbox.Ttrpc.Framing;

/// <summary>The flags byte of a ttrpc frame header (ttrpc ≥ 1.2; 1.1.1 calls it reserved).</summary>
[Flags]
public enum FrameFlags : byte
{
    None = 0,
    /// <summary>Request/Data: the sender sends nothing more on this stream.</summary>
    RemoteClosed = 0x01,
    /// <summary>Request: the sender will send Data frames (client streaming).</summary>
    RemoteOpen = 0x02,
    /// <summary>Data: the frame carries no data (channel.go flagNoData).</summary>
    NoData = 0x04,
}
