using VmSandbox.Common;
using VmSandbox.Oci;
using Xunit;

namespace VmSandbox.Tests.Unit.Oci;

public sealed class SignalsTests
{
    [Theory]
    [InlineData("9", 9)]
    [InlineData("0", 0)]
    [InlineData("15", 15)]
    [InlineData("64", 64)]
    [InlineData("KILL", 9)]
    [InlineData("SIGKILL", 9)]
    [InlineData("sigkill", 9)] // runc upper-cases before the lookup
    [InlineData("kill", 9)]
    [InlineData("Term", 15)]
    [InlineData("HUP", 1)]
    [InlineData("SIGCHLD", 17)]
    [InlineData("CLD", 17)]
    [InlineData("IOT", 6)]
    [InlineData("POLL", 29)]
    [InlineData("SIGWINCH", 28)]
    [InlineData("SIGSYS", 31)]
    [InlineData("SIGRTMIN", 34)]
    [InlineData("RTMIN+0", 34)]
    [InlineData("RTMIN+3", 37)]
    [InlineData("sigrtmin+30", 64)]
    [InlineData("SIGRTMAX", 64)]
    [InlineData("rtmax-2", 62)]
    [InlineData("RTMAX-30", 34)]
    public void Parses(string raw, int expected) => Assert.Equal(expected, Signals.Parse(raw));

    [Theory]
    [InlineData("")]
    [InlineData("65")]
    [InlineData("-9")]
    [InlineData("+9")]
    [InlineData(" 9")]
    [InlineData("9 ")]
    [InlineData("9x")]
    [InlineData("1.5")]
    [InlineData("99999999999")]
    [InlineData("SIG")]
    [InlineData("SIGFOO")]
    [InlineData("SIGSIGKILL")]
    [InlineData("SIGKILL ")]
    [InlineData("RTMIN+")]
    [InlineData("RTMIN+31")]
    [InlineData("RTMIN-1")]
    [InlineData("RTMAX+1")]
    [InlineData("RTMAX-31")]
    [InlineData("RTMIN+-1")]
    [InlineData("٩")] // a non-ASCII digit
    public void Rejects(string raw)
    {
        var e = Assert.Throws<VmSandboxException>(() => Signals.Parse(raw));

        Assert.Equal(ErrorCode.InvalidArgument, e.Code);
        Assert.Equal($"unknown signal \"{raw}\"", e.Message);
        Assert.False(Signals.TryParse(raw, out int sig));
        Assert.Equal(-1, sig);
    }

    [Fact]
    public void Rejects_null() => Assert.False(Signals.TryParse(null, out _));

    [Theory]
    [InlineData(9, "SIGKILL")]
    [InlineData(6, "SIGABRT")]
    [InlineData(17, "SIGCHLD")]
    [InlineData(29, "SIGIO")]
    [InlineData(34, "SIGRTMIN")]
    [InlineData(40, "SIGRTMIN+6")]
    [InlineData(64, "SIGRTMAX")]
    [InlineData(0, null)]
    [InlineData(32, null)]
    [InlineData(65, null)]
    public void Names(int signal, string? name) => Assert.Equal(name, Signals.NameOf(signal));

    [Fact]
    public void Every_name_parses_back_to_its_number()
    {
        for (int sig = 1; sig <= Signals.RtMax; sig++)
        {
            if (Signals.NameOf(sig) is { } name)
            {
                Assert.Equal(sig, Signals.Parse(name));
            }
        }
    }
}
