using VmSandbox.Oci;

namespace VmSandbox.Runtime;

/// <summary>
/// The old name of <see cref="ContainerIdValidator"/> (VmSandbox.Oci), which holds the one ID rule
/// for host and guest. Kept only while the CLI verbs and Runtime/Containers are rewritten on
/// another branch; call <see cref="ContainerIdValidator"/> directly.
/// </summary>
public static class IdValidator
{
    public const int MaxLength = ContainerIdValidator.MaxLength;

    public static void Validate(string id) => ContainerIdValidator.Validate(id);
}
