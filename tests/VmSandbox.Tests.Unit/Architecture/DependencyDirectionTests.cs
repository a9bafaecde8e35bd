using System.Xml.Linq;
using Xunit;

namespace VmSandbox.Tests.Unit.Architecture;

/// <summary>Dependencies point one way (STYLE.md): the guest never references a host project.</summary>
public sealed class DependencyDirectionTests
{
    private static string RepoRoot()
    {
        string? dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "VmSandbox.sln")))
        {
            dir = Path.GetDirectoryName(dir);
        }
        return dir ?? throw new InvalidOperationException("repository root not found");
    }

    private static IEnumerable<string> References(string csproj) =>
        XDocument.Load(csproj).Descendants("ProjectReference")
            .Select(e => Path.GetFileNameWithoutExtension(e.Attribute("Include")!.Value.Replace('\\', '/')));

    /// <summary>Libraries both sides may use: platform code and the shared protocol.</summary>
    private static readonly HashSet<string> s_shared =
        ["VmSandbox.Common", "VmSandbox.Interop", "VmSandbox.Ttrpc", "VmSandbox.Agent.Protocol", "VmSandbox.Oci", "VmSandbox.Seccomp"];

    [Fact]
    public void Guest_agent_references_only_shared_libraries()
    {
        string root = RepoRoot();
        foreach (string csproj in Directory.GetFiles(Path.Combine(root, "guest-agent"), "*.csproj", SearchOption.AllDirectories))
        {
            foreach (string reference in References(csproj))
            {
                Assert.True(s_shared.Contains(reference), $"{Path.GetFileName(csproj)} references host project {reference}");
            }
        }
    }

    [Fact]
    public void Host_projects_never_reference_the_guest()
    {
        string root = RepoRoot();
        foreach (string csproj in Directory.GetFiles(Path.Combine(root, "src"), "*.csproj", SearchOption.AllDirectories))
        {
            Assert.DoesNotContain(References(csproj), r => r.StartsWith("VmSandbox.Agent", StringComparison.Ordinal) && r != "VmSandbox.Agent.Protocol");
        }
    }

    [Fact]
    public void Shared_libraries_reference_only_shared_libraries()
    {
        string root = RepoRoot();
        foreach (string name in s_shared)
        {
            string csproj = Path.Combine(root, "src", name, name + ".csproj");
            if (!File.Exists(csproj))
            {
                continue;
            }
            Assert.All(References(csproj), r => Assert.Contains(r, s_shared));
        }
    }

    /// <summary>
    /// Inside the agent, the container init (ContainerInit/, which runs in the container's
    /// process) depends on neither the container management that spawns it (Containers/) nor
    /// the agent's PID 1 and API; they may use it and its protocol (ContainerInit/Protocol/).
    /// </summary>
    [Fact]
    public void Agent_container_init_does_not_reach_back_into_the_agent()
    {
        string dir = Path.Combine(RepoRoot(), "guest-agent", "VmSandbox.Agent", "ContainerInit");
        string[] forbidden = ["VmSandbox.Agent.Containers", "VmSandbox.Agent.Vm", "VmSandbox.Agent.Api", "Containers."];
        var offenders = Directory.GetFiles(dir, "*.cs", SearchOption.AllDirectories)
            .SelectMany(f => File.ReadLines(f).Select((line, i) => (File: f, Line: i + 1, Text: line.Trim())))
            .Where(l => !l.Text.StartsWith("//", StringComparison.Ordinal) && forbidden.Any(n => l.Text.Contains(n, StringComparison.Ordinal)))
            .Select(l => $"{Path.GetRelativePath(dir, l.File)}:{l.Line}: {l.Text}")
            .ToList();
        Assert.Empty(offenders);
    }

    [Fact]
    public void Only_the_interop_project_declares_native_imports()
    {
        string root = RepoRoot();
        var offenders = Directory.GetFiles(root, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains("/obj/", StringComparison.Ordinal) && !f.Contains("/bin/", StringComparison.Ordinal)
                && !f.Contains("/tests/", StringComparison.Ordinal) && !f.Contains("/src/VmSandbox.Interop/", StringComparison.Ordinal))
            .Where(f => File.ReadAllText(f) is var t && (t.Contains("[DllImport", StringComparison.Ordinal) || t.Contains("[LibraryImport", StringComparison.Ordinal)))
            .ToList();
        Assert.Empty(offenders);
    }
}
