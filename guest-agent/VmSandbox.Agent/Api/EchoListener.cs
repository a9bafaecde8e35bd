using VmSandbox.Interop;

namespace VmSandbox.Agent.Api;

/// <summary>
/// Diagnostics services, off unless the kernel command line says `vmsandbox.echo_port=N`:
/// port N echoes every byte back; port N+1 is a sink (reads an 8-byte little-endian count, then
/// that many bytes, then answers the count it read; hybrid vsock has no half-close); port N+2 is a source (reads an 8-byte little-endian count, writes
/// that many bytes, closes). The VM tests and `make bench` use them to check and measure the vsock
/// data path end to end; they run nothing the host sends.
/// </summary>
public static class EchoListener
{
    public const string KernelParam = "vmsandbox.echo_port=";

    /// <summary>The port named on the kernel command line, or null.</summary>
    public static uint? PortFromCmdline(string cmdline) => Vm.KernelCmdline.PositiveNumber(cmdline, KernelParam);

    public static void Start(uint port)
    {
        Serve(port, Echo);
        Serve(port + 1, Sink);
        Serve(port + 2, Source);
    }

    private static void Serve(uint port, Action<RawFdStream, byte[]> handler)
    {
        RawFdStream.Handle listener = Vsock.Listen(port, backlog: 64);
        new Thread(() =>
        {
            while (true)
            {
                RawFdStream.Handle conn = Vsock.AcceptFromHost(listener);
                new Thread(() =>
                {
                    using var stream = new RawFdStream(conn);
                    try
                    {
                        handler(stream, new byte[64 * 1024]);
                    }
                    catch (IOException)
                    {
                        // The peer went away: nothing to report.
                    }
                })
                { IsBackground = true, Name = "diag" }.Start();
            }
        })
        { IsBackground = true, Name = "diag-accept" }.Start();
    }

    private static void Echo(RawFdStream stream, byte[] buffer)
    {
        int n;
        while ((n = stream.Read(buffer)) > 0)
        {
            stream.Write(buffer.AsSpan(0, n));
        }
    }

    private static void Sink(RawFdStream stream, byte[] buffer)
    {
        if (ReadCount(stream, buffer) is not long expected)
        {
            return;
        }
        long total = 0;
        int n;
        while (total < expected && (n = stream.Read(buffer.AsSpan(0, (int)Math.Min(buffer.Length, expected - total)))) > 0)
        {
            total += n;
        }
        System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(buffer, total);
        stream.Write(buffer.AsSpan(0, 8));
    }

    private static long? ReadCount(RawFdStream stream, byte[] buffer)
    {
        int got = 0;
        while (got < 8)
        {
            int n = stream.Read(buffer.AsSpan(got, 8 - got));
            if (n == 0)
            {
                return null;
            }
            got += n;
        }
        return Math.Clamp(System.Buffers.Binary.BinaryPrimitives.ReadInt64LittleEndian(buffer), 0, 1L << 34);
    }

    private static void Source(RawFdStream stream, byte[] buffer)
    {
        if (ReadCount(stream, buffer) is not long left)
        {
            return;
        }
        buffer.AsSpan().Fill(0x5a);
        while (left > 0)
        {
            int n = (int)Math.Min(buffer.Length, left);
            stream.Write(buffer.AsSpan(0, n));
            left -= n;
        }
    }
}
