using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using VmSandbox.Common;
using VmSandbox.Interop;
using VmSandbox.Runtime.Config;
using VmSandbox.Ttrpc;

namespace VmSandbox.Shim;

/// <summary>
/// The serving shim: its own session, listening on the group's socket (0600 in a 0700
/// directory), the Task service over ttrpc until containerd's Shutdown finds no task left, or
/// SIGTERM (then its containers are deleted: nothing outlives the shim). Its stdio are /dev/null
/// once `start` has read <see cref="ReadyLine"/>.
/// </summary>
public static class ShimServer
{
    public const string ReadyLine = "ok";

    public static int Run(ShimFlags flags)
    {
        flags.RequireTask();
        string socketPath = flags.Socket ?? throw new VmSandboxException(ErrorCode.InvalidArgument, "the serving shim needs -socket (containerd runs `start`, which starts it)");
        _ = ProcessCalls.NewSession();
        string bundle = Directory.GetCurrentDirectory();
        if (flags.ConfigPath is not null)
        {
            Environment.SetEnvironmentVariable(ShimStart.ConfigVariable, flags.ConfigPath);
        }
        using var log = new ShimLog(Path.Combine(bundle, "log"), flags.Id, flags.Debug);
        var paths = new ShimPaths(RuntimeConfigLoader.Load(), flags.Namespace);
        Directory.CreateDirectory(paths.SocketDir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        using Socket listener = Listen(socketPath);
        try
        {
            Detach();
            return Serve(flags, paths, listener, log).GetAwaiter().GetResult();
        }
        finally
        {
            SocketFile.TryRemove(socketPath);
        }
    }

    private static Socket Listen(string path)
    {
        ShimSocket.RemoveDead(path);
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            SocketFile.Bind(listener, path, replaceStale: false); // RemoveDead above: a served socket stays
            listener.Listen(64);
            return listener;
        }
        catch
        {
            listener.Dispose();
            throw;
        }
    }

    /// <summary>Tells `start` it listens, then lets go of start's pipes: stdio become /dev/null.</summary>
    private static void Detach()
    {
        using (RawFdStream stdout = RawFdStream.OverDuplicate(1))
        {
            stdout.Write(Encoding.ASCII.GetBytes(ReadyLine + "\n"));
        }
        int devnull = ProcessCalls.OpenReadWrite("/dev/null");
        for (int fd = 0; fd <= 2; fd++)
        {
            ProcessCalls.Dup2(devnull, fd);
        }
        if (devnull > 2)
        {
            new SafeFd(devnull).Dispose();
        }
    }

    private static async Task<int> Serve(ShimFlags flags, ShimPaths paths, Socket listener, ShimLog log)
    {
        await using var events = new EventPublisher(Environment.GetEnvironmentVariable("TTRPC_ADDRESS"), flags.Namespace, log);
        var service = new TaskService(paths, events, log, flags.Debug);
        var server = new TtrpcServer { ConnectionError = e => log.Debug($"ttrpc connection: {e.Message}") };
        service.Register(server);
        using PosixSignalRegistration term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c =>
        {
            c.Cancel = true;
            service.ShutdownRequested.Cancel();
        });
        log.Debug($"serving {flags.Namespace}/{flags.Id} on {listener.LocalEndPoint}");
        await server.ServeAsync(listener, service.ShutdownRequested.Token);
        if (service.Tasks.Count > 0)
        {
            log.Warn($"shim stopping with {service.Tasks.Count} task(s) left: deleting them");
            service.DeleteAll();
        }
        return ExitCodes.Success;
    }
}
