using VmSandbox.Oci.Spec;

namespace VmSandbox.Oci;

/// <summary>
/// Checks a parsed config.json against the rules runc enforces before it creates anything, and
/// those of the runtime-spec that would otherwise fail late inside the guest. Returns the first
/// problem as "field: problem" (runc reports one error); unknown capabilities are warnings.
/// </summary>
public static class SpecValidator
{
    private static readonly HashSet<string> s_deviceTypes = ["c", "b", "u", "p"];

    /// <summary>The first problem in <paramref name="spec"/>, or null; warnings go to <paramref name="warnings"/>.</summary>
    public static string? Validate(RuntimeSpec spec, ICollection<string> warnings)
    {
        if (!SpecVersion.IsSupported(spec.OciVersion))
        {
            return spec.OciVersion.Length == 0 ? "ociVersion: must be set" : $"ociVersion: unsupported spec version {MessageText.Quote(spec.OciVersion)}";
        }
        if (spec.Root is null)
        {
            return "root: must be set";
        }
        if (spec.Root.Path.Length == 0)
        {
            return "root.path: must not be empty";
        }
        if (spec.Root.Path.Contains('\0', StringComparison.Ordinal))
        {
            return "root.path: contains a NUL byte";
        }
        return NullValue(spec.Annotations, "annotations")
            ?? NullValue(spec.Linux?.Sysctl, "linux.sysctl")
            ?? NullValue(spec.Linux?.Resources?.Unified, "linux.resources.unified")
            ?? NullValue(spec.Linux?.Resources?.Rdma, "linux.resources.rdma")
            ?? (spec.Process is null ? null : ValidateProcess(spec.Process, "process.", warnings))
            ?? ValidateMounts(spec.Mounts)
            ?? ValidateHooks(spec.Hooks)
            ?? (spec.Linux is null ? null : ValidateLinux(spec.Linux))
            ?? ValidateHostname(spec)
            ?? ValidateSysctl(spec.Linux);
    }

    // runc's validator: the IPC sysctls that belong to an ipc namespace.
    private static readonly HashSet<string> s_ipcSysctls = new(StringComparer.Ordinal)
    {
        "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
        "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced",
    };

    /// <summary>
    /// runc's rule: a sysctl must belong to a namespace the container has to itself (ipc, network,
    /// uts for kernel.domainname); kernel.hostname conflicts with the hostname field, and one in no
    /// namespace is refused. In a VM the guest kernel would take any of them, but a bundle that
    /// runc refuses is refused here too (Docker and the kubelet only send namespaced ones).
    /// </summary>
    private static string? ValidateSysctl(LinuxSpec? linux)
    {
        bool Has(string type) => linux?.Namespaces?.Any(n => n.Type == type) ?? false;
        foreach (string key in linux?.Sysctl?.Keys ?? (IEnumerable<string>)[])
        {
            string quoted = MessageText.Quote(key);
            if (s_ipcSysctls.Contains(key) || key.StartsWith("fs.mqueue.", StringComparison.Ordinal))
            {
                if (!Has("ipc"))
                {
                    return $"linux.sysctl: sysctl {quoted} is not allowed in the hosts ipc namespace";
                }
            }
            else if (key.StartsWith("net.", StringComparison.Ordinal))
            {
                if (!Has("network"))
                {
                    return $"linux.sysctl: sysctl {quoted} is not allowed in the hosts network namespace";
                }
            }
            else if (key == "kernel.hostname")
            {
                return $"linux.sysctl: sysctl {quoted} is not allowed as it conflicts with the OCI \"hostname\" field";
            }
            else if (key != "kernel.domainname" || !Has("uts"))
            {
                return $"linux.sysctl: sysctl {quoted} is not in a separate kernel namespace";
            }
        }
        return null;
    }

    /// <summary>The rules for <c>process</c>, also applied to <c>exec --process FILE</c>; <paramref name="prefix"/> names the field.</summary>
    public static string? ValidateProcess(ProcessSpec process, string prefix, ICollection<string> warnings)
    {
        if (process.Args is null || process.Args.Count == 0)
        {
            return $"{prefix}args: must not be empty";
        }
        if (process.Cwd.Length == 0)
        {
            return $"{prefix}cwd: must not be empty";
        }
        if (!process.Cwd.StartsWith('/'))
        {
            return $"{prefix}cwd: {MessageText.Quote(process.Cwd)} is not an absolute path";
        }
        for (int i = 0; i < (process.Env?.Count ?? 0); i++)
        {
            // runc compat: the checks of libcontainer's populateProcessEnvironment.
            string env = process.Env![i];
            int eq = env.IndexOf('=', StringComparison.Ordinal);
            string? problem = eq < 0 ? "missing '='" : eq == 0 ? "name cannot be empty" : env.AsSpan(0, eq).Contains('\0') ? "name contains nul byte" : null;
            if (problem is not null)
            {
                return $"{prefix}env[{i}]: invalid environment variable {MessageText.Quote(env)}: {problem}";
            }
        }
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < (process.Rlimits?.Count ?? 0); i++)
        {
            ProcessSpec.Rlimit r = process.Rlimits![i];
            string? problem = !RlimitNames.TryGetNumber(r.Type, out _) ? $"unknown rlimit type {MessageText.Quote(r.Type)}"
                : !seen.Add(r.Type) ? $"duplicate rlimit type {MessageText.Quote(r.Type)}"
                : r.Soft > r.Hard ? $"soft limit {r.Soft} is above hard limit {r.Hard}"
                : null;
            if (problem is not null)
            {
                return $"{prefix}rlimits[{i}]: {problem}";
            }
        }
        if (process.OomScoreAdj is < -1000 or > 1000)
        {
            return $"{prefix}oomScoreAdj: {process.OomScoreAdj} is outside -1000..1000";
        }
        foreach (var (set, caps) in process.Capabilities?.All() ?? [])
        {
            foreach (string unknown in CapabilityNames.Unknown(caps))
            {
                // runc compat: runc 1.1 logs and ignores unknown capabilities.
                warnings.Add($"{prefix}capabilities.{set}: ignoring unknown capability {MessageText.Quote(unknown)}");
            }
        }
        return null;
    }

    // System.Text.Json lets null dictionary values through whatever the records say.
    private static string? NullValue<T>(IReadOnlyDictionary<string, T>? map, string field)
    {
        foreach (var (key, value) in map ?? new Dictionary<string, T>())
        {
            if (value is null)
            {
                return $"{field}[{MessageText.Quote(key)}]: must not be null";
            }
        }
        return null;
    }

    private static string? ValidateMounts(IReadOnlyList<Mount>? mounts)
    {
        for (int i = 0; i < (mounts?.Count ?? 0); i++)
        {
            Mount m = mounts![i];
            if (m.Destination.Length == 0)
            {
                return $"mounts[{i}].destination: must not be empty";
            }
            if (!m.Destination.StartsWith('/'))
            {
                // runc 1.1 only warns; the runtime-spec says MUST be absolute and runc 1.2 will refuse.
                return $"mounts[{i}].destination: {MessageText.Quote(m.Destination)} is not an absolute path";
            }
            // No path holds a NUL (runc's mount(2) says EINVAL); the host builds paths from these
            // (SandboxPlan: Path.GetFullPath threw ArgumentException, found by fuzzing).
            if (m.Destination.Contains('\0', StringComparison.Ordinal) || m.Source?.Contains('\0', StringComparison.Ordinal) == true)
            {
                return $"mounts[{i}]: {(m.Source?.Contains('\0', StringComparison.Ordinal) == true ? "source" : "destination")} contains a NUL byte";
            }
        }
        return null;
    }

    private static string? ValidateHooks(Hooks? hooks)
    {
        foreach (var (name, list) in hooks?.All() ?? [])
        {
            for (int i = 0; i < (list?.Count ?? 0); i++)
            {
                Hook h = list![i];
                string? problem = h.Path.Length == 0 ? "path: must not be empty"
                    : !h.Path.StartsWith('/') ? $"path: {MessageText.Quote(h.Path)} is not an absolute path"
                    : h.Timeout is <= 0 ? $"timeout: {h.Timeout} is not a positive number of seconds"
                    : null;
                if (problem is not null)
                {
                    return $"hooks.{name}[{i}].{problem}";
                }
            }
        }
        return null;
    }

    private static string? ValidateLinux(LinuxSpec linux)
    {
        var types = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < (linux.Namespaces?.Count ?? 0); i++)
        {
            LinuxNamespace ns = linux.Namespaces![i];
            string? problem = !LinuxNamespace.KnownTypes.Contains(ns.Type) ? $"unknown namespace type {MessageText.Quote(ns.Type)}"
                : !types.Add(ns.Type) ? $"duplicate namespace type {MessageText.Quote(ns.Type)}"
                : ns.Path is { Length: > 0 } p && !p.StartsWith('/') ? $"path {MessageText.Quote(p)} is not an absolute path"
                : null;
            if (problem is not null)
            {
                return $"linux.namespaces[{i}]: {problem}";
            }
        }
        return ValidateIdMappings(linux.UidMappings, "linux.uidMappings")
            ?? ValidateIdMappings(linux.GidMappings, "linux.gidMappings")
            ?? ValidateUserNamespace(linux)
            ?? ValidateDevices(linux.Devices)
            ?? ValidateResources(linux.Resources)
            ?? ValidateSeccomp(linux.Seccomp)
            ?? ValidatePaths(linux.MaskedPaths, "linux.maskedPaths")
            ?? ValidatePaths(linux.ReadonlyPaths, "linux.readonlyPaths")
            ?? (linux.RootfsPropagation is { Length: > 0 } rp && !MountOptionNames.Propagation.Contains(rp)
                ? $"linux.rootfsPropagation: unknown propagation {MessageText.Quote(rp)}" : null);
    }

    private static string? ValidateIdMappings(IReadOnlyList<LinuxIdMapping>? maps, string field)
    {
        for (int i = 0; i < (maps?.Count ?? 0); i++)
        {
            if (maps![i].Size == 0)
            {
                return $"{field}[{i}].size: must be greater than 0";
            }
        }
        return maps is null ? null : IdMapFile.Problem(maps, field);
    }

    /// <summary>runc's rules: a user namespace needs a path or mappings, mappings need a user namespace; a new one needs both maps.</summary>
    private static string? ValidateUserNamespace(LinuxSpec linux)
    {
        LinuxNamespace? user = linux.Namespaces?.FirstOrDefault(n => n.Type == "user");
        bool uids = linux.UidMappings is { Count: > 0 };
        bool gids = linux.GidMappings is { Count: > 0 };
        if (user is null)
        {
            return uids || gids ? $"{(uids ? "linux.uidMappings" : "linux.gidMappings")}: user namespace mappings specified, but user namespace isn't enabled in the config" : null;
        }
        if (!string.IsNullOrEmpty(user.Path))
        {
            return null;
        }
        return !uids && !gids ? "linux.namespaces: user namespace enabled, but no namespace path to join nor mappings to apply specified"
            : !uids ? "linux.uidMappings: must not be empty in a new user namespace"
            : !gids ? "linux.gidMappings: must not be empty in a new user namespace"
            : null;
    }

    private static string? ValidateDevices(IReadOnlyList<LinuxDevice>? devices)
    {
        for (int i = 0; i < (devices?.Count ?? 0); i++)
        {
            LinuxDevice d = devices![i];
            string? problem = !s_deviceTypes.Contains(d.Type) ? $"type: unknown device type {MessageText.Quote(d.Type)}"
                : !d.Path.StartsWith('/') ? $"path: {MessageText.Quote(d.Path)} is not an absolute path"
                : null;
            if (problem is not null)
            {
                return $"linux.devices[{i}].{problem}";
            }
        }
        return null;
    }

    private static string? ValidateResources(LinuxResources? resources)
    {
        for (int i = 0; i < (resources?.Devices?.Count ?? 0); i++)
        {
            LinuxResources.DeviceRule rule = resources!.Devices![i];
            if (rule.Type is { Length: > 0 } t && t is not ("a" or "b" or "c"))
            {
                return $"linux.resources.devices[{i}].type: unknown device type {MessageText.Quote(t)}";
            }
            // access letters other than r, w and m are ignored, as runc does (the guest's device filter).
        }
        return null;
    }

    private static string? ValidateSeccomp(LinuxSeccomp? seccomp)
    {
        if (seccomp is null)
        {
            return null;
        }
        if (!LinuxSeccomp.KnownActions.Contains(seccomp.DefaultAction))
        {
            return $"linux.seccomp.defaultAction: unknown action {MessageText.Quote(seccomp.DefaultAction)}";
        }
        for (int i = 0; i < (seccomp.Architectures?.Count ?? 0); i++)
        {
            if (!LinuxSeccomp.KnownArchitectures.Contains(seccomp.Architectures![i]))
            {
                return $"linux.seccomp.architectures[{i}]: unknown architecture {MessageText.Quote(seccomp.Architectures[i])}";
            }
        }
        for (int i = 0; i < (seccomp.Syscalls?.Count ?? 0); i++)
        {
            LinuxSeccomp.Syscall rule = seccomp.Syscalls![i];
            if (rule.Names is null || rule.Names.Count == 0)
            {
                return $"linux.seccomp.syscalls[{i}].names: must not be empty";
            }
            if (!LinuxSeccomp.KnownActions.Contains(rule.Action))
            {
                return $"linux.seccomp.syscalls[{i}].action: unknown action {MessageText.Quote(rule.Action)}";
            }
            for (int j = 0; j < (rule.Args?.Count ?? 0); j++)
            {
                LinuxSeccomp.Arg arg = rule.Args![j];
                string? problem = arg.Index > 5 ? $"index: {arg.Index} is above 5"
                    : !LinuxSeccomp.KnownOperators.Contains(arg.Op) ? $"op: unknown operator {MessageText.Quote(arg.Op)}"
                    : null;
                if (problem is not null)
                {
                    return $"linux.seccomp.syscalls[{i}].args[{j}].{problem}";
                }
            }
        }
        return null;
    }

    private static string? ValidatePaths(IReadOnlyList<string>? paths, string field)
    {
        for (int i = 0; i < (paths?.Count ?? 0); i++)
        {
            if (!paths![i].StartsWith('/'))
            {
                return $"{field}[{i}]: {MessageText.Quote(paths[i])} is not an absolute path";
            }
        }
        return null;
    }

    private static string? ValidateHostname(RuntimeSpec spec)
    {
        bool privateUts = spec.Linux?.Namespaces?.Any(n => n.Type == "uts" && string.IsNullOrEmpty(n.Path)) ?? false;
        // runc compat: "unable to set hostname without a private UTS namespace".
        return !string.IsNullOrEmpty(spec.Hostname) && spec.Linux is not null && !privateUts
            ? "hostname: cannot be set without a private uts namespace"
            : null;
    }
}
