namespace VmSandbox.Oci;

/// <summary>The mount options the guest agent understands (runc 1.1's flags and propagation names).</summary>
public static class MountOptionNames
{
    public static readonly IReadOnlyList<string> Propagation =
        ["private", "rprivate", "rshared", "rslave", "runbindable", "shared", "slave", "unbindable"];

    public static readonly IReadOnlyList<string> Known =
    [
        "acl", "async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec", "iversion",
        "lazytime", "loud", "mand", "noacl", "noatime", "nodev", "nodiratime", "noexec", "noiversion",
        "nolazytime", "nomand", "norelatime", "nostrictatime", "nosuid", "nosymfollow", "private", "rbind",
        "relatime", "remount", "ro", "rprivate", "rshared", "rslave", "runbindable", "rw", "shared", "silent",
        "slave", "strictatime", "suid", "symfollow", "sync", "tmpcopyup", "unbindable",
    ];
}
