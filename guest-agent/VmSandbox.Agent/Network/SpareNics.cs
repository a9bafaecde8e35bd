using VmSandbox.Common;
using VmSandbox.Interop;
using VmSandbox.Interop.Netlink;

namespace VmSandbox.Agent.Network;

/// <summary>
/// The spare NICs a microvm boots with (it cannot hot-plug; ADR 0016) wait out of the
/// container's sight: at boot the agent moves every NIC with a placeholder address into a network
/// namespace of its own, and moves one back into the guest's (the containers') namespace when the
/// host gives it an interface to mirror (<see cref="NetworkConfigurator"/>). A container
/// therefore sees the interfaces runc's would, whatever the machine; Docker's containers, whose
/// network is wired after create, get microvm too.
/// </summary>
public static class SpareNics
{
    /// <summary>Keep in step with the host's NetworkPlan.SpareDevice: 02:00:00:00:00:NN.</summary>
    public const string PlaceholderPrefix = "02:00:00:00:00:";

    /// <summary>What a parked spare is called (names are per namespace; this one never collides when it comes back).</summary>
    public const string ParkedNamePrefix = "vmspare";

    private static readonly object s_lock = new();
    private static RtNetlink? s_parking;
    private static SafeFd? s_guestNamespace;

    public static bool IsPlaceholder(string? mac) => mac is not null && mac.StartsWith(PlaceholderPrefix, StringComparison.OrdinalIgnoreCase);

    /// <summary>Parks every spare NIC of the guest's namespace (down, renamed); returns how many.</summary>
    public static int Park()
    {
        using RtNetlink netlink = RtNetlink.Open();
        List<NetLink> spares = [.. netlink.GetLinks().Where(l => IsPlaceholder(l.MacString))];
        if (spares.Count == 0)
        {
            return 0;
        }
        lock (s_lock)
        {
            s_guestNamespace ??= SafeFd.Open("/proc/thread-self/ns/net", FileSystemCalls.O_RDONLY | FileSystemCalls.O_CLOEXEC);
            (SafeFd parkingNamespace, RtNetlink parking) = NewNamespace();
            using (parkingNamespace)
            {
                s_parking = parking;
                foreach (NetLink spare in spares)
                {
                    netlink.SetLinkUp(spare.Index, false);
                    netlink.SetLinkName(spare.Index, ParkedNamePrefix + spare.Index.ToString(System.Globalization.CultureInfo.InvariantCulture));
                    netlink.SetLinkNamespace(spare.Index, parkingNamespace.Fd);
                }
            }
        }
        return spares.Count;
    }

    /// <summary>Brings the parked spare with address <paramref name="mac"/> back into the guest's namespace; false if none is parked there.</summary>
    public static bool Unpark(string mac)
    {
        lock (s_lock)
        {
            if (s_parking is null || s_guestNamespace is null)
            {
                return false;
            }
            NetLink? spare = s_parking.GetLinks().FirstOrDefault(l => string.Equals(l.MacString, mac, StringComparison.OrdinalIgnoreCase));
            if (spare is null)
            {
                return false;
            }
            s_parking.SetLinkNamespace(spare.Index, s_guestNamespace.Fd);
            return true;
        }
    }

    /// <summary>
    /// A new network namespace, held by its fd and a netlink socket made in it (it lives as long
    /// as the socket does): a short-lived thread unshares, since namespaces are per thread.
    /// </summary>
    private static (SafeFd Namespace, RtNetlink Netlink) NewNamespace()
    {
        SafeFd? ns = null;
        RtNetlink? netlink = null;
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                Namespace.Unshare(Namespace.CLONE_NEWNET);
                ns = SafeFd.Open("/proc/thread-self/ns/net", FileSystemCalls.O_RDONLY | FileSystemCalls.O_CLOEXEC);
                netlink = RtNetlink.Open();
            }
            catch (Exception e)
            {
                error = e;
            }
        }, maxStackSize: 256 * 1024)
        {
            IsBackground = true,
            Name = "spare-nics",
        };
        thread.Start();
        thread.Join();
        if (error is not null || ns is null || netlink is null)
        {
            ns?.Dispose();
            netlink?.Dispose();
            throw new VmSandboxException(ErrorCode.System, "park the spare NICs: make a network namespace", error);
        }
        return (ns, netlink);
    }
}
