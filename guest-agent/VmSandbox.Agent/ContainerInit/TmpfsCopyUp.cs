using VmSandbox.Common;
using VmSandbox.Interop;
using MountCalls = VmSandbox.Interop.Mount;

namespace VmSandbox.Agent.ContainerInit;

/// <summary>
/// runc's `tmpcopyup` mount option (an extension podman puts on the tmpfs it mounts on /tmp,
/// /var/tmp and /run for `--read-only`): the new tmpfs starts with a copy of what the image has
/// at the mount point. runc's doTmpfsCopyUp: mount the tmpfs on a staging directory outside the
/// container, copy the directory's contents into it, move the mount onto the directory.
/// </summary>
public static class TmpfsCopyUp
{
    /// <summary>Mounts a tmpfs (<paramref name="flags"/>, <paramref name="data"/>) on <paramref name="target"/> holding a copy of its contents.</summary>
    public static void Mount(string source, string target, ulong flags, string? data)
    {
        // The guest's /run (PID 1's tmpfs), outside the container's root, in init's mount namespace.
        string staging = Path.Combine("/run", $"vmsandbox-copyup-{Environment.ProcessId}");
        Directory.CreateDirectory(staging);
        try
        {
            MountCalls.Do(source, staging, "tmpfs", flags, data);
            try
            {
                CopyTree(target, staging);
                MountCalls.Do(staging, target, "", MountCalls.MS_MOVE);
            }
            catch
            {
                _ = MountCalls.TryUnmount(staging, MountCalls.MNT_DETACH);
                throw;
            }
        }
        finally
        {
            Directory.Delete(staging);
        }
    }

    /// <summary>Directories, regular files and symlinks with their modes and owners (device nodes, sockets and fifos are left out, as runc's copy does with sockets).</summary>
    private static void CopyTree(string from, string to)
    {
        foreach (FileSystemInfo entry in new DirectoryInfo(from).EnumerateFileSystemInfos())
        {
            string dest = Path.Combine(to, entry.Name);
            try
            {
                if (entry.LinkTarget is { } link)
                {
                    File.CreateSymbolicLink(dest, link);
                    continue;
                }
                if (entry is DirectoryInfo dir)
                {
                    Directory.CreateDirectory(dest);
                    CopyTree(dir.FullName, dest);
                }
                else if (FileStat.GetFileType(entry.FullName) == FileStat.S_IFREG)
                {
                    File.Copy(entry.FullName, dest);
                }
                else
                {
                    continue;
                }
                File.SetUnixFileMode(dest, entry.UnixFileMode);
                (uint uid, uint gid, _, _) = FileStat.GetOwner(-100, entry.FullName); // AT_FDCWD
                using SafeFd fd = FileSystemCalls.Open(dest, FileSystemCalls.O_RDONLY);
                int errno = FileStat.TryChown(fd.Fd, uid, gid);
                if (errno != 0)
                {
                    throw SyscallError.Create("fchown", dest, errno);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new VmSandboxException(ErrorCode.Internal, $"tmpcopyup: copy {entry.FullName}", e);
            }
        }
    }
}
