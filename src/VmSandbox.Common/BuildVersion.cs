using System.Reflection;

namespace VmSandbox.Common;

/// <summary>The version a binary was built as (its assembly's informational version: the release and commit), for `--version` lines.</summary>
public static class BuildVersion
{
    public static string Of(Assembly assembly) =>
        assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";
}
