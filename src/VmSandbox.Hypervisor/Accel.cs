namespace VmSandbox.Hypervisor;

/// <summary>What the configuration asks for.</summary>
public enum AccelMode
{
    /// <summary>KVM when /dev/kvm is usable, TCG otherwise (with one warning).</summary>
    Auto,
    Kvm,
    Tcg,
}

/// <summary>What a VM actually runs on.</summary>
public enum Accelerator
{
    Kvm,
    Tcg,
}
