using VmSandbox.Common;
using VmSandbox.Interop;

namespace VmSandbox.Runtime.Sandbox;

/// <summary>
/// What the sandbox monitor shows as its files: the monitor's PID is the container's PID for
/// runc's callers, and some of them reach the container's files through it. podman cp on a
/// running container joins /proc/PID/ns/mnt and copies to and from "/" there (libpod's
/// joinMountAndExec); nerdctl cp goes through /proc/PID/root. With runc both are the container's
/// root; the monitor lives in the host's, so `podman cp f CTR:/etc/passwd` wrote the host's
/// /etc/passwd. The monitor's main thread (the thread group leader, whose namespaces and root
/// /proc/PID names) therefore moves into a mount namespace of its own whose root is the bundle's
/// rootfs: the host side of the container's root, which virtiofs shares into the guest, so a copy
/// lands where the container sees it. The other threads keep the host's mounts: only a thread
/// that does nothing but wait may enter (`__monitor` moves its work off the main thread first),
/// and <see cref="Dispose"/> takes it back before the process exits.
/// </summary>
public sealed class RootfsView : IDisposable
{
    private readonly SafeFd _hostMounts;

    private RootfsView(SafeFd hostMounts) => _hostMounts = hostMounts;

    /// <summary>Moves the calling thread into a new mount namespace rooted at <paramref name="rootfs"/>; on failure it stays where it was.</summary>
    public static RootfsView Enter(string rootfs, bool readOnly)
    {
        SafeFd host = FileSystemCalls.Open("/proc/thread-self/ns/mnt", FileSystemCalls.O_RDONLY);
        try
        {
            // CLONE_FS too: this thread's root and cwd change, not the process's.
            Namespace.Unshare(Namespace.CLONE_FS | Namespace.CLONE_NEWNS);
            try
            {
                // runc's order (rootfs_linux.go): nothing below propagates back to the host, the
                // rootfs becomes a mount point, pivot_root(".", ".") and the old root detached.
                Mount.Do("", "/", "", Mount.MS_REC | Mount.MS_SLAVE);
                Mount.Do(rootfs, rootfs, "", Mount.MS_BIND | Mount.MS_REC);
                if (readOnly)
                {
                    Mount.Do("", rootfs, "", Mount.MS_BIND | Mount.MS_REMOUNT | Mount.MS_RDONLY);
                }
                FileSystemCalls.ChangeDirectory(rootfs);
                int errno = Mount.TryPivotRoot(".", ".");
                if (errno != 0)
                {
                    throw SyscallError.Create("pivot_root", rootfs, errno);
                }
                Mount.Unmount(".", Mount.MNT_DETACH);
                FileSystemCalls.ChangeDirectory("/");
            }
            catch
            {
                Namespace.Join(host, Namespace.CLONE_NEWNS, "the host's mount namespace");
                throw;
            }
            return new RootfsView(host);
        }
        catch
        {
            host.Dispose();
            throw;
        }
    }

    /// <summary>Back to the host's mounts (setns also resets root and cwd); the view's namespace goes with its last thread.</summary>
    public void Dispose()
    {
        try
        {
            Namespace.Join(_hostMounts, Namespace.CLONE_NEWNS, "the host's mount namespace");
        }
        catch (VmSandboxException)
        {
            // Only the exit is left for this thread: nothing reads a host path after this.
        }
        _hostMounts.Dispose();
    }
}
