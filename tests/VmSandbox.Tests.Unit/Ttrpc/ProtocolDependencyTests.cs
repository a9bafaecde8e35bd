using System.Xml.Linq;
using Xunit;

namespace VmSandbox.Tests.Unit.Ttrpc;

/// <summary>
/// The shared protocol libraries go into the NativeAOT guest and the host: they may reference
/// VmSandbox.Common (and the ttrpc library) only, never a host or guest project.
/// </summary>
public sealed class ProtocolDependencyTests
{
    [Theory]
    [InlineData("src/VmSandbox.Ttrpc/VmSandbox.Ttrpc.csproj", new[] { "VmSandbox.Common" })]
    [InlineData("src/VmSandbox.Agent.Protocol/VmSandbox.Agent.Protocol.csproj", new[] { "VmSandbox.Common", "VmSandbox.Ttrpc" })]
    public void SharedProtocolProjectsReferenceOnlyCommon(string project, string[] allowed)
    {
        var csproj = XDocument.Load(Path.Combine(RepoRoot(), project));

        var references = csproj.Descendants("ProjectReference")
            .Select(r => Path.GetFileNameWithoutExtension(r.Attribute("Include")!.Value.Replace('\\', '/')))
            .ToArray();

        Assert.All(references, r => Assert.Contains(r, allowed));
        Assert.Equal("true", csproj.Descendants("IsAotCompatible").Single().Value);
    }

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "VmSandbox.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("find repository root: no VmSandbox.sln above " + AppContext.BaseDirectory);
    }
}
