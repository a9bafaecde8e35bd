using System.Runtime.ExceptionServices;
using VmSandbox.Agent.ContainerInit;
using VmSandbox.Agent.Vm;
using VmSandbox.Interop;

namespace VmSandbox.Agent.Containers;

/// <summary>
/// Starts container-init processes: posix_spawn of the agent's own binary in
/// <see cref="InitProcess.Argument"/> mode, from a fresh thread that first moved its
/// pid_ns_for_children into a new pid namespace (container init, which becomes its PID 1) or
/// into the container's (exec). unshare/setns of CLONE_NEWPID act on the calling thread only and
/// a thread can unshare it once, hence the thread per spawn. Under TCG the inits start at fixed
/// addresses (<see cref="InitAddressLayout"/>).
/// </summary>
public sealed class ProcessSpawner
{
    /// <summary>The agent's executable, re-run as the container init.</summary>
    public const string SelfExe = "/proc/self/exe";

    private readonly ChildRegistry _children;
    private readonly bool _fixedAddresses;

    /// <param name="fixedAddresses">Start the inits without address-space randomisation (<see cref="InitAddressLayout"/>; each clears it before its execve).</param>
    public ProcessSpawner(ChildRegistry children, bool fixedAddresses = false)
    {
        _children = children;
        _fixedAddresses = fixedAddresses;
    }

    /// <param name="stdio">The child's fds 0, 1, 2 and 3 (the init channel).</param>
    /// <param name="joinPidOf">null: a new pid namespace; else the pid whose pid namespace to join.</param>
    /// <param name="onExit">Gets the wait status.</param>
    /// <param name="nsexec">
    /// A user namespace step (fds 4 and 5 and "--nsexec FLAGS" for Native/nsexec.c); when the
    /// init makes its own pid namespace, the spawning thread leaves its own alone.
    /// </param>
    /// <param name="prespawned">An init started ahead of its container (<see cref="PrespawnedInit"/>): at idle priority until it is claimed.</param>
    public int Spawn(IReadOnlyList<SafeFd> stdio, int? joinPidOf, Action<int> onExit, NsExec? nsexec = null, bool prespawned = false)
    {
        if (nsexec is not null)
        {
            stdio = [.. stdio, .. nsexec.ChildFds];
        }
        string[] argv = nsexec is not null ? ["vmsandbox-init", InitProcess.Argument, "--nsexec", nsexec.Flags]
            : prespawned ? ["vmsandbox-init", InitProcess.Argument, InitProcess.PrespawnedArgument]
            : ["vmsandbox-init", InitProcess.Argument];
        bool newPidNamespace = nsexec?.InitMakesPidNamespace != true;
        // Sources must sit above the child's fd numbers (see Spawn.Start).
        var high = stdio.Select(fd => ProcessCalls.DuplicateAbove(fd.Fd, 10)).ToList();
        SafeFd? pidNs = joinPidOf is int target ? FileSystemCalls.Open($"/proc/{target}/ns/pid", FileSystemCalls.O_RDONLY) : null;
        int pid = 0;
        ExceptionDispatchInfo? failure = null;
        try
        {
            var thread = new Thread(() =>
            {
                try
                {
                    if (pidNs is null)
                    {
                        if (newPidNamespace)
                        {
                            Namespace.Unshare(Namespace.CLONE_NEWPID);
                        }
                    }
                    else
                    {
                        Namespace.Join(pidNs, Namespace.CLONE_NEWPID, $"/proc/{joinPidOf}/ns/pid");
                    }
                    if (prespawned)
                    {
                        // Inherited by the child: it only takes time no one else wants until it
                        // is claimed, when it returns to SCHED_OTHER itself.
                        _ = Scheduling.TrySetCallingThreadIdle();
                    }
                    if (_fixedAddresses)
                    {
                        // This thread's personality is the child's: the thread is the spawn's alone.
                        _ = Personality.Set(Personality.PerLinux | Personality.AddrNoRandomize);
                    }
                    int[] fds = high.Select(h => h.Fd).ToArray();
                    pid = _children.SpawnAndRegister(
                        () => Interop.Spawn.Start(SelfExe, argv, [], fds, Interop.SpawnFlags.NewSession),
                        onExit);
                }
                catch (Exception e)
                {
                    failure = ExceptionDispatchInfo.Capture(e);
                }
            }, maxStackSize: 256 * 1024)
            {
                IsBackground = true,
                Name = "spawn",
            };
            thread.Start();
            thread.Join();
        }
        finally
        {
            pidNs?.Dispose();
            foreach (SafeFd h in high)
            {
                h.Dispose();
            }
        }
        failure?.Throw();
        return pid;
    }
}
