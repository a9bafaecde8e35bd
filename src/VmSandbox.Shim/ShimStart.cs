using System.Diagnostics;
using System.Net.Sockets;
using System.Text.Json;
using Google.Protobuf.WellKnownTypes;
using VmSandbox.Common;
using VmSandbox.Runtime.Config;
using VmSandbox.Shim.Protocol;

namespace VmSandbox.Shim;

/// <summary>
/// `start`, containerd's handshake (protocols.md §5.2): containerd runs it in the bundle and takes
/// everything it prints (stdout and stderr together) as the address to dial, so it prints the
/// address and nothing else. The tasks of one pod share one serving shim, found by the socket of
/// their group (the CRI sandbox ID, else the task ID); a new one is started detached, listening
/// before the address is printed, and holding none of containerd's pipes.
/// </summary>
public static class ShimStart
{
    public const string ConfigVariable = "VMSANDBOX_CONFIG";
    private const string SandboxIdAnnotation = "io.kubernetes.cri.sandbox-id";
    private static readonly TimeSpan s_serverReady = TimeSpan.FromSeconds(30);

    public static string Version => BuildVersion.Of(typeof(ShimStart).Assembly);

    public static int Run(ShimFlags flags)
    {
        flags.RequireTask();
        string bundle = Directory.GetCurrentDirectory();
        string? configPath = ReadConfigPath(Console.OpenStandardInput());
        if (configPath is not null)
        {
            flags = flags with { ConfigPath = configPath };
            Environment.SetEnvironmentVariable(ConfigVariable, configPath);
        }
        var paths = new ShimPaths(RuntimeConfigLoader.Load(), flags.Namespace);
        string socket = paths.SocketFor(flags.Address, GroupOf(bundle) ?? flags.Id);
        if (!ShimSocket.IsServed(socket))
        {
            StartServer(flags, bundle, socket);
        }
        string address = "unix://" + socket;
        File.WriteAllText(Path.Combine(bundle, "address"), address);
        Console.Out.Write(address);
        return ExitCodes.Success;
    }

    /// <summary>The CRI handler's ConfigPath, from the google.protobuf.Any containerd writes to stdin (if any).</summary>
    public static string? ReadConfigPath(Stream stdin)
    {
        using var buffer = new MemoryStream();
        stdin.CopyTo(buffer);
        if (buffer.Length == 0)
        {
            return null;
        }
        Any any = Any.Parser.ParseFrom(buffer.ToArray());
        if (!any.TypeUrl.EndsWith("runtimeoptions.v1.Options", StringComparison.Ordinal))
        {
            return null; // runc's options or another runtime's: nothing of ours
        }
        string path = Options.Parser.ParseFrom(any.Value).ConfigPath;
        return path.Length == 0 ? null : path;
    }

    /// <summary>The pod a task belongs to (its CRI sandbox ID), from the bundle's config.json.</summary>
    public static string? GroupOf(string bundle)
    {
        string file = Path.Combine(bundle, "config.json");
        if (!File.Exists(file))
        {
            return null;
        }
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(file));
        return doc.RootElement.TryGetProperty("annotations", out JsonElement a) && a.ValueKind == JsonValueKind.Object
            && a.TryGetProperty(SandboxIdAnnotation, out JsonElement id) && id.ValueKind == JsonValueKind.String
            ? id.GetString()
            : null;
    }

    /// <summary>
    /// Runs this binary without an action, serving <paramref name="socket"/>, and waits for its
    /// "ok" (or its error) on a pipe of ours, never containerd's.
    /// </summary>
    private static void StartServer(ShimFlags flags, string bundle, string socket)
    {
        var psi = new ProcessStartInfo(Environment.ProcessPath ?? throw new VmSandboxException(ErrorCode.Internal, "cannot find own executable"))
        {
            UseShellExecute = false,
            WorkingDirectory = bundle,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (string a in flags.ForServer(socket))
        {
            psi.ArgumentList.Add(a);
        }
        using Process server = Process.Start(psi) ?? throw new VmSandboxException(ErrorCode.Internal, "start the serving shim");
        server.StandardInput.Close();
        Task<string?> line = server.StandardOutput.ReadLineAsync();
        if (!line.Wait(s_serverReady))
        {
            server.Kill();
            throw new VmSandboxException(ErrorCode.Timeout, $"the serving shim did not listen on {socket} within {s_serverReady.TotalSeconds} s");
        }
        if (line.Result != ShimServer.ReadyLine)
        {
            server.WaitForExit(TimeSpan.FromSeconds(5));
            string error = server.StandardError.ReadToEnd().Trim();
            throw new VmSandboxException(ErrorCode.Internal, error.Length > 0 ? error : $"the serving shim exited with {(server.HasExited ? server.ExitCode : -1)} before listening");
        }
        server.StandardOutput.Close();
        server.StandardError.Close();
    }
}

/// <summary>The serving shim's Unix socket: is someone answering on it, and removing a dead one.</summary>
public static class ShimSocket
{

    public static bool IsServed(string path)
    {
        if (!Path.Exists(path))
        {
            return false;
        }
        using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            s.Connect(new UnixDomainSocketEndPoint(path));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>Removes a socket nobody serves; anything that is not a socket is left alone and named.</summary>
    public static void RemoveDead(string path)
    {
        if (IsServed(path))
        {
            return;
        }
        Interop.SocketFile.RemoveStale(path);
    }
}
