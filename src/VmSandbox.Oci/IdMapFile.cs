using System.Globalization;
using System.Text;
using VmSandbox.Oci.Spec;

namespace VmSandbox.Oci;

/// <summary>
/// The content of a process's uid_map or gid_map for OCI id mappings, and the kernel's rules for
/// it (user_namespaces(7)): at most 340 lines written in one write(2) below a page, no range that
/// wraps past 2^32 - 1, no two ranges that overlap on either side. Checked when the spec is
/// validated, so that a bad mapping fails before a VM boots, with the field that is wrong.
/// </summary>
public static class IdMapFile
{
    /// <summary>The kernel's limit on lines (UID_GID_MAP_MAX_EXTENTS, Linux 4.15+).</summary>
    public const int MaxLines = 340;

    /// <summary>The map must be written in one write(2) shorter than a page.</summary>
    public const int MaxBytes = 4095;

    /// <summary>The first problem of <paramref name="maps"/> (a nonempty size is checked before), or null.</summary>
    public static string? Problem(IReadOnlyList<LinuxIdMapping> maps, string field)
    {
        if (maps.Count > MaxLines)
        {
            return $"{field}: {maps.Count} mappings, the kernel takes at most {MaxLines}";
        }
        for (int i = 0; i < maps.Count; i++)
        {
            LinuxIdMapping m = maps[i];
            if ((ulong)m.ContainerId + m.Size > uint.MaxValue)
            {
                return $"{field}[{i}]: containerID {m.ContainerId} + size {m.Size} is past the last id {uint.MaxValue - 1}";
            }
            if ((ulong)m.HostId + m.Size > uint.MaxValue)
            {
                return $"{field}[{i}]: hostID {m.HostId} + size {m.Size} is past the last id {uint.MaxValue - 1}";
            }
            for (int j = 0; j < i; j++)
            {
                if (Overlap(maps[j].ContainerId, maps[j].Size, m.ContainerId, m.Size))
                {
                    return $"{field}[{i}]: containerID range overlaps {field}[{j}]";
                }
                if (Overlap(maps[j].HostId, maps[j].Size, m.HostId, m.Size))
                {
                    return $"{field}[{i}]: hostID range overlaps {field}[{j}]";
                }
            }
        }
        if (Encoding.ASCII.GetByteCount(Format(maps)) > MaxBytes)
        {
            return $"{field}: the mappings take more than {MaxBytes} bytes, the kernel's limit";
        }
        return null;
    }

    /// <summary>"containerID hostID size" lines, in the spec's order.</summary>
    public static string Format(IReadOnlyList<LinuxIdMapping> maps)
    {
        var text = new StringBuilder();
        foreach (LinuxIdMapping m in maps)
        {
            text.Append(CultureInfo.InvariantCulture, $"{m.ContainerId} {m.HostId} {m.Size}\n");
        }
        return text.ToString();
    }

    private static bool Overlap(uint firstA, uint sizeA, uint firstB, uint sizeB) =>
        (ulong)firstA < (ulong)firstB + sizeB && (ulong)firstB < (ulong)firstA + sizeA;
}
