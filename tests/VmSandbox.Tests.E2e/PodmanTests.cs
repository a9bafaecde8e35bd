using System.Net;
using System.Net.Sockets;
using Xunit;

namespace VmSandbox.Tests.E2e;

/// <summary>
/// podman (conmon drives the runtime's create, start, exec, kill and delete) with vmsandbox on
/// podman's default bridge network: one VM boot. Traffic stays on this machine: the published
/// port on 127.0.0.1 and podman's bridge.
/// </summary>
public sealed class PodmanTests
{
    [Fact(Timeout = DockerDaemon.TestTimeoutMs)]
    public async Task Podman_publishes_a_server_execs_copies_and_leaves_nothing_after_rm()
    {
        string page = $"vmsandbox under podman {Guid.NewGuid():N}";
        await using PodmanHost podman = await PodmanHost.StartAsync(page);
        int port = FreeLoopbackPort();
        string name = "vmsb-pm-" + Guid.NewGuid().ToString("N")[..8];

        string id = await podman.OkAsync("run", "--detach", "--name", name, "--publish", $"127.0.0.1:{port}:80", PodmanHost.Image,
            "sh", "-c", "echo serving; exec httpd -f -p 80 -h /www");

        // The host reaches the server in the VM: 127.0.0.1 -> podman's DNAT -> bridge -> veth -> tap -> guest.
        Assert.Equal(page, await GetAsync(port));
        string address = await podman.OkAsync("inspect", "--format", "{{.NetworkSettings.IPAddress}}", name);
        Assert.True(IPAddress.TryParse(address, out _), $"no address on the default network: \"{address}\"");
        Assert.Contains($"inet {address}/", await podman.OkAsync("exec", name, "ip", "addr", "show", "eth0"), StringComparison.Ordinal);

        // exec: output and exit status.
        Assert.Equal(page, await podman.OkAsync("exec", name, "cat", "/www/index.html"));
        CommandResult failing = await podman.PodmanAsync(["exec", name, "sh", "-c", "exit 7"]);
        Assert.Equal(7, failing.ExitCode);
        Assert.Contains("serving", await podman.OkAsync("logs", name), StringComparison.Ordinal);

        // podman cp on a running container goes through /proc/PID/ns/mnt of the monitor: it must
        // reach the container's root in both directions, never the host's.
        string file = "vmsb-pm-cp-" + Guid.NewGuid().ToString("N")[..8];
        string source = Path.Combine(podman.Scratch, file);
        File.WriteAllText(source, "copied in");
        _ = await podman.OkAsync("cp", source, $"{name}:/tmp/{file}");
        Assert.False(File.Exists($"/tmp/{file}"), $"podman cp wrote the host's /tmp/{file}");
        Assert.Equal("copied in", await podman.OkAsync("exec", name, "cat", $"/tmp/{file}"));
        _ = await podman.OkAsync("exec", name, "sh", "-c", $"echo copied out > /tmp/{file}.out");
        string back = Path.Combine(podman.Scratch, file + ".out");
        _ = await podman.OkAsync("cp", $"{name}:/tmp/{file}.out", back);
        Assert.Equal("copied out", File.ReadAllText(back).Trim());

        // What the container leaves on the host, noted while it runs.
        int monitor = int.Parse(await podman.OkAsync("inspect", "--format", "{{.State.Pid}}", name), System.Globalization.CultureInfo.InvariantCulture);
        string netns = await podman.OkAsync("inspect", "--format", "{{.NetworkSettings.SandboxKey}}", name);
        Dictionary<int, string> sandbox = DescendantsOf(monitor);
        Assert.Contains(sandbox.Values, c => c.Contains("qemu-system", StringComparison.Ordinal));
        string stateDir = Path.Combine(RuntimeRootOf(sandbox[monitor]), id);
        Assert.True(Directory.Exists(stateDir), $"{stateDir}: no runtime state where the monitor's --root says");
        Assert.True(File.Exists(netns), $"{netns}: podman's network namespace is not where inspect says");

        _ = await podman.OkAsync("rm", "--force", "--time", "0", name);

        Assert.Empty(sandbox.Where(p => CmdlineOf(p.Key) == p.Value).Select(p => $"{p.Key}: {p.Value}"));
        Assert.False(Directory.Exists(stateDir), $"{stateDir} left after rm");
        Assert.False(File.Exists(netns), $"{netns} left after rm");
        // cgroupfs: <controller>/libpod_parent/libpod-ID (v1) or libpod_parent/libpod-ID (v2).
        var cgroups = new EnumerationOptions { RecurseSubdirectories = true, MaxRecursionDepth = 2, IgnoreInaccessible = true };
        Assert.Empty(Directory.EnumerateDirectories("/sys/fs/cgroup", $"*{id}*", cgroups));
        Assert.Empty((await podman.OkAsync("ps", "--all", "--quiet")).Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    private static async Task<string> GetAsync(int port)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        Exception? last = null;
        for (int attempt = 0; attempt < 30; attempt++)
        {
            try
            {
                return await http.GetStringAsync(new Uri($"http://127.0.0.1:{port}/index.html"));
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                last = e;
                await Task.Delay(TimeSpan.FromSeconds(1));
            }
        }
        throw new TimeoutException($"127.0.0.1:{port} did not answer in 30 tries", last);
    }

    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>The process and all below it (QEMU, virtiofsd), by PID, with their command lines.</summary>
    private static Dictionary<int, string> DescendantsOf(int root)
    {
        var parents = new Dictionary<int, int>();
        foreach (string dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), out int pid))
            {
                try
                {
                    string stat = File.ReadAllText(Path.Combine(dir, "stat"));
                    // pid (comm) state ppid …: comm may hold spaces and parentheses.
                    parents[pid] = int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
                }
                catch (IOException)
                {
                }
            }
        }
        var found = new Dictionary<int, string> { [root] = CmdlineOf(root) };
        for (bool grew = true; grew;)
        {
            grew = false;
            foreach ((int pid, int parent) in parents)
            {
                if (found.ContainsKey(parent) && !found.ContainsKey(pid))
                {
                    found[pid] = CmdlineOf(pid);
                    grew = true;
                }
            }
        }
        return found;
    }

    private static string CmdlineOf(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ').Trim();
        }
        catch (IOException)
        {
            return "";
        }
    }

    /// <summary>The runtime root podman gave vmsandbox (`--root DIR` before the verb).</summary>
    private static string RuntimeRootOf(string monitorCmdline)
    {
        string[] words = monitorCmdline.Split(' ');
        int at = Array.IndexOf(words, "--root");
        Assert.True(at >= 0 && at + 1 < words.Length, $"no --root in the monitor's command line: {monitorCmdline}");
        return words[at + 1];
    }
}
