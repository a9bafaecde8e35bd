namespace VmSandbox.Runtime.Config;

/// <summary>Which guest kernel a sandbox boots (<c>guest.kernel</c>, docs/configuration.md).</summary>
public enum GuestKernelKind
{
    /// <summary>Our minimal kernel (`make kernel`, packaging/guest/kernel.fragment) with its module-less initramfs.</summary>
    Minimal,

    /// <summary>Debian's cloud kernel with the initramfs that carries its modules.</summary>
    Debian,

    /// <summary>A kernel file named by path in the configuration.</summary>
    Custom,
}
