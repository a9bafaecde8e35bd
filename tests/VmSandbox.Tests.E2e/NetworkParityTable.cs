using System.Globalization;
using System.Net;
using System.Net.Sockets;
using static VmSandbox.Tests.E2e.DockerSession;

namespace VmSandbox.Tests.E2e;

/// <summary>
/// Networking rows of the runc-parity table (the networking issue): each observed under runc and
/// under vmsandbox on the same daemon. All traffic stays on this machine: the test bridge, user
/// networks the rows create, loopback; name lookups go to Docker's embedded DNS and to a
/// responder the row runs, never to the host's resolver.
/// </summary>
public static class NetworkParityTable
{
    private static readonly TimeSpan s_serverWait = TimeSpan.FromSeconds(90);

    public static readonly ParityRow[] Rows =
    [
        new("network: fetches a page from a server on the bridge gateway", async s =>
        {
            await using var servers = new TestServers();
            int port = servers.Http(IPAddress.Parse(DockerDaemon.BridgeGateway), "from-host");
            return Show(await s.Run("wget", "-q", "-O", "-", $"http://{DockerDaemon.BridgeGateway}:{port}/"));
        }, "exit=0 out=from-host err="),
        new("network: --network none has lo with 127.0.0.1 and nothing else", async s =>
            Show(await s.Run("--network", "none", "--", "sh", "-c", "ip -o -4 addr | awk '{print $2, $4}'; ls /sys/class/net")),
            "exit=0 out=lo 127.0.0.1/8\nlo err="),
        new("network: eth0 has the address, broadcast, MAC, MTU and gateway Docker gave it", async s =>
        {
            string net = await s.Network("v4", "--subnet", "10.213.5.0/24", "--gateway", "10.213.5.1");
            return Show(await s.Run("--network", net, "--ip", "10.213.5.7", "--mac-address", "02:42:0a:d5:05:07", "--", "sh", "-c",
                "ip -o -4 addr show eth0 | awk '{print $4, $6}'; cat /sys/class/net/eth0/address /sys/class/net/eth0/mtu; ip route | awk '/^default/ {print $3}'; ip -o link | wc -l"));
        }, "exit=0 out=10.213.5.7/24 10.213.5.255\n02:42:0a:d5:05:07\n1500\n10.213.5.1\n2 err="),
        new("network: an IPv6 network gives eth0 its IPv6 address and default route", async s =>
        {
            string net = await s.Network("v6", "--ipv6", "--subnet", "10.213.6.0/24", "--subnet", "fd00:213:6::/64");
            return Show(await s.Run("--network", net, "--ip6", "fd00:213:6::7", "--", "sh", "-c",
                "ip -o -6 addr show eth0 scope global | awk '{print $4}'; ip -6 route | awk '/^default/ {print $3}'"));
        }, "exit=0 out=fd00:213:6::7/64\nfd00:213:6::1 err="),
        new("network: -p 127.0.0.1:PORT:80 reaches a server in the container from the host", async s =>
        {
            int port = FreeLoopbackPort();
            string id = await s.Detached("-p", $"127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}:80", "--",
                "sh", "-c", "mkdir -p /www && echo from-container > /www/index.html && exec httpd -f -p 80 -h /www");
            string body = await FetchAsync($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}/", s_serverWait);
            _ = await s.Docker("rm", "-f", id);
            return body.Trim();
        }, "from-container"),
        new("network: containers on a user network reach each other by name and by alias", async s =>
        {
            string net = await s.Network("names");
            string server = $"vmsb-{s.Runtime}-srv";
            _ = await s.Docker("rm", "-f", server);
            _ = await s.Detached("--name", server, "--network", net, "--network-alias", $"web-{s.Runtime}", "--",
                "sh", "-c", "mkdir -p /www && echo from-server > /www/index.html && exec httpd -f -p 80 -h /www");
            CommandResult r = await s.Run("--network", net, "--", "sh", "-c",
                $"for i in $(seq 1 60); do wget -q -O - http://{server}/ && break; sleep 1; done; wget -q -O - http://web-{s.Runtime}/");
            return Show(r);
        }, "exit=0 out=from-server\nfrom-server err="),
        new("network: docker network connect adds eth1 to a running container", async s =>
        {
            string first = await s.Network("first", "--subnet", "10.213.8.0/24");
            string second = await s.Network("second", "--subnet", "10.213.9.0/24", "--gateway", "10.213.9.1");
            string id = await s.Detached("--network", first, "--", "sleep", "300");
            // Running (its process started) before the connect, as with a container in service.
            _ = await s.WaitFor(id, "{{.State.Running}}", "true", s_serverWait);
            CommandResult connect = await s.Docker("network", "connect", "--ip", "10.213.9.7", second, id);
            if (connect.ExitCode != 0)
            {
                return Show(connect);
            }
            return Show(await s.Docker("exec", id, "sh", "-c",
                "for i in $(seq 1 30); do ip -o -4 addr show eth1 2>/dev/null | grep -q inet && break; sleep 1; done; " +
                "ip -o -4 addr show eth1 | awk '{print $2, $4}'; ping -c 1 -W 5 10.213.9.1 >/dev/null && echo gateway answers"));
        }, "exit=0 out=eth1 10.213.9.7/24\ngateway answers err="),
        new("network: the embedded DNS forwards a name the test's resolver serves", async s =>
        {
            string net = await s.Network("dns", "--subnet", "10.213.7.0/24", "--gateway", "10.213.7.1");
            await using var servers = new TestServers();
            servers.Dns(IPAddress.Parse("10.213.7.1"));
            return Show(await s.Run("--network", net, "--dns", "10.213.7.1", "--", "sh", "-c",
                $"nslookup {TestServers.DnsName} | awk '/^Address/ {{a=$2}} END {{print a}}'"));
        }, $"exit=0 out={TestServers.DnsAddress} err="),
    ];

    private static int FreeLoopbackPort()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }

    /// <summary>GETs <paramref name="url"/> until it answers (the server starts with its VM), bounded in time.</summary>
    private static async Task<string> FetchAsync(string url, TimeSpan limit)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        DateTime deadline = DateTime.UtcNow + limit;
        string last = "";
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                return await http.GetStringAsync(new Uri(url));
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                last = e.Message;
                await Task.Delay(500);
            }
        }
        return $"no answer within {limit.TotalSeconds:F0}s: {last}";
    }
}
