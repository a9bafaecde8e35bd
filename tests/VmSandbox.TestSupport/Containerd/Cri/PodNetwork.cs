using System.Net;
using System.Text.Json.Nodes;

namespace VmSandbox.TestSupport.Containerd.Cri;

/// <summary>
/// The CRI tests' own pod network: one CNI conflist (Debian's containernetworking-plugins in
/// /usr/lib/cni) with a `bridge` of a name no one else uses, the host as its gateway, no
/// masquerading, and host-local IPAM from a private /24 whose reservations live in the fixture's
/// directory. containerd's CRI adds the pod's `lo` itself (the loopback plugin from the same
/// bin_dir). What CNI makes outside our directory (the bridge, a veth per pod, the pods' netns
/// under /run/netns, libcni's result cache) is found and removed by <see cref="RemoveLeftovers"/>.
/// </summary>
public static class PodNetwork
{
    public const string NetworkName = "vmsbcri";
    public const string Bridge = "vmsbcri0";
    public const string Subnet = "10.231.7.0/24";
    public const string Gateway = "10.231.7.1";
    public const string BinDir = "/usr/lib/cni";

    private const string Ip = "/usr/bin/ip";
    private const string NetnsDir = "/run/netns";
    private const string CniResultCache = "/var/lib/cni/results";
    private static readonly TimeSpan s_ipTimeout = TimeSpan.FromSeconds(20);

    /// <summary>Whether <paramref name="address"/> is in <see cref="Subnet"/>.</summary>
    public static bool InSubnet(string address) =>
        IPAddress.TryParse(address, out IPAddress? ip) && IPNetwork.Parse(Subnet).Contains(ip);

    /// <summary>Writes the conflist into <paramref name="confDir"/> (CRI's conf_dir).</summary>
    public static void WriteConfig(string confDir, string ipamDataDir)
    {
        Directory.CreateDirectory(confDir);
        var conf = new JsonObject
        {
            ["cniVersion"] = "1.0.0",
            ["name"] = NetworkName,
            ["plugins"] = new JsonArray(
                new JsonObject
                {
                    ["type"] = "bridge",
                    ["bridge"] = Bridge,
                    ["isGateway"] = true,
                    ["ipMasq"] = false,
                    ["ipam"] = new JsonObject
                    {
                        ["type"] = "host-local",
                        ["ranges"] = new JsonArray(new JsonArray(new JsonObject { ["subnet"] = Subnet, ["gateway"] = Gateway })),
                        ["dataDir"] = ipamDataDir,
                    },
                },
                // Brings up the pod's lo (whatever CNI_IFNAME says) and passes the bridge's result on.
                new JsonObject { ["type"] = "loopback" }),
        };
        File.WriteAllText(Path.Combine(confDir, "10-vmsbcri.conflist"), conf.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>The host ends of the pods' veths: the bridge's ports.</summary>
    public static List<string> BridgePorts()
    {
        string brif = $"/sys/class/net/{Bridge}/brif";
        return Directory.Exists(brif) ? Directory.GetFileSystemEntries(brif).Select(p => Path.GetFileName(p)).ToList() : [];
    }

    public static bool InterfaceExists(string name) => Directory.Exists($"/sys/class/net/{name}");

    /// <summary>
    /// Network namespaces under /run/netns that hold an address of <see cref="Subnet"/>: pods of
    /// this network (a pod's netns is CRI's /run/netns/cni-UUID).
    /// </summary>
    public static async Task<List<string>> NamespacesInSubnetAsync()
    {
        var found = new List<string>();
        if (!Directory.Exists(NetnsDir))
        {
            return found;
        }
        foreach (string path in Directory.GetFiles(NetnsDir))
        {
            CommandResult addr = await ChildProcess.RunAsync(Ip, ["-n", Path.GetFileName(path), "-o", "-4", "addr", "show"], s_ipTimeout);
            if (addr.ExitCode == 0 && addr.Stdout.Split('\n').Any(l => AddressOf(l) is { } a && InSubnet(a)))
            {
                found.Add(path);
            }
        }
        return found;
    }

    /// <summary>
    /// Best effort, for the fixture (at start, for a crashed earlier run, and at the end): the
    /// given pod namespaces and any other in our subnet, the veths on our bridge, the bridge, and
    /// libcni's cached results for our network.
    /// </summary>
    public static async Task RemoveLeftovers(IEnumerable<string> knownNamespaces)
    {
        foreach (string ns in knownNamespaces.Union(await NamespacesInSubnetAsync()).Where(File.Exists))
        {
            _ = await ChildProcess.RunAsync(Ip, ["netns", "delete", Path.GetFileName(ns)], s_ipTimeout);
        }
        foreach (string port in BridgePorts())
        {
            _ = await ChildProcess.RunAsync(Ip, ["link", "delete", port], s_ipTimeout);
        }
        if (InterfaceExists(Bridge))
        {
            _ = await ChildProcess.RunAsync(Ip, ["link", "delete", Bridge], s_ipTimeout);
        }
        if (Directory.Exists(CniResultCache))
        {
            foreach (string cached in Directory.GetFiles(CniResultCache, NetworkName + "-*"))
            {
                File.Delete(cached);
            }
        }
    }

    /// <summary>The address of one `ip -o -4 addr` line ("2: eth0    inet 10.231.7.2/24 brd … scope global eth0 …").</summary>
    private static string? AddressOf(string line)
    {
        string[] f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        int inet = Array.IndexOf(f, "inet");
        return inet >= 0 && inet + 1 < f.Length ? f[inet + 1].Split('/')[0] : null;
    }
}
