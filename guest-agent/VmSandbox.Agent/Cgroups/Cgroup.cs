using System.Globalization;
using VmSandbox.Agent.Protocol;
using VmSandbox.Common;
using VmSandbox.Interop;
using VmSandbox.Oci.Spec;

namespace VmSandbox.Agent.Cgroups;

/// <summary>
/// One container's cgroup v2 directory, /sys/fs/cgroup/vmsandbox/&lt;id&gt;: created with the
/// cpu, memory, pids, io (and cpuset) controllers enabled above it, limits written from
/// linux.resources (devices through an eBPF filter), processes added by pid, frozen and thawed,
/// read for stats, removed at the end.
/// </summary>
public sealed class Cgroup
{
    public const string Root = "/sys/fs/cgroup";
    public const string Parent = Root + "/vmsandbox";

    private static readonly string[] s_controllers = ["cpu", "memory", "pids", "io", "cpuset"];

    public Cgroup(string path)
    {
        Path = path;
    }

    public string Path { get; }

    /// <summary>Creates the cgroup of container <paramref name="id"/> (an existing one is reused).</summary>
    public static Cgroup Create(string id)
    {
        Directory.CreateDirectory(Parent);
        EnableControllers(Root);
        EnableControllers(Parent);
        string path = System.IO.Path.Combine(Parent, id);
        Directory.CreateDirectory(path);
        return new Cgroup(path);
    }

    // A controller the kernel lacks is skipped: its limits then fail when written, with the file named.
    private static void EnableControllers(string dir)
    {
        string available;
        try
        {
            available = File.ReadAllText(System.IO.Path.Combine(dir, "cgroup.controllers"));
        }
        catch (IOException)
        {
            return;
        }
        string[] have = available.Split([' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
        foreach (string c in s_controllers)
        {
            if (have.Contains(c))
            {
                TryWrite(System.IO.Path.Combine(dir, "cgroup.subtree_control"), "+" + c);
            }
        }
    }

    public void Apply(LinuxResources? resources)
    {
        foreach (var (file, value) in CgroupResources.ToFiles(resources))
        {
            Write(file, value);
        }
    }

    /// <summary>
    /// Attaches the device filter for <paramref name="rules"/> (the spec's, runc's defaults
    /// appended: <see cref="DeviceFilter"/>): cgroup v2 has no devices.allow file.
    /// </summary>
    public void ApplyDevices(IReadOnlyList<LinuxResources.DeviceRule>? rules)
    {
        byte[] program = DeviceFilter.Compile(DeviceFilter.Effective(rules));
        using SafeFd loaded = Bpf.LoadProgram(Bpf.BPF_PROG_TYPE_CGROUP_DEVICE, program, Bpf.BPF_CGROUP_DEVICE);
        using SafeFd dir = SafeFd.Open(Path, FileSystemCalls.O_RDONLY | FileSystemCalls.O_DIRECTORY | FileSystemCalls.O_CLOEXEC);
        Bpf.Attach(dir, loaded, Bpf.BPF_CGROUP_DEVICE, Bpf.BPF_F_ALLOW_MULTI);
    }

    public void AddProcess(int pid) => Write("cgroup.procs", pid.ToString(CultureInfo.InvariantCulture));

    public IReadOnlyList<int> Processes()
    {
        var pids = new List<int>();
        foreach (string line in Read("cgroup.procs").Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (int.TryParse(line, NumberStyles.None, CultureInfo.InvariantCulture, out int pid))
            {
                pids.Add(pid);
            }
        }
        return pids;
    }

    /// <summary>Freezes (or thaws) every process and waits until the kernel reports it done.</summary>
    public void Freeze(bool frozen, TimeSpan timeout)
    {
        Write("cgroup.freeze", frozen ? "1" : "0");
        string want = frozen ? "frozen 1" : "frozen 0";
        var deadline = DateTime.UtcNow + timeout;
        while (!Read("cgroup.events").Split('\n').Contains(want))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new VmSandboxException(ErrorCode.Timeout, $"{(frozen ? "freeze" : "thaw")} cgroup {Path}: not done after {timeout.TotalSeconds:F0} s");
            }
            Thread.Sleep(10);
        }
    }

    /// <summary>SIGKILLs every process of the cgroup (cgroup.kill, Linux 5.14+); false if the file is missing.</summary>
    public bool KillAll() => TryWrite(System.IO.Path.Combine(Path, "cgroup.kill"), "1");

    public StatsResponse Stats()
    {
        var memoryStat = CgroupStatsParser.FlatKeyed(TryRead("memory.stat"));
        var events = CgroupStatsParser.FlatKeyed(TryRead("memory.events"));
        var response = new StatsResponse
        {
            Cpu = CgroupStatsParser.Cpu(TryRead("cpu.stat")),
            Memory = new MemoryStats
            {
                UsageBytes = CgroupStatsParser.Single(TryRead("memory.current")),
                LimitBytes = CgroupStatsParser.Single(TryRead("memory.max")),
                SwapUsageBytes = CgroupStatsParser.Single(TryRead("memory.swap.current")),
                AnonBytes = memoryStat.GetValueOrDefault("anon"),
                FileBytes = memoryStat.GetValueOrDefault("file"),
                OomKills = events.GetValueOrDefault("oom_kill"),
            },
            Pids = new PidsStats
            {
                Current = CgroupStatsParser.Single(TryRead("pids.current")),
                Limit = CgroupStatsParser.Single(TryRead("pids.max")),
            },
        };
        response.Io.AddRange(CgroupStatsParser.Io(TryRead("io.stat")));
        return response;
    }

    /// <summary>Removes the directory once it has no processes left; retries while they die.</summary>
    public void Remove(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            try
            {
                Directory.Delete(Path);
                return;
            }
            catch (DirectoryNotFoundException)
            {
                return;
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                Thread.Sleep(20);
            }
            catch (IOException)
            {
                throw new VmSandboxException(ErrorCode.System, $"remove cgroup {Path}: still busy");
            }
        }
    }

    private void Write(string file, string value)
    {
        string full = System.IO.Path.Combine(Path, file);
        try
        {
            File.WriteAllText(full, value);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, $"write {full} = {value}: rejected by the kernel");
        }
    }

    private string Read(string file)
    {
        string full = System.IO.Path.Combine(Path, file);
        try
        {
            return File.ReadAllText(full);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new VmSandboxException(ErrorCode.System, $"read {full}: failed");
        }
    }

    private string TryRead(string file)
    {
        try
        {
            return File.ReadAllText(System.IO.Path.Combine(Path, file));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }

    private static bool TryWrite(string path, string value)
    {
        try
        {
            File.WriteAllText(path, value);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}
