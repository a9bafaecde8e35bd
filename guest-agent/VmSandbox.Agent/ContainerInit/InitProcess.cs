using VmSandbox.Agent.ContainerInit.Protocol;
using VmSandbox.Common;
using VmSandbox.Interop;
using VmSandbox.Oci;
using VmSandbox.Oci.Spec;
using VmSandbox.Oci.State;
using VmSandbox.Seccomp;

namespace VmSandbox.Agent.ContainerInit;

/// <summary>
/// The agent binary's hidden container-init mode: started by the agent with posix_spawn (fds
/// 0-2 = stdio, fd 3 = the socketpair to the agent), already in the container's pid namespace
/// and cgroup. Sets the container up on the main thread and execs the container's program.
/// Two modes: "init" builds new mount/uts/ipc namespaces and the rootfs; "exec" joins those of
/// a running container's init.
/// </summary>
public static class InitProcess
{
    public const string Argument = "__container-init";
    public const int ChannelFd = 3;

    /// <summary>After <see cref="Argument"/>: an init started ahead of its container, which warms up and gets its stdio with its config (docs/protocols/agent-api.md).</summary>
    public const string PrespawnedArgument = "--prespawned";

    public static int Run()
    {
        ProcessCalls.SetCloseOnExec(ChannelFd);
        using var channel = new InitChannel(new SafeFd(ChannelFd));
        bool prespawned = Environment.GetCommandLineArgs().Contains(PrespawnedArgument);
        try
        {
            List<SafeFd>? stdio = null;
            if (prespawned)
            {
                // Claimed already (its config is waiting): no time to spare.
                Span<short> revents = stackalloc short[1];
                if (Poll.Wait([channel.Socket], [Poll.In], revents, 0) == 0)
                {
                    InitWarmup.RunOnce();
                }
                stdio = [];
            }
            InitMessage config = channel.Receive(stdio) ?? throw new VmSandboxException(ErrorCode.Protocol, "init: no config");
            if (stdio is not null)
            {
                TakeStdio(stdio);
            }
            if (config.Type != InitMessage.ConfigType)
            {
                throw new VmSandboxException(ErrorCode.Protocol, $"init: expected config, got {config.Type}");
            }
            // The agent parsed and validated these bytes: the same parse again, which cannot
            // fail differently (and under TCG runs code the agent's parse already translated).
            RuntimeSpec? spec = null;
            ProcessSpec process;
            if (config.Mode == InitMessage.ExecMode)
            {
                process = ProcessLoader.Parse(config.ProcessJson ?? throw new VmSandboxException(ErrorCode.Protocol, "init: no process"), [], "process");
                JoinContainer(config.JoinPid);
            }
            else
            {
                spec = SpecLoader.ParseAndValidate(config.SpecJson ?? throw new VmSandboxException(ErrorCode.Protocol, "init: no spec"), [], "config.json");
                process = spec.Process ?? throw new VmSandboxException(ErrorCode.Protocol, "init: no process");
                SetUpContainer(spec, config);
            }
            SeccompProgram? seccomp = config.SeccompFilter is null ? null : SeccompProgram.FromBytes(config.SeccompFilter, config.SeccompFlags);
            var setup = new ProcessSetup(process, seccomp, config.Terminal);
            if (spec is not null)
            {
                setup.WithPersonality(spec.Linux?.Personality);
                setup.WithStartHooks(spec.Hooks?.StartContainer, new HookState
                {
                    OciVersion = spec.OciVersion,
                    Id = config.ContainerId ?? "",
                    Status = "created",
                    Bundle = config.Bundle ?? "",
                    Annotations = spec.Annotations,
                });
            }
            int errno = setup.Run(channel);
            if (errno == 0)
            {
                return 0;
            }
            throw SyscallError.Create("exec", process.Args![0], errno);
        }
        catch (Exception e)
        {
            try
            {
                WireError error = WireError.From(e);
                if (e is not VmSandboxException)
                {
                    error = error with { Message = $"container init: {error.Message}" };
                }
                channel.Send(new InitMessage { Type = InitMessage.ErrorType, Error = error });
            }
            catch (VmSandboxException)
            {
                // The agent is gone; nothing else can hear about it.
            }
            return 127;
        }
    }

    /// <summary>
    /// A pre-spawned init, now a container's: back to normal priority (the container's process
    /// inherits it), and the container's stdio, which came with the config, as fds 0-2.
    /// </summary>
    private static void TakeStdio(List<SafeFd> stdio)
    {
        try
        {
            Scheduling.SetThreadNormal();
            if (stdio.Count != 3)
            {
                throw new VmSandboxException(ErrorCode.Protocol, $"init: {stdio.Count} stdio descriptors with the config, not 3");
            }
            for (int fd = 0; fd < 3; fd++)
            {
                ProcessCalls.Dup2(stdio[fd].Fd, fd);
            }
        }
        finally
        {
            foreach (SafeFd fd in stdio)
            {
                fd.Dispose();
            }
        }
    }

    private static void SetUpContainer(RuntimeSpec spec, InitMessage config)
    {
        // A cgroup namespace always (the agent already put us in the container's cgroup): the
        // container's /sys/fs/cgroup then shows its own cgroup as the root, with its limits, as
        // runc's private cgroupns does, and nothing of the agent's.
        // A pod member shares the pod's ipc and uts namespaces (the sandbox container's), as
        // Kubernetes expects of a pod's containers; the network namespace is the guest's one anyway.
        bool userNamespace = spec.Linux?.Namespaces?.Any(n => n.Type == "user") == true;
        string cgroupPath = userNamespace ? OwnCgroup() : "/";
        if (config.PodPid > 0)
        {
            JoinPod(config.PodPid);
            Namespace.Unshare(Namespace.CLONE_NEWNS | Namespace.CLONE_NEWCGROUP);
        }
        else
        {
            Namespace.Unshare(Namespace.CLONE_NEWNS | Namespace.CLONE_NEWUTS | Namespace.CLONE_NEWIPC | Namespace.CLONE_NEWCGROUP);
        }
        // Before the rootfs: the guest's /proc is still at /proc and writable, and the container's
        // /proc/sys will be read-only (runc also writes sysctls before readonlyPaths). net.* go
        // to the guest's one network namespace, ipc and uts ones to the namespaces just made.
        // In a user namespace the net.* ones are the agent's (the guest's network namespace is not
        // the user namespace's to change): see ContainerManager.Create.
        foreach (var (key, value) in spec.Linux?.Sysctl ?? new Dictionary<string, string>())
        {
            if (!userNamespace || !IsNetworkSysctl(key))
            {
                WriteSysctl(key, value);
            }
        }
        new RootfsSetup(spec, config.Rootfs ?? throw new VmSandboxException(ErrorCode.InvalidArgument, "init: no rootfs"), config.Binds).WithCgroupPath(cgroupPath).Run();
        if (!string.IsNullOrEmpty(spec.Hostname) && config.PodPid == 0)
        {
            Namespace.SetHostName(spec.Hostname);
        }
        if (!string.IsNullOrEmpty(spec.Domainname))
        {
            Namespace.SetDomainName(spec.Domainname);
        }
    }

    /// <summary>This process's cgroup v2 path ("0::/path" in /proc/self/cgroup), as the current cgroup namespace names it.</summary>
    private static string OwnCgroup()
    {
        foreach (string line in File.ReadLines("/proc/self/cgroup"))
        {
            if (line.StartsWith("0::", StringComparison.Ordinal))
            {
                return line[3..];
            }
        }
        return "/";
    }

    public static bool IsNetworkSysctl(string key) => key.StartsWith("net.", StringComparison.Ordinal);

    public static void WriteSysctl(string key, string value)
    {
        if (key.Contains("..", StringComparison.Ordinal) || key.Contains('/'))
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, $"linux.sysctl {key}: invalid name");
        }
        File.WriteAllText("/proc/sys/" + key.Replace('.', '/'), value);
    }

    /// <summary>Joins the ipc and uts namespaces of the pod sandbox's init.</summary>
    private static void JoinPod(int pid)
    {
        string proc = $"/proc/{pid}";
        using SafeFd ipc = FileSystemCalls.Open($"{proc}/ns/ipc", FileSystemCalls.O_RDONLY);
        using SafeFd uts = FileSystemCalls.Open($"{proc}/ns/uts", FileSystemCalls.O_RDONLY);
        Namespace.Join(ipc, Namespace.CLONE_NEWIPC, $"{proc}/ns/ipc");
        Namespace.Join(uts, Namespace.CLONE_NEWUTS, $"{proc}/ns/uts");
    }

    /// <summary>Joins the cgroup, ipc, uts and mount namespaces and the root of the container's init (the pid namespace came from the agent's spawning thread).</summary>
    private static void JoinContainer(int pid)
    {
        string proc = $"/proc/{pid}";
        using SafeFd cgroup = FileSystemCalls.Open($"{proc}/ns/cgroup", FileSystemCalls.O_RDONLY);
        using SafeFd ipc = FileSystemCalls.Open($"{proc}/ns/ipc", FileSystemCalls.O_RDONLY);
        using SafeFd uts = FileSystemCalls.Open($"{proc}/ns/uts", FileSystemCalls.O_RDONLY);
        using SafeFd mnt = FileSystemCalls.Open($"{proc}/ns/mnt", FileSystemCalls.O_RDONLY);
        using SafeFd root = FileSystemCalls.Open($"{proc}/root", FileSystemCalls.O_RDONLY | FileSystemCalls.O_DIRECTORY);
        // setns(CLONE_NEWNS) refuses a caller that shares its fs struct with other threads.
        Namespace.Unshare(Namespace.CLONE_FS);
        Namespace.Join(cgroup, Namespace.CLONE_NEWCGROUP, $"{proc}/ns/cgroup");
        Namespace.Join(ipc, Namespace.CLONE_NEWIPC, $"{proc}/ns/ipc");
        Namespace.Join(uts, Namespace.CLONE_NEWUTS, $"{proc}/ns/uts");
        Namespace.Join(mnt, Namespace.CLONE_NEWNS, $"{proc}/ns/mnt");
        FileSystemCalls.ChangeDirectory(root, $"{proc}/root");
        Interop.Mount.ChangeRoot(".");
        FileSystemCalls.ChangeDirectory("/");
    }
}
