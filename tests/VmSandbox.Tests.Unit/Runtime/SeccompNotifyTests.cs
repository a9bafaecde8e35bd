using System.Net.Sockets;
using VmSandbox.Common;
using VmSandbox.Oci.Spec;
using VmSandbox.Runtime.Containers;
using Xunit;

namespace VmSandbox.Tests.Unit.Runtime;

public sealed class SeccompNotifyTests
{
    private static LinuxSeccomp Profile(string action, string? listener) => new()
    {
        DefaultAction = "SCMP_ACT_ALLOW",
        ListenerPath = listener,
        Syscalls = [new LinuxSeccomp.Syscall { Names = ["mkdir"], Action = action }],
    };

    [Fact]
    public void Profiles_without_notify_rules_pass()
    {
        SeccompNotify.ThrowIfRequested(null);
        SeccompNotify.ThrowIfRequested(Profile("SCMP_ACT_ERRNO", null));
    }

    [Fact]
    public void A_missing_agent_is_reported_in_runcs_words()
    {
        var e = Assert.Throws<VmSandboxException>(() => SeccompNotify.ThrowIfRequested(Profile("SCMP_ACT_NOTIFY", "/nonexistent/agent.sock")));
        Assert.StartsWith("failed to connect with seccomp agent", e.Message, StringComparison.Ordinal);
        Assert.Equal(ErrorCode.NotFound, e.Code);
    }

    [Fact]
    public void Notify_without_a_listener_path_is_invalid()
    {
        var e = Assert.Throws<VmSandboxException>(() => SeccompNotify.ThrowIfRequested(Profile("SCMP_ACT_NOTIFY", null)));
        Assert.Equal(ErrorCode.InvalidArgument, e.Code);
    }

    [Fact]
    public void A_listening_agent_is_refused_as_unsupported_without_being_contacted()
    {
        string dir = Directory.CreateTempSubdirectory("vmsb-notify-").FullName;
        string path = Path.Combine(dir, "agent.sock");
        try
        {
            using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            listener.Bind(new UnixDomainSocketEndPoint(path));
            listener.Listen(1);
            var e = Assert.Throws<VmSandboxException>(() => SeccompNotify.ThrowIfRequested(Profile("SCMP_ACT_NOTIFY", path)));
            Assert.Contains("not supported", e.Message, StringComparison.Ordinal);
            listener.Blocking = false;
            Assert.Throws<SocketException>(() => listener.Accept()); // nobody connected
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
