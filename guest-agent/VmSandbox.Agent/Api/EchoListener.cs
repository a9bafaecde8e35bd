using VmSandbox.Interop;

namespace VmSandbox.Agent.Api;

/// <summary>
/// A diagnostics service, off unless the kernel command line says `vmsandbox.echo_port=N`: it
/// echoes every byte received on vsock port N back to the sender. The VM tests and `make bench`
/// use it to measure and check the vsock data path end to end; it runs nothing the host sends.
/// </summary>
public static class EchoListener
{
    public const string KernelParam = "vmsandbox.echo_port=";

    /// <summary>The port named on the kernel command line, or null.</summary>
    public static uint? PortFromCmdline(string cmdline)
    {
        foreach (string word in cmdline.Split([' ', '\n', '\t'], StringSplitOptions.RemoveEmptyEntries))
        {
            if (word.StartsWith(KernelParam, StringComparison.Ordinal)
                && uint.TryParse(word.AsSpan(KernelParam.Length), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out uint port)
                && port > 0)
            {
                return port;
            }
        }
        return null;
    }

    public static void Start(uint port)
    {
        RawFdStream.Handle listener = Vsock.Listen(port, backlog: 64);
        new Thread(() =>
        {
            while (true)
            {
                RawFdStream.Handle conn = Vsock.Accept(listener);
                new Thread(() => Echo(conn)) { IsBackground = true, Name = "echo" }.Start();
            }
        }) { IsBackground = true, Name = "echo-accept" }.Start();
    }

    private static void Echo(RawFdStream.Handle conn)
    {
        using var stream = new RawFdStream(conn);
        byte[] buffer = new byte[64 * 1024];
        try
        {
            int n;
            while ((n = stream.Read(buffer)) > 0)
            {
                stream.Write(buffer.AsSpan(0, n));
            }
        }
        catch (IOException)
        {
            // The peer went away: nothing to report.
        }
    }
}
