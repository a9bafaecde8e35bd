using System.Runtime.InteropServices;
using Tmds.Linux;

namespace VmSandbox.Interop;

/// <summary>An owned Linux file descriptor, closed exactly once when released.</summary>
public sealed unsafe class SafeFd : SafeHandle
{
    public SafeFd()
        : base(new IntPtr(-1), ownsHandle: true)
    {
    }

    public SafeFd(int fd, bool ownsHandle = true)
        : base(new IntPtr(-1), ownsHandle)
    {
        SetHandle(new IntPtr(fd));
    }

    /// <summary>open(2), throwing a syscall error naming the path.</summary>
    public static SafeFd Open(string path, int flags, int mode = 0)
    {
        fixed (byte* p = CString.Utf8(path))
        {
            // SAFETY: p is a pinned, NUL-terminated buffer that outlives the call.
            int fd = LibC.open(p, flags, (mode_t)mode);
            SyscallError.ThrowIfNegative(fd, "open", path);
            return new SafeFd(fd);
        }
    }

    public override bool IsInvalid => handle.ToInt64() < 0;

    /// <summary>The raw descriptor; only valid while this handle is alive.</summary>
    public int Fd => (int)handle.ToInt64();

    protected override bool ReleaseHandle()
    {
        // SAFETY: the handle owns the descriptor and SafeHandle calls this at most once.
        return LibC.close((int)handle.ToInt64()) == 0;
    }
}
