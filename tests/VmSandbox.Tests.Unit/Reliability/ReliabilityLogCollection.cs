using Xunit;

namespace VmSandbox.Tests.Unit.Reliability;

/// <summary>Tests that point VMSANDBOX_RELIABILITY_DIR elsewhere: run alone, so no other test's row goes there.</summary>
[CollectionDefinition(nameof(ReliabilityLogCollection), DisableParallelization = true)]
public sealed class ReliabilityLogCollection;
