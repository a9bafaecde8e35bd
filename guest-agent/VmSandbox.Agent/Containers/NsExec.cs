using System.Text;
using VmSandbox.Common;
using VmSandbox.Interop;
using VmSandbox.Oci;
using VmSandbox.Oci.Spec;

namespace VmSandbox.Agent.Containers;

/// <summary>
/// The agent's side of a container init's user-namespace step (Native/nsexec.c, ADR 0019): the
/// flags the init gets after "--nsexec", the uid_map and gid_map written from outside while the
/// init waits in its new user namespace, and the pid of the process that goes on as the
/// container's (a relay's child when the init made a pid namespace of its own).
/// </summary>
public sealed class NsExec : IDisposable
{
    /// <summary>fd of the record socket in the init (nsexec.c SYNC_FD).</summary>
    public const int SyncFd = 4;

    /// <summary>fd of the user namespace to join in the init (nsexec.c USERNS_FD).</summary>
    public const int UserNsFd = 5;

    // nsexec.c's records and steps.
    private const int NeedMaps = 1;
    private const int PidRecord = 2;
    private const int ErrorRecord = 3;
    private static readonly string[] s_steps = ["", "setns user namespace", "unshare user namespace", "setresgid 0", "setresuid 0", "unshare pid namespace", "fork"];

    private static readonly TimeSpan s_recordTimeout = TimeSpan.FromSeconds(10);

    private readonly SafeFd _sync;

    private NsExec(string flags, SafeFd sync, SafeFd childSync, SafeFd? userNs)
    {
        Flags = flags;
        _sync = sync;
        ChildFds = userNs is null ? [childSync] : [childSync, userNs];
    }

    /// <summary>"u" (new user namespace) or "j" (join the one on fd 5), with "p" when the init makes its pid namespace.</summary>
    public string Flags { get; }

    /// <summary>The init's fds 4 (and 5): the agent closes them once it spawned the init.</summary>
    public IReadOnlyList<SafeFd> ChildFds { get; }

    /// <summary>Whether the spawning thread must leave the pid namespace to the init (it makes its own, owned by its user namespace).</summary>
    public bool InitMakesPidNamespace => Flags.Contains('p');

    /// <summary>A new user namespace for a container init; "p" unless it joins an existing pid namespace.</summary>
    public static NsExec ForNewNamespace(bool newPidNamespace) => Create(newPidNamespace ? "up" : "u", null);

    /// <summary>Joins the user namespace of <paramref name="pid"/> (a container's init, for an exec or a pod member).</summary>
    public static NsExec ForJoin(int pid, bool newPidNamespace)
    {
        SafeFd userNs = FileSystemCalls.Open($"/proc/{pid}/ns/user", FileSystemCalls.O_RDONLY | FileSystemCalls.O_CLOEXEC);
        return Create(newPidNamespace ? "jp" : "j", userNs);
    }

    private static NsExec Create(string flags, SafeFd? userNs)
    {
        var (agentEnd, initEnd) = UnixSocket.CreatePair();
        return new NsExec(flags, agentEnd, initEnd, userNs);
    }

    /// <summary>
    /// Follows the init (<paramref name="spawned"/>, the pid posix_spawn gave) through its step:
    /// writes its maps when it asks, and returns the pid of the container's process (the relay's
    /// child, or <paramref name="spawned"/> itself when there is no relay).
    /// </summary>
    public int Complete(int spawned, IReadOnlyList<LinuxIdMapping>? uidMappings, IReadOnlyList<LinuxIdMapping>? gidMappings)
    {
        foreach (SafeFd fd in ChildFds)
        {
            fd.Dispose();
        }
        var (type, value) = Receive();
        if (type == NeedMaps)
        {
            // runc as root leaves setgroups allowed: only a rootless runc writes "deny".
            WriteMap(spawned, "uid_map", uidMappings);
            WriteMap(spawned, "gid_map", gidMappings);
            using var stream = RawFdStream.OverDuplicate(_sync.Fd);
            stream.Write("m"u8);
            (type, value) = Receive();
        }
        if (type != PidRecord || value < 0)
        {
            throw new VmSandboxException(ErrorCode.Protocol, $"container init: user namespace: unexpected record {type}");
        }
        return value > 0 ? value : spawned;
    }

    private (int Type, int Value) Receive()
    {
        Span<short> revents = stackalloc short[1];
        if (Poll.Wait([_sync], [Poll.In], revents, (int)s_recordTimeout.TotalMilliseconds) == 0)
        {
            throw new VmSandboxException(ErrorCode.Internal, "container init: user namespace: no answer in 10 s");
        }
        Span<byte> record = stackalloc byte[12];
        using var stream = RawFdStream.OverDuplicate(_sync.Fd);
        int got = 0;
        while (got < record.Length)
        {
            int n = stream.Read(record[got..]);
            if (n == 0)
            {
                throw new VmSandboxException(ErrorCode.Internal, "container init: user namespace: the init exited before it was set up");
            }
            got += n;
        }
        int type = BitConverter.ToInt32(record[..4]);
        int value = BitConverter.ToInt32(record[4..8]);
        int step = BitConverter.ToInt32(record[8..]);
        if (type == ErrorRecord)
        {
            string what = step > 0 && step < s_steps.Length ? s_steps[step] : $"step {step}";
            throw SyscallError.Create(what, null, value);
        }
        return (type, value);
    }

    /// <summary>One write(2) of the whole map, as the kernel requires.</summary>
    private static void WriteMap(int pid, string file, IReadOnlyList<LinuxIdMapping>? maps)
    {
        string path = $"/proc/{pid}/{file}";
        using SafeFd fd = FileSystemCalls.Open(path, FileSystemCalls.O_WRONLY | FileSystemCalls.O_CLOEXEC);
        using var stream = RawFdStream.OverDuplicate(fd.Fd);
        try
        {
            stream.Write(Encoding.ASCII.GetBytes(IdMapFile.Format(maps ?? [])));
        }
        catch (IOException e)
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, $"write {path}: {e.Message}");
        }
    }

    public void Dispose()
    {
        _sync.Dispose();
        foreach (SafeFd fd in ChildFds)
        {
            fd.Dispose();
        }
    }
}
