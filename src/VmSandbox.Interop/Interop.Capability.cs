using System.Runtime.InteropServices;

namespace VmSandbox.Interop;

/// <summary>capset(2) and the capability prctl(2)s: bounding set, ambient set, keep-caps.</summary>
public static unsafe partial class Capabilities
{
    // include/uapi/linux/capability.h
    public const uint _LINUX_CAPABILITY_VERSION_3 = 0x20080522;

    // include/uapi/linux/prctl.h
    public const int PR_SET_KEEPCAPS = 8;
    public const int PR_CAPBSET_DROP = 24;
    public const int PR_CAP_AMBIENT = 47;
    public const int PR_CAP_AMBIENT_RAISE = 2;
    public const int PR_CAP_AMBIENT_CLEAR_ALL = 4;
    private const int EINVAL = 22;

    /// <summary>struct __user_cap_header_struct (8 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct __user_cap_header_struct
    {
        public uint version;
        public int pid;
    }

    /// <summary>struct __user_cap_data_struct (12 bytes); version 3 passes two of them (caps 0-31, 32-63).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct __user_cap_data_struct
    {
        public uint effective;
        public uint permitted;
        public uint inheritable;
    }

    [LibraryImport("libc", EntryPoint = "capset", SetLastError = true)]
    private static partial int capset(__user_cap_header_struct* header, __user_cap_data_struct* data);

    [LibraryImport("libc", EntryPoint = "prctl", SetLastError = true)]
    private static partial int prctl(int option, ulong arg2, ulong arg3, ulong arg4, ulong arg5);

    /// <summary>Sets the calling thread's effective, permitted and inheritable sets (bit n = capability n).</summary>
    public static void Set(ulong effective, ulong permitted, ulong inheritable)
    {
        var header = new __user_cap_header_struct { version = _LINUX_CAPABILITY_VERSION_3, pid = 0 };
        __user_cap_data_struct* data = stackalloc __user_cap_data_struct[2];
        data[0] = new __user_cap_data_struct { effective = (uint)effective, permitted = (uint)permitted, inheritable = (uint)inheritable };
        data[1] = new __user_cap_data_struct { effective = (uint)(effective >> 32), permitted = (uint)(permitted >> 32), inheritable = (uint)(inheritable >> 32) };
        // SAFETY: header is a local, data points at two stack structs as version 3 requires.
        if (capset(&header, data) < 0)
        {
            throw SyscallError.Create("capset", null, Marshal.GetLastPInvokeError());
        }
    }

    /// <summary>Drops capability <paramref name="cap"/> from the bounding set; false if the kernel does not know it.</summary>
    public static bool DropBounding(int cap)
    {
        if (prctl(PR_CAPBSET_DROP, (ulong)cap, 0, 0, 0) == 0)
        {
            return true;
        }
        int errno = Marshal.GetLastPInvokeError();
        return errno == EINVAL ? false : throw SyscallError.Create("prctl(PR_CAPBSET_DROP)", $"cap {cap}", errno);
    }

    public static void RaiseAmbient(int cap)
    {
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, (ulong)cap, 0, 0) < 0)
        {
            throw SyscallError.Create("prctl(PR_CAP_AMBIENT_RAISE)", $"cap {cap}", Marshal.GetLastPInvokeError());
        }
    }

    public static void ClearAmbient()
    {
        // Kernels before 4.3 lack ambient capabilities: EINVAL means there is nothing to clear.
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && Marshal.GetLastPInvokeError() != EINVAL)
        {
            throw SyscallError.Create("prctl(PR_CAP_AMBIENT_CLEAR_ALL)", null, Marshal.GetLastPInvokeError());
        }
    }

    public static void SetKeepCaps(bool keep)
    {
        if (prctl(PR_SET_KEEPCAPS, keep ? 1UL : 0UL, 0, 0, 0) < 0)
        {
            throw SyscallError.Create("prctl(PR_SET_KEEPCAPS)", null, Marshal.GetLastPInvokeError());
        }
    }
}
