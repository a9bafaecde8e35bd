using System.Buffers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using VmSandbox.Common;

namespace VmSandbox.Hypervisor.Qmp;

/// <summary>
/// A minimal client for QEMU's machine protocol (QMP): JSON objects, one per line, over a Unix
/// socket. Commands are serialised (QMP answers in order); asynchronous events are skipped.
/// Collaborators: <see cref="Qemu.QemuVm"/> uses it to stop the VM.
/// </summary>
public sealed class QmpClient : IAsyncDisposable
{
    private const int MaxLineBytes = 1 << 20;
    private static readonly string[] s_ctrlAltDelete = ["ctrl", "alt", "delete"];
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly StreamReader _reader;
    private readonly SemaphoreSlim _lock = new(1, 1);

    private QmpClient(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _reader = new StreamReader(_stream, Encoding.UTF8, false, 4096, leaveOpen: true);
    }

    /// <summary>Connects (retrying until <paramref name="deadline"/>), reads the greeting and enters command mode.</summary>
    public static async Task<QmpClient> ConnectAsync(string path, DateTime deadline, Func<bool> peerAlive, CancellationToken ct)
    {
        while (true)
        {
            var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                await s.ConnectAsync(new UnixDomainSocketEndPoint(path), ct);
                var c = new QmpClient(s);
                try
                {
                    await c.ReadMessageAsync(ct); // {"QMP": {...}}
                    await c.ExecuteAsync("qmp_capabilities", null, ct);
                    return c;
                }
                catch
                {
                    await c.DisposeAsync();
                    throw;
                }
            }
            catch (SocketException) when (DateTime.UtcNow < deadline && peerAlive())
            {
                s.Dispose();
                await Task.Delay(10, ct);
            }
            catch (SocketException e)
            {
                s.Dispose();
                throw new VmSandboxException(ErrorCode.Vm, $"connect to qmp socket {path}", e);
            }
        }
    }

    /// <summary>Runs a command and returns its "return" value (cloned), or throws with QEMU's error description.</summary>
    public async Task<JsonElement> ExecuteAsync(string command, Action<Utf8JsonWriter>? writeArguments, CancellationToken ct)
    {
        await _lock.WaitAsync(ct);
        try
        {
            var buffer = new ArrayBufferWriter<byte>(256);
            using (var w = new Utf8JsonWriter(buffer))
            {
                w.WriteStartObject();
                w.WriteString("execute", command);
                if (writeArguments is not null)
                {
                    w.WritePropertyName("arguments");
                    w.WriteStartObject();
                    writeArguments(w);
                    w.WriteEndObject();
                }
                w.WriteEndObject();
            }
            buffer.Write("\n"u8);
            await _stream.WriteAsync(buffer.WrittenMemory, ct);
            while (true)
            {
                using JsonDocument doc = await ReadMessageAsync(ct);
                JsonElement root = doc.RootElement;
                if (root.TryGetProperty("return", out JsonElement ret))
                {
                    return ret.Clone();
                }
                if (root.TryGetProperty("error", out JsonElement err))
                {
                    string desc = err.TryGetProperty("desc", out JsonElement d) ? d.GetString() ?? "" : err.ToString();
                    throw new VmSandboxException(ErrorCode.Vm, $"qmp {command}: {desc}");
                }
                // An asynchronous event (SHUTDOWN, RESET, …): not the answer we wait for.
            }
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>Sends Ctrl-Alt-Del; the agent (PID 1) receives it as SIGINT and powers off.</summary>
    public Task SendCtrlAltDeleteAsync(CancellationToken ct) =>
        ExecuteAsync("send-key", w =>
        {
            w.WriteStartArray("keys");
            foreach (string key in s_ctrlAltDelete)
            {
                w.WriteStartObject();
                w.WriteString("type", "qcode");
                w.WriteString("data", key);
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }, ct);

    private async Task<JsonDocument> ReadMessageAsync(CancellationToken ct)
    {
        string? line = await _reader.ReadLineAsync(ct);
        if (line is null)
        {
            throw new VmSandboxException(ErrorCode.Vm, "qmp connection closed by qemu");
        }
        if (line.Length > MaxLineBytes)
        {
            throw new VmSandboxException(ErrorCode.Protocol, "qmp message too long");
        }
        try
        {
            return JsonDocument.Parse(line);
        }
        catch (JsonException e)
        {
            throw new VmSandboxException(ErrorCode.Protocol, "qmp sent malformed json", e);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _reader.Dispose();
        await _stream.DisposeAsync();
        _socket.Dispose();
        _lock.Dispose();
    }
}
