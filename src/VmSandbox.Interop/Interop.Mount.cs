using Tmds.Linux;

namespace VmSandbox.Interop;

/// <summary>mount(2) and umount2(2).</summary>
public static unsafe class Mount
{
    public const ulong MS_RDONLY = 1;
    public const ulong MS_NOSUID = 2;
    public const ulong MS_NODEV = 4;
    public const ulong MS_NOEXEC = 8;
    public const ulong MS_REMOUNT = 32;
    public const ulong MS_BIND = 4096;
    public const ulong MS_REC = 16384;
    public const ulong MS_PRIVATE = 1 << 18;
    public const ulong MS_SLAVE = 1 << 19;
    public const ulong MS_RELATIME = 1 << 21;

    /// <summary>Mounts, throwing a <see cref="VmSandbox.Common.VmSandboxException"/> naming the target on failure.</summary>
    public static void Do(string source, string target, string fsType, ulong flags, string? data = null)
    {
        byte[] src = CString.Utf8(source);
        byte[] tgt = CString.Utf8(target);
        byte[] fs = CString.Utf8(fsType);
        byte[]? dat = data is null ? null : CString.Utf8(data);
        fixed (byte* pSrc = src, pTgt = tgt, pFs = fs, pDat = dat)
        {
            // SAFETY: every pointer is a pinned, NUL-terminated buffer that outlives the call;
            // pDat is null when data is null, which mount(2) accepts.
            int rc = LibC.mount(pSrc, pTgt, pFs, (ulong_t)flags, pDat);
            SyscallError.ThrowIfNegative(rc, "mount", target);
        }
    }

    public static void Unmount(string target, int flags = 0)
    {
        fixed (byte* p = CString.Utf8(target))
        {
            // SAFETY: p is a pinned, NUL-terminated buffer.
            SyscallError.ThrowIfNegative(LibC.umount2(p, flags), "umount2", target);
        }
    }
}
