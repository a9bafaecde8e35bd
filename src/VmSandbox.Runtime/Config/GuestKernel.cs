using VmSandbox.Common;

namespace VmSandbox.Runtime.Config;

/// <summary>
/// Picks the guest kernel and its initramfs from the guest directory. <c>guest.kernel</c> is
/// <c>auto</c> (the default: the minimal kernel when `make kernel` put it there, else Debian's cloud
/// kernel), <c>minimal</c>, <c>debian</c>, or the path of a kernel file (booted with the Debian
/// initramfs unless <c>guest.initrd</c> names another). ADR 0014 says why there are two.
/// </summary>
public static class GuestKernel
{
    public const string DebianKernelFile = "vmlinuz";
    public const string DebianInitrdFile = "initramfs.img";
    public const string MinimalKernelFile = "vmlinux-minimal";
    public const string MinimalInitrdFile = "initramfs-minimal.img";

    /// <summary>The kernel and initramfs to boot, and which kind of kernel that is.</summary>
    /// <param name="kernelSetting"><c>guest.kernel</c>: null or <c>auto</c>, <c>minimal</c>, <c>debian</c>, or a path.</param>
    /// <param name="initrdSetting"><c>guest.initrd</c>: null, or a path that overrides the pick.</param>
    /// <param name="guestDir">The guest directory (<c>guest.dir</c> or its default).</param>
    /// <param name="fileExists">File probe (tests describe any directory with it).</param>
    public static (string Kernel, string Initrd, GuestKernelKind Kind) Select(
        string? kernelSetting, string? initrdSetting, string guestDir, Func<string, bool> fileExists)
    {
        string minimalKernel = Path.Combine(guestDir, MinimalKernelFile);
        string minimalInitrd = Path.Combine(guestDir, MinimalInitrdFile);
        (string kernel, string initrd, GuestKernelKind kind) = (kernelSetting ?? "auto").ToLowerInvariant() switch
        {
            "auto" => fileExists(minimalKernel) && fileExists(minimalInitrd)
                ? (minimalKernel, minimalInitrd, GuestKernelKind.Minimal)
                : Debian(guestDir),
            "minimal" => (minimalKernel, minimalInitrd, GuestKernelKind.Minimal),
            "debian" => Debian(guestDir),
            _ when kernelSetting!.Contains('/', StringComparison.Ordinal) =>
                (kernelSetting, Path.Combine(guestDir, DebianInitrdFile), GuestKernelKind.Custom),
            _ => throw new VmSandboxException(ErrorCode.Config, $"guest.kernel \"{kernelSetting}\" is neither auto, minimal, debian nor a path")
            {
                Hint = "use auto, minimal, debian, or the absolute path of a kernel file",
            },
        };
        return (kernel, initrdSetting ?? initrd, kind);
    }

    /// <summary>How `vmsandbox check` and messages name a kind.</summary>
    public static string Describe(GuestKernelKind kind) => kind switch
    {
        GuestKernelKind.Minimal => "minimal kernel from make kernel",
        GuestKernelKind.Debian => "Debian cloud kernel",
        _ => "kernel file from guest.kernel",
    };

    private static (string, string, GuestKernelKind) Debian(string guestDir) =>
        (Path.Combine(guestDir, DebianKernelFile), Path.Combine(guestDir, DebianInitrdFile), GuestKernelKind.Debian);
}
