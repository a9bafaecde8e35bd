namespace VmSandbox.Interop;

/// <summary>errno values (asm-generic/errno-base.h) that callers outside Interop compare results with.</summary>
public static class Errno
{
    public const int EPERM = 1;
    public const int EINVAL = 22;
    public const int EROFS = 30;
}
