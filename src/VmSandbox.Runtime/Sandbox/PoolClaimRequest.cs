using System.Globalization;
using VmSandbox.Common;
using VmSandbox.Oci;

namespace VmSandbox.Runtime.Sandbox;

/// <summary>
/// A claim on a pooled VM's control socket, "claim PID ID ROOT" (ADR 0018; ROOT last: it may
/// hold spaces): the claimant's process, the container's ID and its store's root. Parsed here
/// once, before the pooled VM acts on any of it.
/// </summary>
public sealed record PoolClaimRequest(int Pid, string Id, string StoreRoot)
{
    /// <summary>The request line; <see cref="Parse"/> reads it back.</summary>
    public string Format() => string.Create(CultureInfo.InvariantCulture, $"{WarmPool.ClaimVerb} {Pid} {Id} {StoreRoot}");

    /// <summary>Throws InvalidArgument for anything but a claim with a PID above 1, a valid ID and an absolute root without NUL.</summary>
    public static PoolClaimRequest Parse(string verb)
    {
        string[] parts = verb.Split(' ', 4);
        if (parts.Length != 4 || parts[0] != WarmPool.ClaimVerb
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int pid) || pid <= 1)
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, $"malformed claim \"{verb}\"");
        }
        ContainerIdValidator.Validate(parts[2]);
        // The root becomes a path (ContainerStore): a NUL in it threw ArgumentException there, and
        // a relative one would be taken from the pooled VM's directory (found by fuzzing).
        if (!parts[3].StartsWith('/') || parts[3].Contains('\0', StringComparison.Ordinal))
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, $"malformed claim for container {parts[2]}: the store root is not an absolute path");
        }
        return new PoolClaimRequest(pid, parts[2], parts[3]);
    }
}
