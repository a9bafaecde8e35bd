using VmSandbox.Common;

namespace VmSandbox.Runtime.Vsock;

/// <summary>The vsock transport a sandbox uses (config key vsock.transport).</summary>
public enum VsockTransportKind
{
    /// <summary>Kernel vhost-vsock where /dev/vhost-vsock exists, else hybrid.</summary>
    Auto,
    Hybrid,
    Kernel,
}

/// <summary>Chooses the transport; the device probe is injected for tests.</summary>
public static class VsockTransportSelector
{
    public const string VhostVsockDevice = "/dev/vhost-vsock";

    public static VsockTransportKind Parse(string? text) => text?.Trim().ToLowerInvariant() switch
    {
        null or "" or "auto" => VsockTransportKind.Auto,
        "hybrid" => VsockTransportKind.Hybrid,
        "kernel" => VsockTransportKind.Kernel,
        _ => throw new VmSandboxException(ErrorCode.Config, $"vsock transport \"{text}\" is not one of auto, hybrid, kernel"),
    };

    public static VsockTransportKind Choose(VsockTransportKind requested, Func<string, bool> deviceExists) => requested switch
    {
        VsockTransportKind.Auto => deviceExists(VhostVsockDevice) ? VsockTransportKind.Kernel : VsockTransportKind.Hybrid,
        VsockTransportKind.Kernel when !deviceExists(VhostVsockDevice) => throw new VmSandboxException(ErrorCode.HostMissing,
            $"vsock transport \"kernel\" needs {VhostVsockDevice}")
        { Hint = "modprobe vhost_vsock, or set vsock.transport to \"hybrid\"" },
        _ => requested,
    };
}
