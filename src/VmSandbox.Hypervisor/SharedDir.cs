namespace VmSandbox.Hypervisor;

/// <summary>
/// A host directory shared into the guest over virtio-fs under <see cref="Tag"/>. With
/// <see cref="Binds"/>, <see cref="HostPath"/> becomes a private tmpfs (in a mount namespace of
/// the virtio-fs daemon's own) holding bind mounts of each source, so one daemon serves the
/// rootfs and every volume, and no mount ever shows on the host.
/// </summary>
public sealed record SharedDir(string Tag, string HostPath)
{
    public IReadOnlyList<ShareBind> Binds { get; init; } = [];
}

/// <summary>One source bound at <see cref="Target"/>, a relative path inside the share.</summary>
public sealed record ShareBind(string Source, string Target);
