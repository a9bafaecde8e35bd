using VmSandbox.Agent.Containers;
using VmSandbox.Oci;
using VmSandbox.Oci.Spec;
using Xunit;

namespace VmSandbox.Tests.Unit.Agent;

public sealed class CreatePathWarmupTests
{
    [Fact]
    public void The_warmup_runs_the_create_paths_code_to_its_end()
    {
        // The thread swallows errors (a warm-up only saves time): a sample the validator came to
        // refuse would silently warm nothing, so the test runs it where errors show.
        CreatePathWarmup.RunOnce();
    }

    [Fact]
    public void The_warmups_spec_reaches_the_parts_a_dockers_spec_has()
    {
        RuntimeSpec spec = SpecLoader.ParseAndValidate(VmSandbox.Agent.ContainerInit.InitWarmup.SampleSpec, new List<string>(), "config.json");
        Assert.NotEmpty(spec.Linux!.Seccomp!.Syscalls!);
        Assert.Contains(spec.Linux.Seccomp.Syscalls!, s => s.Args is { Count: > 0 });
        Assert.Contains(spec.Mounts!, m => m.Type == "bind");
        Assert.NotNull(spec.Linux.Resources!.Memory);
        Assert.NotEmpty(spec.Hooks!.CreateRuntime!);
        Assert.NotEmpty(spec.Process!.Capabilities!.Bounding!);
    }
}
