using VmSandbox.Common;
using VmSandbox.Interop;

namespace VmSandbox.Agent.Containers;

/// <summary>
/// Mounts each virtio-fs share of the host once, at /run/vmsandbox/shares/&lt;tag&gt;, and
/// resolves paths inside it; a share is unmounted when no container uses it any more.
/// </summary>
public sealed class ShareMounter
{
    public const string Root = "/run/vmsandbox/shares";

    private readonly object _lock = new();
    private readonly Dictionary<string, int> _users = new(StringComparer.Ordinal);

    /// <summary>The guest path of <paramref name="path"/> inside share <paramref name="tag"/>, mounting the share first if needed; counts one user.</summary>
    public string Acquire(string tag, string path)
    {
        if (!IsValidTag(tag))
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, $"share tag \"{tag}\": invalid");
        }
        if (path.Split('/').Contains(".."))
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, $"share {tag} path {path}: must not contain ..");
        }
        string relative = ContainerInit.RootfsSetup.Normalize(path);
        string dir = Path.Join(Root, tag);
        lock (_lock)
        {
            if (!_users.TryGetValue(tag, out int users))
            {
                Directory.CreateDirectory(dir);
                Mount.Do(tag, dir, "virtiofs", 0);
            }
            _users[tag] = users + 1;
        }
        return relative == "/" ? dir : dir + relative;
    }

    /// <summary>Forgets one user of <paramref name="tag"/>; the last one unmounts it.</summary>
    public void Release(string tag)
    {
        lock (_lock)
        {
            if (!_users.TryGetValue(tag, out int users))
            {
                return;
            }
            if (users > 1)
            {
                _users[tag] = users - 1;
                return;
            }
            _users.Remove(tag);
            _ = Mount.TryUnmount(Path.Join(Root, tag), Mount.MNT_DETACH);
        }
    }

    /// <summary>Tags are short names the host chose: letters, digits, '-', '_', '.'.</summary>
    public static bool IsValidTag(string tag) =>
        tag.Length is > 0 and <= 36 && tag != "." && tag != ".." && tag.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');
}
