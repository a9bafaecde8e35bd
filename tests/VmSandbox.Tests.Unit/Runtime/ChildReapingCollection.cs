using Xunit;

namespace VmSandbox.Tests.Unit.Runtime;

/// <summary>
/// Tests that reap any child of the test process (waitpid(-1)) or keep zombies for a while: run
/// alone, so one never takes another's child.
/// </summary>
[CollectionDefinition(nameof(ChildReapingCollection), DisableParallelization = true)]
public sealed class ChildReapingCollection;
