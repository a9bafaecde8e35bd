using VmSandbox.TestSupport.Containerd;
using Xunit;

namespace VmSandbox.Tests.Containerd;

/// <summary>
/// A theory's rows, one per <see cref="ShimRuntime"/>: each carries the trait <c>Runtime=runc</c>
/// or <c>Runtime=vmsandbox</c>, so `--filter 'Runtime!=vmsandbox'` runs everything but our shim's rows.
/// </summary>
public static class RuntimeRows
{
    public static IEnumerable<TheoryDataRow<string>> All =>
    [
        new TheoryDataRow<string>(ShimRuntime.RuncName).WithTrait(ShimRuntime.Trait, ShimRuntime.RuncName),
        new TheoryDataRow<string>(ShimRuntime.VmSandboxName).WithTrait(ShimRuntime.Trait, ShimRuntime.VmSandboxName),
    ];
}
