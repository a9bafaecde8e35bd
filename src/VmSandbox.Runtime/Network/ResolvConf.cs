using System.Net;
using System.Net.Sockets;

namespace VmSandbox.Runtime.Network;

/// <summary>
/// Reads a container's resolv.conf the way its resolver does (glibc's res_init, musl's
/// __get_resolv_conf), as far as the host needs it: which name servers are loopback addresses,
/// reachable only from the host side of the network namespace, so that the guest needs a DNS
/// relay for each.
/// </summary>
public static class ResolvConf
{
    /// <summary>glibc and musl MAXNS: the resolver uses the first three name servers only.</summary>
    public const int MaxNameservers = 3;

    /// <summary>
    /// The loopback name servers (IPv4 127/8, IPv6 ::1; an IPv4-mapped one as its IPv4 address) among the ones the resolver uses, in file
    /// order, each once. Lines that do not start with the keyword "nameserver" followed by a blank,
    /// and addresses that do not parse, are ignored as the resolver ignores them.
    /// </summary>
    public static IReadOnlyList<IPAddress> LoopbackNameservers(string text)
    {
        var loopbacks = new List<IPAddress>();
        int used = 0;
        foreach (string rawLine in text.Split('\n'))
        {
            if (used == MaxNameservers)
            {
                break;
            }
            IPAddress? address = ParseNameserver(rawLine.TrimEnd('\r'));
            if (address is null)
            {
                continue;
            }
            used++;
            if (address.IsIPv4MappedToIPv6)
            {
                address = address.MapToIPv4(); // ::ffff:127.0.0.11 reaches 127.0.0.11
            }
            if (IPAddress.IsLoopback(address) && !loopbacks.Contains(address))
            {
                loopbacks.Add(address);
            }
        }
        return loopbacks;
    }

    /// <summary>glibc res_init: "nameserver", a blank, blanks, then the address up to the next blank.</summary>
    private static IPAddress? ParseNameserver(string line)
    {
        const string Keyword = "nameserver";
        if (!line.StartsWith(Keyword, StringComparison.Ordinal) || line.Length == Keyword.Length || line[Keyword.Length] is not (' ' or '\t'))
        {
            return null;
        }
        string rest = line[Keyword.Length..].TrimStart(' ', '\t');
        int end = rest.IndexOfAny([' ', '\t']);
        string token = end < 0 ? rest : rest[..end];
        if (token.Length == 0 || token.Contains('[') || token.Contains(']'))
        {
            return null;
        }
        if (token.Contains(':'))
        {
            int scope = token.IndexOf('%');
            string bare = scope < 0 ? token : token[..scope];
            return IPAddress.TryParse(bare, out IPAddress? v6) && v6.AddressFamily == AddressFamily.InterNetworkV6 ? v6 : null;
        }
        return IPAddress.TryParse(token, out IPAddress? v4) && v4.AddressFamily == AddressFamily.InterNetwork ? v4 : null;
    }
}
