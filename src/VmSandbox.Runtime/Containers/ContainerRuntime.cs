using VmSandbox.Runtime.Config;

namespace VmSandbox.Runtime.Containers;

/// <summary>
/// What every container operation needs: the runtime's configuration, the containers of one
/// --root, the log, the OS behind <see cref="ISandboxHost"/>, and whether cgroup paths are
/// systemd's "slice:prefix:name". The CLI builds one per call; the shim one per process.
/// </summary>
public sealed record ContainerRuntime(RuntimeConfig Config, ContainerStore Store, IRuntimeLog Log, ISandboxHost Host, bool SystemdCgroup = false);
