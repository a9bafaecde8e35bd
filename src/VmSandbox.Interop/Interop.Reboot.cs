using System.Runtime.InteropServices;
using Tmds.Linux;

namespace VmSandbox.Interop;

/// <summary>reboot(2): how PID 1 ends the VM.</summary>
public static partial class Reboot
{
    [LibraryImport("libc", EntryPoint = "reboot", SetLastError = true)]
    private static partial int reboot(int cmd);

    // linux/reboot.h
    public const int LINUX_REBOOT_CMD_RESTART = 0x01234567;
    public const int LINUX_REBOOT_CMD_POWER_OFF = 0x4321FEDC;
    public const int LINUX_REBOOT_CMD_CAD_OFF = 0;

    /// <summary>
    /// Ends the VM. QEMU runs with -no-reboot, so a restart makes QEMU exit; unlike power-off it
    /// also works without ACPI (microvm, acpi=off). Returns only on failure.
    /// </summary>
    public static void RestartNow()
    {
        SyncAll();
        _ = reboot(LINUX_REBOOT_CMD_RESTART);
    }

    /// <summary>sync(2): every file system's dirty data (and, on virtio-fs, its dirty shared mappings) to its backing store.</summary>
    public static void SyncAll() => LibC.sync();

    /// <summary>Makes Ctrl-Alt-Del send SIGINT to PID 1 instead of rebooting at once.</summary>
    public static void DisableCtrlAltDel() =>
        ThrowOnError(reboot(LINUX_REBOOT_CMD_CAD_OFF), "reboot(CAD_OFF)");

    private static void ThrowOnError(int rc, string call)
    {
        if (rc < 0)
        {
            throw SyscallError.Create(call, null, Marshal.GetLastPInvokeError());
        }
    }
}
