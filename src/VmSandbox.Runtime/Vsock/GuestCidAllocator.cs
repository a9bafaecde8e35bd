using System.Globalization;
using VmSandbox.Common;

namespace VmSandbox.Runtime.Vsock;

/// <summary>
/// Host-unique guest CIDs for kernel vhost-vsock (all VMs of a host share the kernel's CID
/// space): CID n is held by an exclusive lock on "&lt;dir&gt;/cid-n.lock", released when the
/// holder disposes it or dies.
/// </summary>
public static class GuestCidAllocator
{
    public const uint First = 3;
    public const uint Last = 65535;

    public static (uint Cid, IDisposable Lease) Allocate(string lockDir)
    {
        Directory.CreateDirectory(lockDir);
        for (uint cid = First; cid <= Last; cid++)
        {
            string path = Path.Combine(lockDir, "cid-" + cid.ToString(CultureInfo.InvariantCulture) + ".lock");
            try
            {
                // FileShare.None takes an exclusive flock on Linux: a second holder fails here.
                var lease = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
                return (cid, lease);
            }
            catch (IOException)
            {
                // Held by another sandbox: try the next one.
            }
        }
        throw new VmSandboxException(ErrorCode.HostMissing, $"no free guest cid in {First}..{Last} under {lockDir}");
    }
}
