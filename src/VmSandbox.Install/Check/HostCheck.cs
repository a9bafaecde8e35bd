using VmSandbox.Hypervisor;
using VmSandbox.Runtime.Config;

namespace VmSandbox.Install.Check;

/// <summary>
/// What this host has and lacks for VmSandbox (`vmsandbox check`). File-system and KVM probes
/// are injected so that tests can describe any host.
/// </summary>
public sealed class HostCheck
{
    private readonly RuntimeConfig _config;
    private readonly Func<string, bool> _fileExists;
    private readonly AccelDetector _accel;
    private readonly Func<string, string?> _which;

    public HostCheck(RuntimeConfig config, Func<string, bool> fileExists, AccelDetector accel, Func<string, string?> which)
    {
        _config = config;
        _fileExists = fileExists;
        _accel = accel;
        _which = which;
    }

    public static HostCheck ForHost(RuntimeConfig config) =>
        new(config, File.Exists, AccelDetector.ForHost(), FindInPath);

    public IReadOnlyList<CheckItem> Run()
    {
        var items = new List<CheckItem>
        {
            FileItem("qemu", _config.QemuPath, true, "make setup  (or: apt-get install qemu-system-x86)"),
            FileItem("virtiofsd", _config.VirtiofsdPath, false, "make setup  (or: apt-get install qemu-system-x86)"),
            FileItem("guest kernel", _config.KernelPath, true, _config.KernelKind == GuestKernelKind.Minimal ? "make kernel guest" : "make guest", $"{GuestKernel.Describe(_config.KernelKind)}, machine {MachineSetting.Name(_config.Machine)}"),
            FileItem("guest initramfs", _config.InitrdPath, true, "make guest"),
            AccelItem(),
            VsockItem(),
            ToolItem("docker", "dockerd", "apt-get install docker.io"),
            ToolItem("containerd", "containerd", "apt-get install containerd"),
        };
        return items;
    }

    /// <summary>True when every required item is present: a VM can be started.</summary>
    public static bool CanStartVm(IEnumerable<CheckItem> items) => items.All(i => i.Ok || !i.Required);

    private CheckItem FileItem(string name, string path, bool required, string fix, string? what = null) =>
        _fileExists(path)
            ? new CheckItem(name, true, required, what is null ? path : $"{path} ({what})")
            : new CheckItem(name, false, required, $"{path} not found", fix);

    private CheckItem AccelItem()
    {
        try
        {
            (Accelerator accel, string? warning) = _accel.Choose(_config.Accel);
            return accel == Accelerator.Kvm
                ? new CheckItem("acceleration", true, true, "kvm")
                : new CheckItem("acceleration", true, true, warning is null ? "tcg (configured)" : $"tcg fallback: {warning}");
        }
        catch (Common.VmSandboxException e)
        {
            return new CheckItem("acceleration", false, true, e.Message, e.Hint);
        }
    }

    /// <summary>Our vhost-user vsock device needs nothing from the host kernel (ADR 0005).</summary>
    private static CheckItem VsockItem() =>
        new("vsock", true, true, "hybrid vsock through our vhost-user device (no kernel module needed)");

    private CheckItem ToolItem(string name, string binary, string fix) =>
        _which(binary) is { } found
            ? new CheckItem(name, true, false, found)
            : new CheckItem(name, false, false, $"{binary} not found in PATH", fix);

    public static string? FindInPath(string binary)
    {
        string path = Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        foreach (string dir in path.Split(':', StringSplitOptions.RemoveEmptyEntries).Append("/usr/sbin").Append("/sbin"))
        {
            string candidate = Path.Combine(dir, binary);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        return null;
    }
}
