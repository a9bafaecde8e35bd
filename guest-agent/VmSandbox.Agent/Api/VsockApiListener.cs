using VmSandbox.Agent.Protocol;
using VmSandbox.Interop;
using VmSandbox.Ttrpc;

namespace VmSandbox.Agent.Api;

/// <summary>
/// Accepts vsock connections on <see cref="AgentApi.VsockPort"/> and serves the agent API
/// over ttrpc on each, on a dedicated accept thread.
/// </summary>
public sealed class VsockApiListener
{
    private readonly TtrpcServer _server;
    private readonly Action<string> _log;

    public VsockApiListener(AgentServiceBase service, Action<string> log)
    {
        _server = new TtrpcServer { ConnectionError = e => log($"api connection: {Common.VmSandboxException.FormatChain(e)}") };
        service.Register(_server);
        _log = log;
    }

    /// <summary>Binds the port (throws if vsock is unavailable) and starts accepting.</summary>
    public void Start()
    {
        RawFdStream.Handle listener = Vsock.Listen(AgentApi.VsockPort);
        var thread = new Thread(() => AcceptLoop(listener)) { IsBackground = true, Name = "vsock-accept" };
        thread.Start();
    }

    private void AcceptLoop(RawFdStream.Handle listener)
    {
        while (true)
        {
            RawFdStream.Handle conn;
            try
            {
                conn = Vsock.AcceptFromHost(listener, cid => _log($"api: refused a connection from CID {cid} (only the host may call the agent)"));
            }
            catch (Common.VmSandboxException e)
            {
                _log($"api accept: {e.Message}");
                Thread.Sleep(100);
                continue;
            }
            var stream = new RawFdStream(conn);
            _ = Task.Run(async () =>
            {
                await using (stream)
                {
                    await _server.ServeConnectionAsync(stream, CancellationToken.None);
                }
            });
        }
    }
}
