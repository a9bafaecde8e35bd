using VmSandbox.Common;
using VmSandbox.Oci;
using VmSandbox.Oci.HookRunning;
using VmSandbox.Oci.State;
using VmSandbox.Runtime.Config;
using VmSandbox.Runtime.Network;
using VmSandbox.Runtime.Sandbox;
using VmSandbox.Runtime.Terminal;

namespace VmSandbox.Runtime.Containers;

/// <summary>What `create` (and `run`) take besides the ID.</summary>
public sealed record CreateOptions
{
    public string Bundle { get; init; } = ".";
    public string? ConsoleSocket { get; init; }
    public string? PidFile { get; init; }
    /// <summary>`run` without --detach: a terminal may then be the caller's own (no console socket).</summary>
    public bool Foreground { get; init; }
    /// <summary>The monitor's stdio (the container's, without a terminal) are pipes the caller holds (<see cref="IHelperProcess.Stdio"/>).</summary>
    public bool PipeStdio { get; init; }
}

public sealed partial class Container
{
    /// <summary>
    /// Validates the bundle (the one parse of its config.json on the host: what the monitor, later
    /// verbs and the guest read is the copy of exactly these bytes), claims the ID, starts the
    /// sandbox monitor (it boots the VM and has the agent create the process, blocked before exec),
    /// waits for its report, writes --pid-file and runs the create-time hooks. Any failure leaves
    /// nothing: no monitor, VM, socket, cgroup or state directory.
    /// </summary>
    public static Container Create(ContainerRuntime rt, string id, CreateOptions options)
    {
        ContainerIdValidator.Validate(id);
        PhaseLog.Mark(rt.Config.PhaseLogPath, id, "create");
        LoadedSpec loaded = SpecLoader.Load(options.Bundle);
        foreach (string warning in loaded.Warnings)
        {
            rt.Log.Warn(warning);
        }
        if (loaded.Spec.Linux?.Namespaces?.Any(n => n.Type == "time") == true)
        {
            // Not refused: rootless set-ups send one. docs/oci.md says why.
            rt.Log.Warn("time namespaces are not applied: the container's clock is its own VM's");
        }
        UserNamespacePolicy.ThrowIfUnsupported(loaded.Spec);
        bool terminal = loaded.Spec.Process?.Terminal ?? false;
        ThrowIfConsoleMisused(terminal, options.ConsoleSocket, detached: !options.Foreground);
        SeccompNotify.ThrowIfRequested(loaded.Spec.Linux?.Seccomp);
        RequireGuestImage(rt.Config);
        // runc's order: an ID in use is refused before the cgroup is looked at (the other
        // container's processes would otherwise read as a non-empty cgroup first). Claim, below,
        // is the atomic check.
        if (Directory.Exists(rt.Store.DirOf(id)))
        {
            throw new VmSandboxException(ErrorCode.AlreadyExists, $"container with id exists: {id}");
        }
        // A pod member runs in its pod's VM, which lives in the sandbox container's host cgroup.
        ContainerRecord? pod = PodSandboxOf(rt, loaded.Spec);
        // Only a container with a VM of its own has a network namespace to check: a member's is
        // its sandbox's, which CRI names /proc/SANDBOX_PID/ns/net (the sandbox's monitor).
        if (pod is null)
        {
            NetworkNamespacePolicy.ThrowIfUnsupported(loaded.Spec, NetworkNamespacePolicy.SameNamespace);
            UserNamespacePolicy.ThrowIfJoinOutsidePod(loaded.Spec);
        }
        IHostCgroups cgroups = rt.Host.Cgroups;
        IReadOnlyList<string> hostCgroups = pod is not null ? [] : cgroups.Resolve(loaded.Spec.Linux?.CgroupsPath, id, rt.SystemdCgroup);
        cgroups.ThrowIfFrozen(hostCgroups);
        if (cgroups.CountProcesses(hostCgroups) is > 0 and int found)
        {
            rt.Log.Warn($"container's cgroup is not empty: {found} process(es) found");
        }

        string dir = rt.Store.Claim(id);
        string runDir = rt.Store.RunDirOf(id);
        IHelperProcess? monitor = null;
        ContainerLock? held = null;
        try
        {
            // Held until the container is created: a start, delete or second create's clean-up
            // of this ID waits for it rather than acting on a half-made container.
            held = ContainerLock.Acquire(dir, id, ContainerLock.WaitFor(rt.Config));
            if (Directory.Exists(runDir))
            {
                Directory.Delete(runDir, recursive: true); // a stale sandbox of a container that was never deleted
            }
            rt.Store.CreateRunDir(id);
            rt.Store.SaveSpec(id, loaded.Json);
            var record = new ContainerRecord
            {
                Id = id,
                Bundle = loaded.BundlePath,
                Rootfs = loaded.RootfsPath,
                Created = StateJson.FormatTime(DateTimeOffset.UtcNow),
                Annotations = loaded.Spec.Annotations,
                RunDir = runDir,
                Terminal = terminal,
                Owner = "",
                HostCgroups = hostCgroups,
                SandboxId = pod?.Id,
                SandboxRunDir = pod?.RunDir,
            };
            rt.Store.Save(record);

            // Held open until the monitor has opened the pty too (it reports after that).
            using ConsolePty? console = options.ConsoleSocket is null ? null : ConsoleSetup.SendNewPty(options.ConsoleSocket, loaded.Spec.Process?.ConsoleSize);
            // The hooks run as soon as the monitor is in the container's network namespace, while
            // the VM boots (Docker's libnetwork-setkey wires it then); else once it is created.
            bool hooked = false;
            void RunCreateHooks(ContainerRecord at)
            {
                HookPhase.Run(rt.Log, at, loaded.Spec.Hooks, HookKind.Prestart, ContainerStatus.Created);
                HookPhase.Run(rt.Log, at, loaded.Spec.Hooks, HookKind.CreateRuntime, ContainerStatus.Created);
                // Its path resolves in the runtime's namespace, so on the host, as createRuntime (docs/oci.md).
                HookPhase.Run(rt.Log, at, loaded.Spec.Hooks, HookKind.CreateContainer, ContainerStatus.Created);
                PhaseLog.Mark(rt.Config.PhaseLogPath, id, "hooked");
                hooked = true;
            }
            ContainerRecord launching = record;
            (monitor, MonitorReport outcome) = rt.Host.Launch(new HelperLaunch(pod is null ? MonitorProcess.Verb : MemberProcess.Verb, [], id, console?.PeerPath,
                Path.Combine(runDir, "create.sock"), rt.Config.BootTimeout + TimeSpan.FromSeconds(60), "sandbox monitor")
            {
                PipeStdio = options.PipeStdio,
                NamespaceReady = pid => RunCreateHooks(launching with { MonitorPid = pid }),
            });
            record = record with
            {
                MonitorPid = monitor.Pid,
                MonitorStartTime = monitor.StartTime,
                GuestPid = outcome.GuestPid,
                SandboxRunDir = record.SandboxRunDir ?? outcome.VmRunDir,
                PoolVmPid = outcome.VmPid,
                PoolVmStartTime = outcome.VmStartTime,
            };
            rt.Store.Save(record);
            rt.Log.Debug($"create {id}: sandbox monitor {monitor.Pid}, container process {outcome.GuestPid} in the guest, stopped before exec"
                + (outcome.VmRunDir is null ? "" : $", in pooled vm {outcome.VmRunDir}"));
            if (rt.Config.PoolSize > 0 && pod is null)
            {
                rt.Host.RefillPool(rt.Config, rt.Log.Debug);
            }
            if (options.PidFile is not null)
            {
                PidFile.Write(options.PidFile, monitor.Pid);
            }
            var container = new Container(rt, record, loaded.Spec) { Monitor = monitor };
            if (!hooked)
            {
                RunCreateHooks(record);
            }
            PhaseLog.Mark(rt.Config.PhaseLogPath, id, "created");
            return container;
        }
        catch
        {
            if (monitor is not null)
            {
                monitor.Abandon(TimeSpan.FromSeconds(30));
                monitor.Dispose();
            }
            cgroups.Remove(hostCgroups, TimeSpan.FromSeconds(3));
            rt.Store.Remove(id, runDir);
            throw;
        }
        finally
        {
            held?.Dispose();
        }
    }

    public const string CriContainerTypeAnnotation = "io.kubernetes.cri.container-type";
    public const string CriSandboxIdAnnotation = "io.kubernetes.cri.sandbox-id";

    /// <summary>
    /// The pod sandbox container whose VM runs a CRI pod's other containers (ADR 0017): named by
    /// CRI's annotations and kept in this store; null for anything else (a sandbox, a container
    /// of a pod whose sandbox another runtime runs, a plain container).
    /// </summary>
    public static ContainerRecord? PodSandboxOf(ContainerRuntime rt, Oci.Spec.RuntimeSpec spec)
    {
        if (spec.Annotations is not { } a
            || !a.TryGetValue(CriContainerTypeAnnotation, out string? type) || type != "container"
            || !a.TryGetValue(CriSandboxIdAnnotation, out string? sandboxId) || string.IsNullOrEmpty(sandboxId))
        {
            return null;
        }
        ContainerIdValidator.Validate(sandboxId);
        if (!rt.Store.Exists(sandboxId))
        {
            return null;
        }
        ContainerRecord sandbox = rt.Store.Load(sandboxId);
        if (sandbox.SandboxId is not null)
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, $"pod sandbox {sandboxId} is itself a pod member");
        }
        ContainerStatus status = ContainerStore.StatusOf(sandbox, rt.Host.IsAlive, rt.Store.ExitRecorded(sandboxId));
        if (status is not (ContainerStatus.Created or ContainerStatus.Running))
        {
            throw new VmSandboxException(ErrorCode.FailedPrecondition, $"pod sandbox {sandboxId} is {status.ToString().ToLowerInvariant()}: its VM cannot take containers");
        }
        return sandbox;
    }

    /// <summary>runc's refusals of a terminal without a console socket and the reverse, before anything is created.</summary>
    private static void ThrowIfConsoleMisused(bool terminal, string? consoleSocket, bool detached)
    {
        if (terminal && consoleSocket is null && detached)
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, "cannot allocate tty if runc will detach without setting console socket");
        }
        if (!terminal && consoleSocket is not null)
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, "cannot use console socket if runc will not detach or allocate tty");
        }
        if (consoleSocket is not null && !File.Exists(consoleSocket))
        {
            throw new VmSandboxException(ErrorCode.NotFound, $"console socket {consoleSocket}: no such file or directory");
        }
    }

    /// <summary>
    /// The guest kernel and initramfs must exist before anything is created: without them the
    /// sandbox cannot boot, and Docker users see this line as the reason `docker run` failed.
    /// </summary>
    public static void RequireGuestImage(RuntimeConfig config)
    {
        foreach (string path in (string[])[config.KernelPath, config.InitrdPath])
        {
            if (!File.Exists(path))
            {
                throw new VmSandboxException(ErrorCode.HostMissing, $"vmsandbox guest image is not installed: {path} not found")
                {
                    Hint = "run `make install` in the VmSandbox source tree, or set guest.dir in " + RuntimeConfig.DefaultPath,
                };
            }
        }
    }
}
