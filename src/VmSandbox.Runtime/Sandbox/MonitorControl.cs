using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using VmSandbox.Common;
using VmSandbox.Interop;

namespace VmSandbox.Runtime.Sandbox;

/// <summary>
/// The sandbox monitor's control socket, <c>&lt;run dir&gt;/monitor.sock</c> (0600, in the run
/// directory): later CLI calls ask the monitor for what only it can do because it owns the VM
/// and lives in the container's network namespace. One request per connection: a verb on one
/// line; the answer is one <see cref="MonitorReport"/> line (an error, or none), the same
/// encoding the monitor's start-up report uses. Verbs: <see cref="SyncNetwork"/>, <see cref="AddMember"/>,
/// <see cref="RemoveMember"/>, <see cref="KillVm"/>.
/// </summary>
public sealed class MonitorControl : IAsyncDisposable
{
    public const string FileName = "monitor.sock";

    /// <summary>Mirror the interfaces that appeared in the namespace since boot (`start` asks, before the process runs).</summary>
    public const string SyncNetwork = "sync-network";

    /// <summary>"add-member ID": pod member ID's rootfs and bind sources go into the share (ADR 0017).</summary>
    public const string AddMember = "add-member";

    /// <summary>"remove-member ID": and out again.</summary>
    public const string RemoveMember = "remove-member";

    /// <summary>
    /// End the VM at once (SIGKILL to QEMU): `kill -9` of a guest whose agent does not answer.
    /// The container then exits as killed (128+9).
    /// </summary>
    public const string KillVm = "kill-vm";

    private const int MaxRequestBytes = 256;

    private readonly Socket _listener;
    private readonly Func<string, CancellationToken, Task> _handle;
    private readonly Action<string> _log;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    private MonitorControl(string path, Socket listener, Func<string, CancellationToken, Task> handle, Action<string> log)
    {
        Path = path;
        _listener = listener;
        _handle = handle;
        _log = log;
        _loop = Task.Run(AcceptLoopAsync);
    }

    public string Path { get; }

    /// <summary>Listens in <paramref name="runDir"/>; <paramref name="handle"/> runs one verb (unknown ones throw).</summary>
    public static MonitorControl Start(string runDir, Func<string, CancellationToken, Task> handle, Action<string> log)
    {
        string path = System.IO.Path.Combine(runDir, FileName);
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            SocketFile.Bind(listener, path);
            listener.Listen(4);
        }
        catch
        {
            listener.Dispose();
            throw;
        }
        return new MonitorControl(path, listener, handle, log);
    }

    /// <summary>Asks the monitor of the sandbox in <paramref name="runDir"/> to run <paramref name="verb"/>; throws its error.</summary>
    public static void Request(string runDir, string verb, TimeSpan timeout)
    {
        string path = System.IO.Path.Combine(runDir, FileName);
        using var cts = new CancellationTokenSource(timeout);
        string answer;
        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cts.Token).AsTask().GetAwaiter().GetResult();
            using var stream = new NetworkStream(socket, ownsSocket: false);
            stream.WriteAsync(Encoding.ASCII.GetBytes(verb + "\n"), cts.Token).AsTask().GetAwaiter().GetResult();
            socket.Shutdown(SocketShutdown.Send);
            answer = BoundedText.ReadToEndAsync(stream, $"the sandbox monitor's answer to {verb}", cts.Token).GetAwaiter().GetResult();
        }
        catch (OperationCanceledException)
        {
            throw new VmSandboxException(ErrorCode.Timeout, $"sandbox monitor did not answer {verb} within {timeout.TotalSeconds:F0}s");
        }
        catch (SocketException e)
        {
            throw new VmSandboxException(ErrorCode.Vm, $"ask the sandbox monitor to {verb}", e);
        }
        MonitorReport report;
        try
        {
            report = JsonSerializer.Deserialize(answer, RuntimeJsonContext.Default.MonitorReport) ?? throw new JsonException("null");
        }
        catch (JsonException e)
        {
            throw new VmSandboxException(ErrorCode.Protocol, $"sandbox monitor answered {verb} with a malformed report", e);
        }
        report.ThrowIfFailed();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket conn;
            try
            {
                conn = await _listener.AcceptAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            await ServeAsync(conn); // one at a time: the verbs change the sandbox
        }
    }

    /// <summary>How long an answer may take to write (the caller reads it at once).</summary>
    private static readonly TimeSpan s_answerTimeout = TimeSpan.FromSeconds(5);

    private async Task ServeAsync(Socket conn)
    {
        using (conn)
        {
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            cts.CancelAfter(TimeSpan.FromMinutes(2));
            MonitorReport answer;
            try
            {
                string verb = await ReadVerbAsync(conn, cts.Token);
                await _handle(verb, cts.Token);
                answer = new MonitorReport();
            }
            catch (Exception e)
            {
                _log($"control: {VmSandboxException.FormatChain(e)}");
                answer = MonitorReport.Failed(e);
            }
            try
            {
                // Not on the stop token: a verb that ends the VM (kill-vm) ends the monitor too,
                // whose disposal stops this server, and the caller must still hear the verb done.
                using var send = new CancellationTokenSource(s_answerTimeout);
                await conn.SendAsync(JsonSerializer.SerializeToUtf8Bytes(answer, RuntimeJsonContext.Default.MonitorReport), SocketFlags.None, send.Token);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException)
            {
                _log($"control: answer: {e.Message}");
            }
        }
    }

    private static async Task<string> ReadVerbAsync(Socket conn, CancellationToken ct)
    {
        byte[] buffer = new byte[MaxRequestBytes];
        int length = 0;
        while (length < buffer.Length)
        {
            int n = await conn.ReceiveAsync(buffer.AsMemory(length), SocketFlags.None, ct);
            if (n == 0)
            {
                break;
            }
            length += n;
            if (Array.IndexOf(buffer, (byte)'\n', 0, length) >= 0)
            {
                break;
            }
        }
        int end = Array.IndexOf(buffer, (byte)'\n', 0, length);
        if (end < 0)
        {
            throw new VmSandboxException(ErrorCode.Protocol, "control request without a verb line");
        }
        return Encoding.ASCII.GetString(buffer, 0, end);
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Dispose();
        await _loop;
        SocketFile.TryRemove(Path);
        _stop.Dispose();
    }
}
