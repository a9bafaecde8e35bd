using VmSandbox.Common;

namespace VmSandbox.Interop.Netlink;

/// <summary>The exceptions of the netlink layer: kernel errors (NLMSG_ERROR) and replies that break the framing.</summary>
internal static class NetlinkErrors
{
    /// <summary>A reply that does not parse: bounds are checked before every read, and this is what a failed check throws.</summary>
    public static VmSandboxException Malformed(string detail) =>
        new(ErrorCode.Protocol, $"malformed netlink message: {detail}");

    /// <summary>
    /// An NLMSG_ERROR for <paramref name="call"/> (e.g. RTM_NEWROUTE) on <paramref name="what"/>
    /// (e.g. "default via 10.0.0.1 dev 2"), through the one syscall error helper; the kernel's
    /// extended-ACK text, when it sent one, goes last.
    /// </summary>
    public static VmSandboxException FromErrno(string call, string what, int errno, string? kernelMessage)
    {
        VmSandboxException e = SyscallError.Create(call, what, errno);
        return string.IsNullOrEmpty(kernelMessage)
            ? e
            : new VmSandboxException(e.Code, $"{e.Message}: {kernelMessage}") { Errno = errno };
    }
}
