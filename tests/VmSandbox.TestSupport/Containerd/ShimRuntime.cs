namespace VmSandbox.TestSupport.Containerd;

/// <summary>
/// One row of the shim tests: what `ctr --runtime` gets and which binary containerd starts for it.
/// Every test runs once against Debian's runc shim, which checks the fixture and the expectations
/// against the reference behaviour, and once against ours (the tests' rows carry the trait
/// <see cref="Trait"/>). The bench compares the same two.
/// </summary>
public sealed class ShimRuntime
{
    public const string Trait = "Runtime";
    public const string RuncName = "runc";
    public const string VmSandboxName = "vmsandbox";
    public const string VmSandboxShimFile = "containerd-shim-vmsandbox-v2";

    /// <summary>
    /// Where our shim keeps per-container state on the host (the shim's choice; change it here
    /// when the shim picks another). The tests check that nothing of a container is left under it.
    /// </summary>
    public const string VmSandboxStateRoot = "/run/vmsandbox/containerd";

    private ShimRuntime(string name, string runtimeArgument, string shimPath)
    {
        Name = name;
        RuntimeArgument = runtimeArgument;
        ShimPath = shimPath;
    }

    public string Name { get; }

    /// <summary>What `ctr run --runtime` gets: a runtime name resolved on PATH, or an absolute shim path (containerd 1.6 takes either).</summary>
    public string RuntimeArgument { get; }

    public string ShimPath { get; }

    public string ShimFile => Path.GetFileName(ShimPath);

    public bool IsVmSandbox => Name == VmSandboxName;

    public static ShimRuntime Runc { get; } = new(RuncName, "io.containerd.runc.v2", "/usr/bin/containerd-shim-runc-v2");

    /// <summary>Ours, by absolute path: `make build` publishes it next to the CLI.</summary>
    public static ShimRuntime VmSandbox { get; } = new(VmSandboxName, Path.Combine(TestEnvironment.OutBin, VmSandboxShimFile),
        Path.Combine(TestEnvironment.OutBin, VmSandboxShimFile));

    public static ShimRuntime Named(string name) => name switch
    {
        RuncName => Runc,
        VmSandboxName => VmSandbox,
        _ => throw new ArgumentException($"unknown runtime row {name}", nameof(name)),
    };

    /// <summary>
    /// Fails (never skips) when the shim or, for ours, the guest image is missing: a row that
    /// cannot run is a failure the build has to fix.
    /// </summary>
    public void Require()
    {
        if (!File.Exists(ShimPath))
        {
            throw new InvalidOperationException(IsVmSandbox
                ? $"{ShimPath} is missing: `make build` publishes the shim (src/VmSandbox.Shim); run the other rows with --filter '{Trait}!={VmSandboxName}'"
                : $"{ShimPath} is missing: run `make setup` (Debian's containerd)");
        }
        if (IsVmSandbox && !File.Exists(Path.Combine(TestEnvironment.GuestDir, "initramfs.img")))
        {
            throw new InvalidOperationException($"the guest image is missing in {TestEnvironment.GuestDir}: run `make build` first");
        }
    }

    /// <summary>
    /// The long-lived shim processes serving <paramref name="id"/>: the shim binary with `-id ID`
    /// on its command line (as runc's keeps it, so `ps` finds it) or working in the task's
    /// bundle (where containerd starts it); not the short `start` and `delete` invocations.
    /// </summary>
    public List<HostProcesses.Proc> ShimProcesses(string id, string bundle) =>
        HostProcesses.All().Where(p =>
            p.Argv.Any(a => Path.GetFileName(a) == ShimFile)
            && (p.Argv.Zip(p.Argv.Skip(1)).Any(pair => pair.First is "-id" or "--id" && pair.Second == id) || p.Argv.Contains($"-id={id}")
                || HostProcesses.WorkingDirectory(p.Pid) == bundle)
            && p.Argv[^1] is not ("start" or "delete")).ToList();

    public override string ToString() => Name;
}
