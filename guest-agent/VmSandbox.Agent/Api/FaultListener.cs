using VmSandbox.Interop;

namespace VmSandbox.Agent.Api;

/// <summary>
/// Fault injection for the host's fault tests, off unless the kernel command line says
/// `vmsandbox.fault_port=N` (only the host writes it; nothing in the container can turn it on).
/// A container cannot reach the agent (its own PID namespace, no vsock loopback), so the tests
/// make the agent crash through this port instead: a connection that sends <c>x</c> throws an
/// unhandled exception on a thread of its own (the runtime's crash path: PID 1's handler prints
/// "fatal" and powers off); <c>a</c> fails fast, without any handler (PID 1 dies and the kernel
/// panics, as with a native crash). Any other byte closes the connection.
/// </summary>
public static class FaultListener
{
    public const string KernelParam = "vmsandbox.fault_port=";

    /// <summary>The port named on the kernel command line, or null.</summary>
    public static uint? PortFromCmdline(string cmdline) => Vm.KernelCmdline.PositiveNumber(cmdline, KernelParam);

    public static void Start(uint port)
    {
        RawFdStream.Handle listener = Vsock.Listen(port, backlog: 4);
        new Thread(() =>
        {
            while (true)
            {
                using var stream = new RawFdStream(Vsock.AcceptFromHost(listener));
                byte[] what = new byte[1];
                int n;
                try
                {
                    n = stream.Read(what);
                }
                catch (IOException)
                {
                    continue;
                }
                if (n == 1 && what[0] == (byte)'x')
                {
                    new Thread(() => throw new InvalidOperationException("fault injected through vmsandbox.fault_port")) { Name = "fault" }.Start();
                }
                else if (n == 1 && what[0] == (byte)'a')
                {
                    Environment.FailFast("fault injected through vmsandbox.fault_port");
                }
            }
        })
        { IsBackground = true, Name = "fault-accept" }.Start();
    }
}
