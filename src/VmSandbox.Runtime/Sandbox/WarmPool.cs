using System.Globalization;
using VmSandbox.Common;
using VmSandbox.Oci.Spec;
using VmSandbox.Runtime.Config;
using VmSandbox.Runtime.Containers;

namespace VmSandbox.Runtime.Sandbox;

/// <summary>One pooled VM as its directory shows it.</summary>
/// <param name="Dir">STATE/.pool/NAME: its sockets, the share, the files below</param>
/// <param name="Pid">its <see cref="PoolVm"/> process (0: not written yet)</param>
/// <param name="Claimed">the container that took it, or null</param>
public sealed record PoolEntry(string Dir, int Pid, ulong StartTime, string Shape, string? Claimed)
{
    public string Name => Path.GetFileName(Dir);

    /// <summary>Booted and waiting: its control socket exists only once the agent answered.</summary>
    public bool Ready => Claimed is null && File.Exists(Path.Combine(Dir, MonitorControl.FileName));

    public bool Alive => Pid > 0 && ProcessProbe.IsAlive(Pid, StartTime);
}

/// <summary>A pooled VM a container took: where its sockets are and whose process holds it.</summary>
public sealed record PoolClaim(string Dir, int Pid, ulong StartTime);

/// <summary>
/// The warm pool (ADR 0018): VMs booted ahead of time, each held by a <see cref="PoolVm"/>
/// process in a network namespace of its own, under <c>STATE/.pool/</c>. A container whose VM
/// would look exactly like a pooled one (same config, default size, a new network namespace)
/// takes one instead of booting: its monitor claims it on the pooled VM's control socket, joins
/// its network namespace (which becomes the container's) and has its agent create the container
/// there. A pooled VM serves one container and ends with it; <see cref="Refill"/> boots its
/// replacement. Off unless <c>pool.size</c> is set.
/// </summary>
public static class WarmPool
{
    public const string PidFile = "pid";
    public const string ShapeFile = "shape";
    public const string ClaimedFile = "claimed";

    /// <summary>The claim verb on a pooled VM's control socket: "claim PID ID ROOT" (ROOT last: it may hold spaces).</summary>
    public const string ClaimVerb = "claim";

    public static string Root(RuntimeConfig config) => Path.Combine(config.StateRoot, ".pool");

    /// <summary>
    /// What a VM booted with <paramref name="config"/> is: a claimant takes only a VM of its own
    /// config's shape, so a new kernel, QEMU or size never serves a container from an old VM.
    /// </summary>
    public static string Shape(RuntimeConfig config)
    {
        string Stamp(string path) => File.Exists(path) ? File.GetLastWriteTimeUtc(path).Ticks.ToString(CultureInfo.InvariantCulture) : "-";
        string text = string.Join("\n",
            config.QemuPath, Stamp(config.QemuPath), config.VirtiofsdPath, config.KernelPath, Stamp(config.KernelPath),
            config.InitrdPath, Stamp(config.InitrdPath), config.Accel.ToString(), config.Machine.ToString(),
            config.MachineAuto.ToString(), config.MemoryMiB.ToString(CultureInfo.InvariantCulture),
            config.Vcpus.ToString(CultureInfo.InvariantCulture), config.TcgCacheMiB.ToString(CultureInfo.InvariantCulture),
            config.KernelParams, config.BootTimeout.TotalSeconds.ToString(CultureInfo.InvariantCulture),
            Hypervisor.Qemu.QemuCommandLine.TcgCpu); // a pooled VM of an older CPU model (with PCID, ADR 0002) serves no one
        return Sha256.HexPrefix(text, 16);
    }

    /// <summary>
    /// Why a container with <paramref name="spec"/> cannot take a pooled VM, or null when it can:
    /// the pool is on, the container asks for a new network namespace (a pooled VM brings its own;
    /// one named by path, CNI's or podman's, is already wired for a VM booted in it), and its VM
    /// would get the pool's size.
    /// </summary>
    public static string? Unfit(RuntimeSpec spec, RuntimeConfig config)
    {
        if (config.PoolSize == 0)
        {
            return "the warm pool is off (pool.size 0)";
        }
        LinuxNamespace? net = spec.Linux?.Namespaces?.FirstOrDefault(n => n.Type == "network");
        if (net is null)
        {
            return "the container shares the host's network namespace";
        }
        if (!string.IsNullOrEmpty(net.Path))
        {
            return $"the container's network namespace is given ({net.Path})";
        }
        (int memory, int vcpus) = SandboxPlan.Size(SandboxPlan.PodResources(spec) ?? spec.Linux?.Resources, config);
        if (memory != config.MemoryMiB || vcpus != config.Vcpus)
        {
            return $"its VM needs {memory} MiB and {vcpus} vCPU(s), pooled VMs have {config.MemoryMiB} MiB and {config.Vcpus}";
        }
        return null;
    }

    /// <summary>The pool's VMs, as their directories say (a missing or half-written file reads as not ready).</summary>
    public static List<PoolEntry> List(RuntimeConfig config)
    {
        string root = Root(config);
        if (!Directory.Exists(root))
        {
            return [];
        }
        var entries = new List<PoolEntry>();
        foreach (string dir in Directory.EnumerateDirectories(root).Order(StringComparer.Ordinal))
        {
            string[] pid = ReadText(Path.Combine(dir, PidFile)).Split(' ', StringSplitOptions.RemoveEmptyEntries);
            int.TryParse(pid.ElementAtOrDefault(0), NumberStyles.None, CultureInfo.InvariantCulture, out int p);
            ulong.TryParse(pid.ElementAtOrDefault(1), NumberStyles.None, CultureInfo.InvariantCulture, out ulong start);
            string claimed = ReadText(Path.Combine(dir, ClaimedFile)).Trim();
            entries.Add(new PoolEntry(dir, p, start, ReadText(Path.Combine(dir, ShapeFile)).Trim(), claimed.Length > 0 ? claimed : null));
        }
        return entries;
    }

    /// <summary>
    /// Claims a ready pooled VM of this config's shape for container <paramref name="id"/> of
    /// the store at <paramref name="storeRoot"/>, on behalf of the calling process (its monitor,
    /// whose end ends the VM). Null when none is ready; a VM another caller took first is skipped.
    /// </summary>
    public static PoolClaim? TryClaim(RuntimeConfig config, string storeRoot, string id, Action<string> log)
    {
        string shape = Shape(config);
        foreach (PoolEntry entry in List(config).Where(e => e.Ready && e.Shape == shape && e.Alive))
        {
            try
            {
                MonitorControl.Request(entry.Dir, new PoolClaimRequest(Environment.ProcessId, id, storeRoot).Format(), TimeSpan.FromSeconds(30));
                return new PoolClaim(entry.Dir, entry.Pid, entry.StartTime);
            }
            catch (VmSandboxException e)
            {
                log($"warm pool: {entry.Name}: {e.Message}");
            }
        }
        return null;
    }

    /// <summary>
    /// Starts as many pooled VMs as <c>pool.size</c> asks for beyond those ready or booting, with
    /// <paramref name="start"/> (which starts <c>__pool-vm DIR</c> detached); removes the
    /// directories of pooled VMs whose process is gone. Returns how many it started.
    /// </summary>
    public static int Refill(RuntimeConfig config, Action<string> start, Action<string> log)
    {
        string shape = Shape(config);
        int have = 0;
        foreach (PoolEntry entry in List(config))
        {
            if (!entry.Alive)
            {
                // A directory younger than a few seconds may be one whose process is starting.
                if (entry.Pid > 0 || Directory.GetCreationTimeUtc(entry.Dir) < DateTime.UtcNow - TimeSpan.FromSeconds(30))
                {
                    RemoveDir(entry.Dir, log);
                }
                else
                {
                    have++;
                }
                continue;
            }
            if (entry.Claimed is null && (entry.Shape == shape || entry.Shape.Length == 0))
            {
                have++;
            }
            else if (entry.Claimed is null && Interop.ProcessCalls.Kill(entry.Pid, 15))
            {
                // Booted from another config (an older guest image, another size): no claimant takes it.
                log($"warm pool: {entry.Name} is of another config; ending it");
            }
        }
        int started = 0;
        for (; have + started < config.PoolSize; started++)
        {
            string dir = Path.Combine(Root(config), Convert.ToHexStringLower(Interop.KernelRandom.Bytes(8)));
            Directory.CreateDirectory(Root(config));
            File.SetUnixFileMode(Root(config), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            Directory.CreateDirectory(dir);
            start(dir);
        }
        return started;
    }

    /// <summary>
    /// Ends the pool's unclaimed VMs (SIGTERM: each stops its VM and removes its directory) and
    /// waits up to <paramref name="wait"/> for them; claimed ones belong to their containers.
    /// Returns how many it ended.
    /// </summary>
    public static int Drain(RuntimeConfig config, TimeSpan wait, Action<string> log)
    {
        var ending = new List<PoolEntry>();
        foreach (PoolEntry entry in List(config).Where(e => e.Claimed is null))
        {
            if (entry.Alive && Interop.ProcessCalls.Kill(entry.Pid, 15))
            {
                ending.Add(entry);
            }
            else if (!entry.Alive)
            {
                RemoveDir(entry.Dir, log);
            }
        }
        DateTime deadline = DateTime.UtcNow + wait;
        foreach (PoolEntry entry in ending)
        {
            while (entry.Alive && DateTime.UtcNow < deadline)
            {
                Thread.Sleep(20);
            }
            if (entry.Alive)
            {
                log($"warm pool: {entry.Name} did not stop; killing it");
                Interop.ProcessCalls.Kill(entry.Pid, 9);
                for (int i = 0; i < 250 && entry.Alive; i++)
                {
                    Thread.Sleep(20);
                }
            }
            RemoveDir(entry.Dir, log);
        }
        return ending.Count;
    }

    private static void RemoveDir(string dir, Action<string> log)
    {
        try
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            log($"warm pool: remove {dir}: {e.Message}");
        }
    }

    private static string ReadText(string path)
    {
        try
        {
            return File.Exists(path) ? File.ReadAllText(path) : "";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }
}
