using System.Text;
using VmSandbox.Oci;
using VmSandbox.Oci.Spec;

namespace VmSandbox.Tests.Unit.Seccomp;

/// <summary>Reads a linux.seccomp object as the agent does: into the OCI model, with the OCI JSON reader.</summary>
internal static class SeccompJson
{
    public static LinuxSeccomp Parse(string json) =>
        OciJson.Parse(Encoding.UTF8.GetBytes(json), OciJsonContext.Default.LinuxSeccomp, "linux.seccomp");
}
