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

    /// <summary>
    /// Served from the daemon's own bounded tmpfs even without <see cref="Binds"/>: a share that
    /// starts empty and is filled later in the daemon's namespace (a pooled VM's, whose
    /// containers come through MemberShares), never the host directory itself, which the guest's
    /// root could fill. Without binds and without this, the host directory is served as it is.
    /// </summary>
    public bool Private { get; init; }
}

/// <summary>One source bound at <see cref="Target"/>, a relative path inside the share.</summary>
public sealed record ShareBind(string Source, string Target);
