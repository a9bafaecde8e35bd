using VmSandbox.Agent.ContainerInit.Protocol;
using VmSandbox.Agent.Containers;
using VmSandbox.Interop;
using Xunit;

namespace VmSandbox.Tests.Unit.Agent;

/// <summary>
/// The init started ahead of the first container: its exit reaches the container that claimed it
/// whenever it comes, and one that died before its claim is never handed out.
/// </summary>
public sealed class PrespawnedInitTests
{
    private static PrespawnedInit NewInit()
    {
        var (agentEnd, initEnd) = UnixSocket.CreatePair();
        initEnd.Dispose();
        return new PrespawnedInit(new InitChannel(agentEnd));
    }

    [Fact]
    public void An_exit_after_the_claim_reaches_the_claimant()
    {
        using PrespawnedInit init = NewInit();
        int? seen = null;
        Assert.True(init.TryClaim(status => seen = status));
        init.Exited(9);
        Assert.Equal(9, seen);
    }

    [Fact]
    public void An_init_that_died_before_its_claim_is_not_taken_and_is_claimed_once()
    {
        using PrespawnedInit dead = NewInit();
        dead.Exited(256);
        Assert.False(dead.TryClaim(_ => throw new InvalidOperationException("a dead init's exit was passed on")));

        using PrespawnedInit alive = NewInit();
        Assert.True(alive.TryClaim(_ => { }));
        Assert.False(alive.TryClaim(_ => { }));
    }
}
