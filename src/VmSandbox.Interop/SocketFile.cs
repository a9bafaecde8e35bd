using System.Net.Sockets;
using VmSandbox.Common;

namespace VmSandbox.Interop;

/// <summary>
/// The file of a Unix socket we bind: every listener the host side creates (vsock back-end,
/// hybrid vsock and its ports, monitor control, report channels, shim, console socket) goes
/// through here, so that each one replaces only a stale socket of its own (never a file, a
/// directory or a symlink someone put at its path: lstat, S_ISSOCK) and is 0600 once bound
/// (its directory is 0700 too: the mode of the file is the second lock, not the first).
/// </summary>
public static class SocketFile
{
    /// <summary>0600: only the owner (the runtime's user) may connect.</summary>
    public const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>
    /// Removes a socket left at <paramref name="path"/> by an earlier run. Anything else there is
    /// never removed: a path that is not ours is a refusal, with one error naming it.
    /// </summary>
    public static void RemoveStale(string path)
    {
        uint type = TypeOrNone(path);
        if (type == 0)
        {
            return;
        }
        if (type != FileStat.S_IFSOCK)
        {
            throw new VmSandboxException(ErrorCode.FailedPrecondition, $"{path} exists and is not a socket; not removing it");
        }
        File.Delete(path);
    }

    /// <summary>Removes our socket at <paramref name="path"/> if one is there; anything else stays, and no error is raised (clean-up).</summary>
    public static void TryRemove(string path)
    {
        try
        {
            if (TypeOrNone(path) == FileStat.S_IFSOCK)
            {
                File.Delete(path);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or VmSandboxException)
        {
        }
    }

    /// <summary>
    /// Binds <paramref name="socket"/> to <paramref name="path"/> after removing a stale socket
    /// there (<see cref="RemoveStale"/>), then makes the file 0600. The mode is set after
    /// bind(2) because fchmod on a socket fd does not reach the file, and a umask change would
    /// be process-wide; the 0700 directory closes the window between the two.
    /// </summary>
    public static void Bind(Socket socket, string path, bool replaceStale = true)
    {
        ArgumentNullException.ThrowIfNull(socket);
        if (replaceStale)
        {
            RemoveStale(path);
        }
        socket.Bind(new UnixDomainSocketEndPoint(path));
        File.SetUnixFileMode(path, OwnerOnly);
    }

    /// <summary>The file type bits of <paramref name="path"/> itself (not a symlink's target); 0 when nothing is there.</summary>
    private static uint TypeOrNone(string path)
    {
        try
        {
            return FileStat.GetFileType(path);
        }
        catch (VmSandboxException e) when (e.Errno == 2)
        {
            return 0; // ENOENT
        }
    }
}
