using VmSandbox.Common;
using VmSandbox.Interop;

namespace VmSandbox.Runtime.Containers;

/// <summary>
/// One container's lock: an exclusive flock(2) on its directory under --root, held by the calls
/// that change what the container is (create until it is created, start, pause, resume, update,
/// delete). Two of them on one container at once run one after the other, and the second decides
/// on the record the first left: of two starts one gets runc's "cannot start an already running
/// container"; a delete waits for a start or a create and then removes what they made; a call
/// that waited on a delete finds "container ID does not exist". The lock is the directory's, so
/// it goes with the container and leaves nothing behind; the kernel drops it when its holder dies.
/// `state`, `list`, `ps` and `kill` take none: the record is replaced atomically (rename), and a
/// kill must reach a container whatever else runs on it (runc's kill takes no lock either).
/// </summary>
public sealed class ContainerLock : IDisposable
{
    private const int ENOENT = 2;
    private static readonly TimeSpan s_poll = TimeSpan.FromMilliseconds(20);

    private readonly SafeFd _fd;

    private ContainerLock(SafeFd fd) => _fd = fd;

    /// <summary>
    /// How long a call waits for another one on the same container: a create holds the lock while
    /// its VM boots (the boot timeout, plus the agent's create and the hooks).
    /// </summary>
    public static TimeSpan WaitFor(Config.RuntimeConfig config) => config.BootTimeout + TimeSpan.FromMinutes(2);

    /// <summary>
    /// Waits (polling, up to <paramref name="timeout"/>) for the lock of the container whose
    /// directory is <paramref name="dir"/>. Throws NotFound with runc's words when there is no
    /// such container, or when it was deleted while this call waited.
    /// </summary>
    public static ContainerLock Acquire(string dir, string id, TimeSpan timeout)
    {
        DateTime deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            SafeFd fd;
            try
            {
                fd = FileSystemCalls.Open(dir, FileSystemCalls.O_RDONLY | FileSystemCalls.O_DIRECTORY);
            }
            catch (VmSandboxException e) when (e.Errno == ENOENT)
            {
                throw new VmSandboxException(ErrorCode.NotFound, $"container {id} does not exist");
            }
            bool held = false;
            try
            {
                while (!FileLock.TryLockExclusive(fd, dir))
                {
                    if (DateTime.UtcNow > deadline)
                    {
                        throw new VmSandboxException(ErrorCode.Timeout, $"container {id} is busy: another call on it did not finish within {timeout.TotalSeconds:0} s");
                    }
                    Thread.Sleep(s_poll);
                }
                held = true;
            }
            finally
            {
                if (!held)
                {
                    fd.Dispose();
                }
            }
            if (FileStat.GetLinkCount(fd, dir) > 0)
            {
                return new ContainerLock(fd);
            }
            // The holder deleted the container while this call waited; look again (it is gone,
            // or a new create claimed the ID since).
            fd.Dispose();
        }
    }

    public void Dispose() => _fd.Dispose();
}
