using System.Diagnostics;
using VmSandbox.Common;
using VmSandbox.Oci;
using VmSandbox.Oci.HookRunning;
using VmSandbox.Oci.State;
using VmSandbox.Runtime.Config;
using VmSandbox.Runtime.Containers;
using VmSandbox.Runtime.Terminal;

namespace VmSandbox.Cli.Commands;

/// <summary>
/// `vmsandbox create [--bundle DIR] [--pid-file FILE] [--console-socket SOCK] [--no-pivot]
/// [--no-new-keyring] [--preserve-fds N] ID`: validates the bundle, claims the ID, starts the
/// sandbox monitor (detached; it boots the VM and has the agent create the container process,
/// blocked before exec), waits for its report, writes the monitor's PID to --pid-file.
/// Any failure leaves nothing: no monitor, VM, socket or state directory.
/// </summary>
public static class CreateCommand
{
    private static readonly string[] s_valueFlags = ["bundle|b", "pid-file", "console-socket", "preserve-fds"];
    private static readonly string[] s_boolFlags = ["no-pivot", "no-new-keyring", "detach|d", "keep", "no-subreaper"];

    public static int Run(ArgReader reader, LifecycleContext ctx)
    {
        VerbArgs args = VerbArgs.Parse(reader, "create", s_valueFlags, s_boolFlags);
        string id = LifecycleContext.SingleId(args.Positional, "create");
        using Process monitor = Create(ctx, id, args);
        return ExitCodes.Success;
    }

    /// <summary>Creates the container; returns the monitor process (our child) for `run` to wait on.</summary>
    /// <param name="foreground">`run` without --detach: a terminal may then be the caller's own (no console socket).</param>
    public static Process Create(LifecycleContext ctx, string id, VerbArgs args, bool foreground = false)
    {
        ContainerIdValidator.Validate(id);
        LoadedSpec loaded = SpecLoader.Load(args.Value("bundle") ?? ".");
        foreach (string warning in loaded.Warnings)
        {
            ctx.Log.Warn(warning);
        }
        if (loaded.Spec.Linux?.Namespaces?.Any(n => n.Type is "user" or "time") == true)
        {
            // Not refused: Docker's userns-remap and rootless set-ups send one. docs/oci.md says why.
            ctx.Log.Warn("user and time namespaces are not applied: the container's root is root of its own VM, which is the isolation boundary");
        }
        bool terminal = loaded.Spec.Process?.Terminal ?? false;
        string? consoleSocket = args.Value("console-socket");
        if (terminal && consoleSocket is null && !foreground)
        {
            // runc compat: the same refusal, before anything is created.
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
        SeccompNotify.ThrowIfRequested(loaded.Spec.Linux?.Seccomp);
        Runtime.Network.NetworkNamespacePolicy.ThrowIfUnsupported(loaded.Spec, Runtime.Network.NetworkNamespacePolicy.SameNamespace);
        RequireGuestImage(ctx.Config);
        // runc's order: an ID in use is refused before the cgroup is looked at (the other
        // container's processes would otherwise read as a non-empty cgroup first). Claim, below,
        // is the atomic check.
        if (Directory.Exists(ctx.Store.DirOf(id)))
        {
            throw new VmSandboxException(ErrorCode.AlreadyExists, $"container with id exists: {id}");
        }
        IReadOnlyList<string> hostCgroups = HostCgroup.Resolve(loaded.Spec.Linux?.CgroupsPath, id, ctx.Options.SystemdCgroup, File.ReadLines("/proc/self/mountinfo"), File.ReadLines("/proc/self/cgroup"));
        HostCgroup.ThrowIfFrozen(hostCgroups);
        if (HostCgroup.CountProcesses(hostCgroups) is > 0 and int found)
        {
            ctx.Log.Warn($"container's cgroup is not empty: {found} process(es) found");
        }

        string dir = ctx.Store.Claim(id);
        string runDir = ctx.Store.RunDirOf(id);
        Process? monitor = null;
        try
        {
            if (Directory.Exists(runDir))
            {
                Directory.Delete(runDir, recursive: true); // a stale sandbox of a container that was never deleted
            }
            Directory.CreateDirectory(runDir);
            File.Copy(loaded.ConfigPath, Path.Combine(dir, ContainerStore.ConfigCopy));
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
            };
            ctx.Store.Save(record);

            // Held open until the monitor has opened the pty too (it reports after that).
            using ConsolePty? console = consoleSocket is null ? null : ConsoleSetup.SendNewPty(consoleSocket, loaded.Spec.Process?.ConsoleSize);
            string? ttyPath = console?.PeerPath;
            using var report = new ReportChannel(Path.Combine(runDir, "create.sock"));
            monitor = HelperProcess.Start(ctx, [MonitorCommand.Verb, "--report", report.Path], id, ttyPath);
            MonitorReport outcome = report.Await(monitor, ctx.Config.BootTimeout + TimeSpan.FromSeconds(60), "sandbox monitor");
            if (outcome.Error is not null)
            {
                monitor.WaitForExit(TimeSpan.FromSeconds(30));
                throw new VmSandboxException(Enum.TryParse(outcome.Code, out ErrorCode code) ? code : ErrorCode.Internal, outcome.Error);
            }
            record = record with
            {
                MonitorPid = monitor.Id,
                MonitorStartTime = ProcessProbe.StartTime(monitor.Id) ?? 0,
                GuestPid = outcome.GuestPid,
            };
            ctx.Store.Save(record);
            ctx.Log.Debug($"create {id}: sandbox monitor {monitor.Id}, container process {outcome.GuestPid} in the guest, stopped before exec");
            if (args.Value("pid-file") is { } pidFile)
            {
                WritePidFile(pidFile, monitor.Id);
            }
            HookPhase.Run(ctx, record, loaded.Spec.Hooks, HookKind.Prestart, ContainerStatus.Created);
            HookPhase.Run(ctx, record, loaded.Spec.Hooks, HookKind.CreateRuntime, ContainerStatus.Created);
            // Its path resolves in the runtime's namespace, so on the host, as createRuntime (docs/oci.md).
            HookPhase.Run(ctx, record, loaded.Spec.Hooks, HookKind.CreateContainer, ContainerStatus.Created);
            return monitor;
        }
        catch
        {
            if (monitor is not null && !monitor.HasExited)
            {
                monitor.Kill();
                monitor.WaitForExit(TimeSpan.FromSeconds(30));
            }
            monitor?.Dispose();
            HostCgroup.Remove(hostCgroups, TimeSpan.FromSeconds(3));
            ctx.Store.Remove(id, runDir);
            throw;
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

    /// <summary>runc compat: written atomically (temp file + rename), no newline.</summary>
    public static void WritePidFile(string path, int pid)
    {
        string full = Path.GetFullPath(path);
        string tmp = Path.Combine(Path.GetDirectoryName(full)!, "." + Path.GetFileName(full));
        File.WriteAllText(tmp, pid.ToString(System.Globalization.CultureInfo.InvariantCulture));
        File.Move(tmp, full, overwrite: true);
    }
}
