using VmSandbox.Common;
using VmSandbox.Oci;
using VmSandbox.Oci.Spec;
using VmSandbox.Oci.State;
using VmSandbox.Runtime.Config;
using VmSandbox.Runtime.Containers;
using VmSandbox.Runtime.Sandbox;
using Xunit;

namespace VmSandbox.Tests.Unit.Runtime.Lifecycle;

/// <summary>
/// The container core's state rules and clean-up, run against <see cref="FakeSandboxHost"/>: no
/// VM, root or /proc. The VM and E2E suites run the same operations for real.
/// </summary>
public sealed class ContainerLifecycleTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "vms-life-" + Guid.NewGuid().ToString("N")[..12]);
    private readonly FakeSandboxHost _host = new();
    private readonly ListLog _log = new();
    private readonly ContainerRuntime _rt;
    private readonly string _bundle;

    public ContainerLifecycleTests()
    {
        string guest = Directory.CreateDirectory(Path.Combine(_dir, "guest")).FullName;
        File.WriteAllText(Path.Combine(guest, "vmlinuz"), "");
        File.WriteAllText(Path.Combine(guest, "initramfs.img"), "");
        var config = new RuntimeConfig
        {
            KernelPath = Path.Combine(guest, "vmlinuz"),
            InitrdPath = Path.Combine(guest, "initramfs.img"),
            StateRoot = Path.Combine(_dir, "run"),
        };
        _rt = new ContainerRuntime(config, new ContainerStore(Path.Combine(_dir, "root"), config.StateRoot), _log, _host);
        _bundle = Directory.CreateDirectory(Path.Combine(_dir, "bundle")).FullName;
        Directory.CreateDirectory(Path.Combine(_bundle, "rootfs"));
        RuntimeSpec spec = DefaultSpec.Create();
        spec = spec with { Process = spec.Process! with { Terminal = false }, Root = new Root { Path = "rootfs" } };
        File.WriteAllText(Path.Combine(_bundle, "config.json"), SpecLoader.Serialize(spec) + "\n ");
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private Container Create(string id = "c1") => Container.Create(_rt, id, new CreateOptions { Bundle = _bundle, PidFile = Path.Combine(_dir, id + ".pid") });

    private static void Refused(string message, Action operation)
    {
        var e = Assert.Throws<VmSandboxException>(operation);
        Assert.Equal(ErrorCode.FailedPrecondition, e.Code);
        Assert.Equal(message, e.Message);
    }

    [Fact]
    public void Create_leaves_a_created_container_with_the_validated_bytes_and_the_monitors_pid()
    {
        using Container c = Create();
        Assert.Equal(ContainerStatus.Created, c.Status);
        Assert.Equal(["launch __monitor"], _host.Calls);
        Assert.Equal(c.Record.MonitorPid.ToString(System.Globalization.CultureInfo.InvariantCulture), File.ReadAllText(Path.Combine(_dir, "c1.pid")));
        // The copy is byte for byte what was validated (not a re-serialisation, not a second read).
        Assert.Equal(File.ReadAllBytes(Path.Combine(_bundle, "config.json")), File.ReadAllBytes(Path.Combine(_rt.Store.DirOf("c1"), ContainerStore.ConfigCopy)));
        Assert.Equal(7, Container.Load(_rt, "c1").Record.GuestPid);
        Assert.Equal("created", Container.Load(_rt, "c1").State().Status);
    }

    [Fact]
    public void Start_syncs_the_network_before_the_process_runs_and_only_once()
    {
        using Container c = Create();
        c.Start();
        Assert.Equal(["launch __monitor", "sync-network", "start"], _host.Calls);
        Assert.Equal(ContainerStatus.Running, Container.Load(_rt, "c1").Status);
        Refused("cannot start an already running container", () => Container.Load(_rt, "c1").Start());
        Assert.Equal(3, _host.Calls.Count);
    }

    [Fact]
    public void Pause_and_resume_follow_runcs_rules()
    {
        using Container c = Create();
        Refused("container not running", c.Pause);
        Refused("container not paused", c.Resume);
        c.Start();
        c.Pause();
        Assert.Equal(ContainerStatus.Paused, Container.Load(_rt, "c1").Status);
        Refused("container not running", c.Pause);
        Refused("cannot exec in a paused container", () => c.Exec(new ExecRequest { Flags = new ExecFlags(["true"]) }));
        Refused("cannot start an already running container", c.Start);
        c.Resume();
        Assert.Equal(ContainerStatus.Running, Container.Load(_rt, "c1").Status);
        Assert.Equal(["launch __monitor", "sync-network", "start", "pause", "resume"], _host.Calls);
    }

    [Fact]
    public void A_stopped_container_refuses_what_needs_a_live_one_and_kill_all_is_a_no_op()
    {
        using Container c = Create();
        c.Start();
        _host.Exit(c.Record.MonitorPid); // the container exited: its monitor is gone
        Assert.Equal(ContainerStatus.Stopped, c.Status);
        Assert.Equal(0, c.State().Pid);
        Refused("container not running", () => c.Kill(15, all: false));
        c.Kill(9, all: true);
        Refused("cannot exec in a stopped container", () => c.Exec(new ExecRequest { Flags = new ExecFlags(["true"]) }));
        Refused("container not running", () => c.Update(new LinuxResources(), []));
        Refused("container not running", () => c.Stats());
        Refused("cannot start a container that has stopped", c.Start);
        Assert.Empty(c.HostPids());
        Assert.Equal(["launch __monitor", "sync-network", "start"], _host.Calls);
    }

    [Fact]
    public void Delete_refuses_a_running_container_without_force_and_kills_it_with_force()
    {
        using Container c = Create();
        c.Start();
        Refused("cannot delete container c1 that is not stopped: running", () => Container.Delete(_rt, "c1", force: false));
        Assert.True(Directory.Exists(_rt.Store.DirOf("c1")));
        Container.Delete(_rt, "c1", force: true);
        Assert.Equal("signal 9 all", _host.Calls[^1]);
        Assert.False(Directory.Exists(_rt.Store.DirOf("c1")));
        Assert.False(Directory.Exists(c.Record.RunDir));
        Assert.Equal(["remove /fake/cgroup/c1"], _host.FakeCgroups.Calls);
        Assert.Equal(ErrorCode.NotFound, Assert.Throws<VmSandboxException>(() => Container.Delete(_rt, "c1", force: false)).Code);
        Container.Delete(_rt, "c1", force: true); // runc: a missing container with --force is fine
    }

    [Fact]
    public void Delete_of_a_created_container_kills_it_first_as_runc_does()
    {
        using Container c = Create();
        Container.Delete(_rt, "c1", force: false);
        Assert.Equal(["launch __monitor", "signal 9 all"], _host.Calls);
        Assert.Empty(_rt.Store.Ids());
    }

    [Fact]
    public async Task Delete_waits_for_the_monitor_when_the_agent_does_not_answer()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        using Container c = Create();
        _host.AgentFailure = new IOException("connection refused");
        Task deleting = Task.Run(() => Container.Delete(_rt, "c1", force: true), ct);
        // The kill through the agent failed: delete keeps waiting for the monitor (which owns the
        // VM) rather than removing the state of a sandbox that still runs.
        Assert.NotSame(deleting, await Task.WhenAny(deleting, Task.Delay(300, ct)));
        Assert.True(Directory.Exists(_rt.Store.DirOf("c1")));
        _host.Exit(c.Record.MonitorPid);
        await deleting.WaitAsync(TimeSpan.FromSeconds(10), ct);
        Assert.Empty(_rt.Store.Ids());
        Assert.Contains(_log.Lines, l => l.Contains("kill through the agent: connection refused", StringComparison.Ordinal));
    }

    [Fact]
    public void Sigkill_the_agent_does_not_answer_kills_the_vm_other_signals_and_refusals_do_not()
    {
        using Container c = Create();
        c.Start();
        _host.SignalFailure = new VmSandboxException(ErrorCode.Timeout, "the guest agent did not answer within 5s");
        Assert.Equal(ErrorCode.Timeout, Assert.Throws<VmSandboxException>(() => c.Kill(15, all: false)).Code);
        _host.SignalFailure = new VmSandbox.Ttrpc.TtrpcException(VmSandbox.Ttrpc.StatusCode.NotFound, "container c1 not found");
        Assert.Throws<VmSandbox.Ttrpc.TtrpcException>(() => c.Kill(9, all: false));
        Assert.DoesNotContain("kill-vm", _host.Calls);
        Assert.Equal(ContainerStatus.Running, c.Status);

        _host.SignalFailure = new VmSandboxException(ErrorCode.Timeout, "the guest agent did not answer within 5s");
        c.Kill(9, all: false);
        Assert.Contains("kill-vm", _host.Calls);
        Assert.Equal(ContainerStatus.Stopped, c.Status);
        Assert.Contains(_log.Lines, l => l.Contains("did not answer SIGKILL", StringComparison.Ordinal));
    }

    [Fact]
    public void A_failed_create_leaves_nothing_and_the_id_can_be_used_again()
    {
        _host.NextReport = MonitorReport.Failed(new VmSandboxException(ErrorCode.Vm, "boot sandbox c1: qemu exited with code 1"));
        var e = Assert.Throws<VmSandboxException>(() => Create());
        Assert.Equal(ErrorCode.Vm, e.Code);
        Assert.Equal("boot sandbox c1: qemu exited with code 1", e.Message);
        Assert.False(Directory.Exists(_rt.Store.DirOf("c1")));
        Assert.False(Directory.Exists(_rt.Store.RunDirOf("c1")));
        Assert.Equal(["remove /fake/cgroup/c1"], _host.FakeCgroups.Calls);
        _host.NextReport = new MonitorReport { GuestPid = 9 };
        using Container again = Create();
        Assert.Equal(ContainerStatus.Created, again.Status);
    }

    /// <summary>Rewrites the bundle's config.json with <paramref name="hooks"/>.</summary>
    private void WithHooks(Hooks hooks)
    {
        RuntimeSpec spec = DefaultSpec.Create();
        spec = spec with { Process = spec.Process! with { Terminal = false }, Root = new Root { Path = "rootfs" }, Hooks = hooks };
        File.WriteAllText(Path.Combine(_bundle, "config.json"), SpecLoader.Serialize(spec));
    }

    private static Hook Sh(string script) => new() { Path = "/bin/sh", Args = ["sh", "-c", script] };

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Create_hooks_run_once_with_the_monitors_pid_whether_or_not_it_reports_its_namespace_first(bool early)
    {
        // Early: while the VM boots (Docker's libnetwork-setkey wires the namespace then); else after the final report.
        string seen = Path.Combine(_dir, "hooks");
        WithHooks(new Hooks
        {
            Prestart = [Sh($"cat >> {seen}; echo ' prestart' >> {seen}")],
            CreateRuntime = [Sh($"echo createRuntime >> {seen}")],
            CreateContainer = [Sh($"echo createContainer >> {seen}")],
        });
        _host.ReportsNamespaceReady = early;
        using Container c = Create();
        Assert.Equal(early ? ["launch __monitor", "namespace ready"] : ["launch __monitor"], _host.Calls);
        string[] lines = File.ReadAllLines(seen);
        Assert.Equal(["createRuntime", "createContainer"], lines[1..]);
        Assert.Contains($"\"pid\":{c.Record.MonitorPid},", lines[0], StringComparison.Ordinal);
        Assert.EndsWith(" prestart", lines[0], StringComparison.Ordinal);
        Assert.Equal(ContainerStatus.Created, c.Status);
    }

    [Fact]
    public void A_hook_failing_while_the_vm_boots_ends_the_create_and_its_monitor()
    {
        WithHooks(new Hooks { Prestart = [Sh("echo no network >&2; exit 3")] });
        _host.ReportsNamespaceReady = true;
        var e = Assert.Throws<VmSandboxException>(() => Create());
        Assert.Contains("error running prestart hook #0: exit status 3", VmSandboxException.FormatChain(e), StringComparison.Ordinal);
        Assert.Equal(["launch __monitor", "namespace ready", "abandon helper"], _host.Calls);
        Assert.False(Directory.Exists(_rt.Store.DirOf("c1")));
        Assert.False(Directory.Exists(_rt.Store.RunDirOf("c1")));
        Assert.Equal(["remove /fake/cgroup/c1"], _host.FakeCgroups.Calls);
    }

    [Fact]
    public void A_create_failing_after_its_monitor_started_abandons_the_monitor()
    {
        // The pid file cannot be written: the monitor's PID goes to no one, so create kills and reaps it.
        string pidFile = Path.Combine(_dir, "no-such-dir", "c1.pid");
        Assert.ThrowsAny<Exception>(() => Container.Create(_rt, "c1", new CreateOptions { Bundle = _bundle, PidFile = pidFile }));
        Assert.Equal(["launch __monitor", "abandon helper"], _host.Calls);
        Assert.False(Directory.Exists(_rt.Store.DirOf("c1")));
    }

    [Fact]
    public void Create_refuses_an_id_in_use_and_leaves_the_other_container_alone()
    {
        using Container c = Create();
        var e = Assert.Throws<VmSandboxException>(() => Create());
        Assert.Equal(ErrorCode.AlreadyExists, e.Code);
        Assert.Equal(ContainerStatus.Created, Container.Load(_rt, "c1").Status);
        Assert.Single(_host.Calls);
    }

    [Fact]
    public void Create_refuses_bad_input_before_anything_exists()
    {
        Assert.Equal(ErrorCode.InvalidArgument, Assert.Throws<VmSandboxException>(() => Create("../x")).Code);
        File.Delete(_rt.Config.KernelPath);
        Assert.Equal(ErrorCode.HostMissing, Assert.Throws<VmSandboxException>(() => Create()).Code);
        Assert.Empty(_host.Calls);
        Assert.False(Directory.Exists(_rt.Store.Root) && Directory.EnumerateFileSystemEntries(_rt.Store.Root).Any());
    }

    [Fact]
    public void Update_pins_the_cpuset_on_the_host_and_sends_the_rest_to_the_guest()
    {
        using Container c = Create();
        c.Start();
        c.Update(new LinuxResources { Cpu = new LinuxResources.CpuLimits { Cpus = "0" } }, "{\"cpu\":{\"cpus\":\"0\"}}"u8.ToArray());
        Assert.Equal(["cpuset 0"], _host.FakeCgroups.Calls);
        Assert.Equal("update {\"cpu\":{\"cpus\":\"0\"}}", _host.Calls[^1]);
    }

    public static TheoryData<ContainerOperation, ContainerStatus, string> Verdicts() => new()
    {
        { ContainerOperation.Start, ContainerStatus.Created, "Proceed" },
        { ContainerOperation.Start, ContainerStatus.Creating, "cannot start a container in the creating state" },
        { ContainerOperation.Kill, ContainerStatus.Created, "Proceed" },
        { ContainerOperation.Kill, ContainerStatus.Paused, "Proceed" },
        { ContainerOperation.Kill, ContainerStatus.Creating, "container not running" },
        { ContainerOperation.KillAll, ContainerStatus.Stopped, "NothingToDo" },
        { ContainerOperation.Exec, ContainerStatus.Created, "Proceed" },
        { ContainerOperation.ExecIgnorePaused, ContainerStatus.Paused, "Proceed" },
        { ContainerOperation.ExecIgnorePaused, ContainerStatus.Stopped, "cannot exec in a stopped container" },
        { ContainerOperation.Update, ContainerStatus.Paused, "Proceed" },
        { ContainerOperation.Inspect, ContainerStatus.Creating, "container not running" },
        { ContainerOperation.Delete, ContainerStatus.Stopped, "Proceed" },
        { ContainerOperation.Delete, ContainerStatus.Creating, "Proceed" },
        { ContainerOperation.Delete, ContainerStatus.Created, "StopFirst" },
        { ContainerOperation.Delete, ContainerStatus.Paused, "cannot delete container x that is not stopped: paused" },
        { ContainerOperation.ForceDelete, ContainerStatus.Paused, "StopFirst" },
        { ContainerOperation.ForceDelete, ContainerStatus.Stopped, "Proceed" },
    };

    [Theory]
    [MemberData(nameof(Verdicts))]
    public void Rules_give_each_operation_its_verdict_or_runcs_refusal(ContainerOperation op, ContainerStatus status, string expected)
    {
        string actual;
        try
        {
            actual = ContainerRules.Check(op, status, "x").ToString();
        }
        catch (VmSandboxException e) when (e.Code == ErrorCode.FailedPrecondition)
        {
            actual = e.Message;
        }
        Assert.Equal(expected, actual);
    }

    private void Annotate(string type, string sandboxId)
    {
        RuntimeSpec spec = SpecLoader.Parse(File.ReadAllBytes(Path.Combine(_bundle, "config.json")));
        spec = spec with { Annotations = new Dictionary<string, string> { [Container.CriContainerTypeAnnotation] = type, [Container.CriSandboxIdAnnotation] = sandboxId } };
        File.WriteAllText(Path.Combine(_bundle, "config.json"), SpecLoader.Serialize(spec));
    }

    [Fact]
    public void A_pod_member_runs_in_its_sandboxs_vm_through_a_member_relay()
    {
        Annotate("sandbox", "pod1");
        using Container sandbox = Create("pod1");
        sandbox.Start();
        Annotate("container", "pod1");
        using Container member = Create("app");
        Assert.Equal("launch __member", _host.Calls[^1]);
        Assert.Equal("pod1", member.Record.SandboxId);
        Assert.Equal(sandbox.Record.RunDir, member.Record.SandboxRunDir);
        Assert.Equal(sandbox.Record.RunDir, member.Record.VmRunDir());
        Assert.Empty(member.Record.HostCgroups!); // the pod's VM lives in the sandbox's cgroup
    }

    [Fact]
    public void A_pod_member_may_name_its_sandboxs_namespaces_by_proc_path_as_cri_does()
    {
        Annotate("sandbox", "pod1");
        using Container sandbox = Create("pod1");
        sandbox.Start();
        // containerd 1.6's CRI joins a pod's containers to the sandbox task's namespaces by the
        // pid the shim reported (docs/protocols/shim-v2-as-observed.md, "CRI").
        Annotate("container", "pod1");
        RuntimeSpec spec = SpecLoader.Parse(File.ReadAllBytes(Path.Combine(_bundle, "config.json")));
        spec = spec with
        {
            Hostname = null, // the uts namespace is the sandbox's: CRI sets none
            Linux = (spec.Linux ?? new LinuxSpec()) with
            {
                Namespaces = [new() { Type = "pid" }, new() { Type = "mount" },
                    .. ((string[])["network", "ipc", "uts"]).Select(t => new LinuxNamespace { Type = t, Path = $"/proc/4242/ns/{(t == "network" ? "net" : t)}" })],
            },
        };
        File.WriteAllText(Path.Combine(_bundle, "config.json"), SpecLoader.Serialize(spec));
        using Container member = Create("app");
        Assert.Equal("launch __member", _host.Calls[^1]);
        Assert.Equal("pod1", member.Record.SandboxId);
    }

    [Fact]
    public void A_container_in_a_pooled_vm_is_reached_there_and_create_refills_the_pool()
    {
        _host.NextReport = new MonitorReport { GuestPid = 7, VmRunDir = "/run/x/.pool/ab", VmPid = 4242, VmStartTime = 99 };
        using Container c = Container.Create(_rt with { Config = _rt.Config with { PoolSize = 1 } }, "c1", new CreateOptions { Bundle = _bundle });
        Assert.Equal(["launch __monitor", "refill-pool"], _host.Calls);
        Assert.Equal("/run/x/.pool/ab", c.Record.VmRunDir());
        Assert.Null(c.Record.SandboxId); // not a pod member: its own namespaces in the guest
        Assert.Equal(4242, c.Record.PoolVmPid);
        Assert.Equal(99UL, c.Record.PoolVmStartTime);
    }

    [Fact]
    public void Without_the_pool_create_starts_no_pooled_vm()
    {
        using Container c = Create();
        Assert.DoesNotContain("refill-pool", _host.Calls);
        Assert.Equal(c.Record.RunDir, c.Record.VmRunDir());
    }

    [Fact]
    public void A_pod_container_whose_sandbox_is_not_here_gets_its_own_vm()
    {
        Annotate("container", "elsewhere");
        using Container c = Create("app");
        Assert.Equal(["launch __monitor"], _host.Calls);
        Assert.Null(c.Record.SandboxId);
        Assert.Equal(c.Record.RunDir, c.Record.VmRunDir());
    }

    [Fact]
    public void A_stopped_pod_sandbox_takes_no_members()
    {
        Annotate("sandbox", "pod1");
        using (Container sandbox = Create("pod1"))
        {
            sandbox.Start();
            sandbox.Kill(9, all: false);
        }
        Annotate("container", "pod1");
        var e = Assert.Throws<VmSandboxException>(() => Create("app"));
        Assert.Contains("pod sandbox pod1 is stopped", e.Message);
        Assert.False(Directory.Exists(_rt.Store.DirOf("app")));
    }
}
