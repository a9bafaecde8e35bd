namespace VmSandbox.Ttrpc.Framing;

/// <summary>The message type byte of a ttrpc frame header (ttrpc PROTOCOL.md).</summary>
public enum FrameType : byte
{
    Request = 0x01,
    Response = 0x02,
    /// <summary>Streaming data, ttrpc ≥ 1.2 only; this library ignores it.</summary>
    Data = 0x03,
}
