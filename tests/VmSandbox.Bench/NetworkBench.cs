using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace VmSandbox.Bench;

/// <summary>
/// The container's network under each runtime, on the data path Docker's bridge gives it: a bridge
/// of ours on this machine (never a public address), a veth whose other end is the container's
/// eth0 in a network namespace made for it (as CNI and Docker make one; vmsandbox mirrors it into
/// the VM, ADR 0013). Debian's iperf3 serves in the container (`iperf3 -s`); the host's iperf3
/// measures TCP host → container and, with `-R`, container → host; busybox ping measures the
/// round trip host → container.
/// </summary>
public static class NetworkBench
{
    private const string Bridge = "vmsbbench0";
    private const string HostVeth = "vmsbbveth0";
    private const string HostAddress = "172.31.251.1";
    private const string ContainerAddress = "172.31.251.2";
    private const int Seconds = 5;
    private const int Pings = 50;

    public static void Run(StringBuilder doc, string vmsandbox)
    {
        doc.AppendLine("## Container network").AppendLine();
        if (!File.Exists("/usr/bin/iperf3"))
        {
            doc.AppendLine("Not measured: /usr/bin/iperf3 is missing (fix: `make setup`).").AppendLine();
            return;
        }
        string work = Directory.CreateTempSubdirectory("vmsb-bench-net-").FullName;
        bool bridgeMade = false;
        try
        {
            string rootfs = Path.Combine(work, "rootfs");
            string? failure = Failure(Program.Run("packaging/scripts/make-busybox-rootfs.sh", [rootfs], TimeSpan.FromMinutes(2)), "the busybox rootfs")
                ?? Failure(Program.Run("tests/fixtures/add-host-binaries.sh", [rootfs, "/usr/bin/iperf3"], TimeSpan.FromMinutes(1)), "iperf3 in the rootfs");
            if (failure is null)
            {
                if (Directory.Exists($"/sys/class/net/{Bridge}"))
                {
                    Ip(["link", "delete", Bridge]); // ours by name, left by a run that crashed
                }
                failure = Ip(["link", "add", Bridge, "type", "bridge"]);
                bridgeMade = failure is null;
                failure ??= Ip(["addr", "add", $"{HostAddress}/24", "dev", Bridge]) ?? Ip(["link", "set", Bridge, "up"]);
            }
            if (failure is not null)
            {
                doc.AppendLine(CultureInfo.InvariantCulture, $"Not measured: {failure}.").AppendLine();
                return;
            }
            doc.AppendLine(CultureInfo.InvariantCulture, $"One container per runtime whose process is `iperf3 -s` (Debian's iperf3 3.12 in a busybox rootfs), its eth0 a veth on a bridge")
                .AppendLine(CultureInfo.InvariantCulture, $"of the host's, as Docker's bridge network gives it. TCP: the host's `iperf3 -c` for {Seconds} s, one stream, the receiver's rate; host → container")
                .AppendLine(CultureInfo.InvariantCulture, $"as is, container → host with `-R`. Round trip: median of {Pings} pings (busybox, 56 bytes, 0.2 s apart) host → container.")
                .AppendLine(CultureInfo.InvariantCulture, $"For vmsandbox each frame crosses the namespace's veth, the tc redirect to the tap, QEMU's virtio-net and the guest's kernel ({Program.Accelerator()}, 1 vCPU).")
                .AppendLine();
            var rows = new List<Measured>();
            foreach ((string name, string? exe) in new[]
            {
                ("vmsandbox", File.Exists(vmsandbox) ? vmsandbox : null),
                ("runc", Program.Find("runc", "/usr/sbin/runc")),
            })
            {
                rows.Add(exe is null ? new Measured(name, null, null, null, "not installed") : Row(name, exe, work, rootfs));
            }
            Measured? runc = rows.Find(r => r.Name == "runc" && r.Failure is null);
            static string Cell(double? value, double? baseline, string format) =>
                value is not { } v ? "" : baseline is > 0 ? $"{v.ToString(format, CultureInfo.InvariantCulture)} ({(v / baseline.Value).ToString("F3", CultureInfo.InvariantCulture)}×)" : v.ToString(format, CultureInfo.InvariantCulture);
            doc.AppendLine("| runtime | host → container, Mbit/s (× runc) | container → host, Mbit/s (× runc) | ping round trip, ms (× runc) |").AppendLine("|---|---:|---:|---:|");
            foreach (Measured r in rows)
            {
                doc.AppendLine(r.Failure is not null
                    ? $"| {r.Name} | {r.Failure} | | |"
                    : $"| {r.Name} | {Cell(r.InMbits, runc?.InMbits, "F0")} | {Cell(r.OutMbits, runc?.OutMbits, "F0")} | {Cell(r.RttMs, runc?.RttMs, "F3")} |");
            }
            doc.AppendLine();
        }
        finally
        {
            if (bridgeMade)
            {
                Ip(["link", "delete", Bridge]);
            }
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>One runtime's results; <see cref="Failure"/> says why they are missing.</summary>
    private sealed record Measured(string Name, double? InMbits, double? OutMbits, double? RttMs, string? Failure);

    private static Measured Row(string name, string exe, string work, string rootfs)
    {
        string netns = $"vmsbbench-{name}-{Environment.ProcessId}";
        string id = $"net{Environment.ProcessId}";
        string root = Directory.CreateDirectory(Path.Combine(work, "state-" + name)).FullName;
        bool started = false;
        try
        {
            string? failure = Ip(["netns", "add", netns])
                ?? Ip(["link", "add", HostVeth, "type", "veth", "peer", "name", "eth0", "netns", netns])
                ?? Ip(["link", "set", HostVeth, "master", Bridge, "up"])
                ?? Ip(["-n", netns, "addr", "add", $"{ContainerAddress}/24", "dev", "eth0"])
                ?? Ip(["-n", netns, "link", "set", "eth0", "up"])
                ?? Ip(["-n", netns, "link", "set", "lo", "up"]);
            if (failure is not null)
            {
                return new Measured(name, null, null, null, failure);
            }
            string bundle = Bundle(work, name, rootfs, $"/run/netns/{netns}");
            string stdio = Path.Combine(work, name + "-stdio");
            File.WriteAllText(stdio, "");
            (int rc, _, _) = Program.Run(exe, ["--root", root, "run", "--detach", "--bundle", bundle, id], TimeSpan.FromMinutes(3), stdioFile: stdio);
            if (rc != 0)
            {
                return new Measured(name, null, null, null, $"failed: `run --detach` exited {rc}: {OneLine(File.ReadAllText(stdio))}");
            }
            started = true;
            // The server is up once one client gets through (the VM may still be booting); the
            // first, short run also warms both ends up.
            if (Iperf(["-t", "1"], TimeSpan.FromMinutes(2)) is null)
            {
                return new Measured(name, null, null, null, $"failed: iperf3 never reached the container: {OneLine(File.ReadAllText(stdio))}");
            }
            // A few tries each: on a loaded 2-core machine a TCG guest may miss one.
            double? inbound = Iperf(["-t", Seconds.ToString(CultureInfo.InvariantCulture)], TimeSpan.FromMinutes(2));
            double? outbound = Iperf(["-t", Seconds.ToString(CultureInfo.InvariantCulture), "-R"], TimeSpan.FromMinutes(2));
            return inbound is null || outbound is null
                ? new Measured(name, null, null, null, $"failed: iperf3 {(inbound is null ? "host → container" : "container → host")} never completed: {OneLine(File.ReadAllText(stdio))}")
                : new Measured(name, inbound, outbound, PingMedian(), null);
        }
        finally
        {
            if (started)
            {
                Program.Run(exe, ["--root", root, "delete", "--force", id], TimeSpan.FromMinutes(1));
            }
            // Not left to the namespace's end: a process of the sandbox may hold it a moment longer.
            Ip(["link", "delete", HostVeth]);
            Ip(["netns", "delete", netns]);
        }
    }

    /// <summary>
    /// The host's iperf3 client against the container, tried until <paramref name="limit"/>; the
    /// receiver's rate in Mbit/s, or null. Each try waits a moment first: `iperf3 -s` resets
    /// connections while it is still closing the previous test.
    /// </summary>
    private static double? Iperf(string[] args, TimeSpan limit)
    {
        DateTime deadline = DateTime.UtcNow + limit;
        do
        {
            Thread.Sleep(1000);
            (int rc, string stdout, string stderr) = Program.Run("/usr/bin/iperf3", ["-c", ContainerAddress, "-J", "--connect-timeout", "2000", .. args, .. args.Contains("-R") ? ["--rcv-timeout", "10000"] : Array.Empty<string>()], TimeSpan.FromSeconds(60));
            try
            {
                using var json = JsonDocument.Parse(stdout);
                // A failed run still prints JSON: its "error", and an "end" without sums.
                if (rc == 0 && json.RootElement.GetProperty("end").TryGetProperty("sum_received", out JsonElement sum))
                {
                    return sum.GetProperty("bits_per_second").GetDouble() / 1e6;
                }
                Console.Error.WriteLine($"bench: iperf3 {string.Join(' ', args)} exited {rc}: {(json.RootElement.TryGetProperty("error", out JsonElement e) ? e.GetString() : "no sums")}");
            }
            catch (Exception e) when (e is JsonException or KeyNotFoundException)
            {
                Console.Error.WriteLine($"bench: iperf3 {string.Join(' ', args)} exited {rc}: {OneLine(stderr)}");
            }
        }
        while (DateTime.UtcNow < deadline);
        return null;
    }

    /// <summary>Median of the replies' `time=… ms`; null if none came back.</summary>
    private static double? PingMedian()
    {
        (_, string stdout, _) = Program.Run("/bin/busybox", ["ping", "-c", Pings.ToString(CultureInfo.InvariantCulture), "-i", "0.2", "-W", "2", ContainerAddress], TimeSpan.FromMinutes(1));
        var times = stdout.Split('\n')
            .Select(l => l.IndexOf(" time=", StringComparison.Ordinal) is int at and >= 0 ? l[(at + 6)..].Split(' ')[0] : null)
            .Where(t => t is not null)
            .Select(t => double.Parse(t!, CultureInfo.InvariantCulture))
            .Order()
            .ToList();
        return times.Count == 0 ? null : Program.Median(times);
    }

    /// <summary>
    /// `vmsandbox spec`'s default with `iperf3 -s` in the given network namespace (iperf3 writes
    /// its buffers' file under /tmp); a test that stalls is given up after 10 s, and a server that
    /// got stuck restarts.
    /// </summary>
    private static string Bundle(string work, string name, string rootfs, string netns)
    {
        string dir = Directory.CreateDirectory(Path.Combine(work, name + "-iperf3")).FullName;
        JsonNode spec = JsonNode.Parse(Program.DefaultSpecJson())!;
        spec["root"]!["path"] = rootfs;
        spec["root"]!["readonly"] = false;
        spec["process"]!["terminal"] = false;
        spec["process"]!["args"] = new JsonArray("iperf3", "-s", "--rcv-timeout", "10000", "--idle-timeout", "30");
        foreach (JsonNode? ns in spec["linux"]!["namespaces"]!.AsArray())
        {
            if ((string?)ns!["type"] == "network")
            {
                ns["path"] = netns;
            }
        }
        File.WriteAllText(Path.Combine(dir, "config.json"), spec.ToJsonString());
        return dir;
    }

    /// <summary>`ip ARGS`; null when it worked, else what failed.</summary>
    private static string? Ip(string[] args) => Failure(Program.Run("/usr/sbin/ip", args, TimeSpan.FromSeconds(30)), $"ip {string.Join(' ', args)}");

    private static string? Failure((int Rc, string Stdout, string Stderr) r, string what) => r.Rc == 0 ? null : $"{what} failed: {OneLine(r.Stderr)}";

    private static string OneLine(string s) => s.Trim().Split('\n')[^1].Replace("|", "/", StringComparison.Ordinal);
}
