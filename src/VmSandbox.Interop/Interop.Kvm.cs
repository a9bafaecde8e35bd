using Tmds.Linux;

namespace VmSandbox.Interop;

/// <summary>KVM ioctls used to decide whether hardware acceleration is usable.</summary>
public static unsafe class Kvm
{
    // linux/kvm.h: KVMIO = 0xAE; _IO(KVMIO, 0x00), _IO(KVMIO, 0x01).
    private const int KVM_GET_API_VERSION = 0xAE00;
    private const int KVM_CREATE_VM = 0xAE01;
    private const int KVM_API_VERSION = 12;

    /// <summary>
    /// Opens <paramref name="devicePath"/>, checks the API version and creates (then closes) a VM:
    /// the same test QEMU's kvm_init makes. Returns null when KVM is usable, else the reason.
    /// </summary>
    public static string? ProbeUnusableReason(string devicePath = "/dev/kvm")
    {
        if (!File.Exists(devicePath))
        {
            return $"{devicePath} does not exist";
        }
        int fd;
        fixed (byte* p = CString.Utf8(devicePath))
        {
            // SAFETY: p is a NUL-terminated buffer pinned for the duration of the call.
            fd = LibC.open(p, LibC.O_RDWR | LibC.O_CLOEXEC);
        }
        if (fd < 0)
        {
            return SyscallError.Create("open", devicePath, LibC.errno).Message;
        }
        try
        {
            // SAFETY: fd is an open KVM device fd; these ioctls take no pointer argument.
            int version = LibC.ioctl(fd, KVM_GET_API_VERSION, 0);
            if (version != KVM_API_VERSION)
            {
                return version < 0
                    ? SyscallError.Create("ioctl KVM_GET_API_VERSION", devicePath, LibC.errno).Message
                    : $"{devicePath}: unsupported kvm api version {version}";
            }
            int vm = LibC.ioctl(fd, KVM_CREATE_VM, 0);
            if (vm < 0)
            {
                return SyscallError.Create("ioctl KVM_CREATE_VM", devicePath, LibC.errno).Message;
            }
            _ = LibC.close(vm);
            return null;
        }
        finally
        {
            _ = LibC.close(fd);
        }
    }
}
