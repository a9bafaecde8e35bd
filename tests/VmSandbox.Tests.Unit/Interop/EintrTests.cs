using System.Runtime.InteropServices;
using VmSandbox.Interop;
using Xunit;

namespace VmSandbox.Tests.Unit.Interop;

public sealed class EintrTests
{
    private const int EAGAIN = 11;

    [Fact]
    public void A_call_interrupted_twice_is_made_again_until_it_succeeds()
    {
        int calls = 0;
        int rc = Eintr.Retry(() => ++calls <= 2 ? Fail(Eintr.EINTR) : 7);
        Assert.Equal(7, rc);
        Assert.Equal(3, calls);
    }

    [Fact]
    public void The_long_form_retries_the_same_way()
    {
        int calls = 0;
        long rc = Eintr.Retry(() => ++calls <= 2 ? (long)Fail(Eintr.EINTR) : 1L << 40);
        Assert.Equal(1L << 40, rc);
        Assert.Equal(3, calls);
    }

    [Theory]
    [InlineData(EAGAIN)]
    [InlineData(1)]
    [InlineData(0)]
    public void Another_errno_is_returned_at_once_and_left_for_the_caller(int errno)
    {
        int calls = 0;
        int rc = Eintr.Retry(() =>
        {
            calls++;
            return Fail(errno);
        });
        Assert.Equal(-1, rc);
        Assert.Equal(1, calls);
        Assert.Equal(errno, Marshal.GetLastPInvokeError());
        Assert.Equal(errno, Tmds.Linux.LibC.errno);
    }

    [Fact]
    public void A_success_is_not_retried_whatever_errno_holds()
    {
        int calls = 0;
        long rc = Eintr.Retry(() =>
        {
            calls++;
            Marshal.SetLastPInvokeError(Eintr.EINTR);
            return 0L;
        });
        Assert.Equal(0, rc);
        Assert.Equal(1, calls);
    }

    private static int Fail(int errno)
    {
        Marshal.SetLastPInvokeError(errno);
        return -1;
    }
}
