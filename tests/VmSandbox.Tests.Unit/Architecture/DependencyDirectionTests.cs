using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Xunit;

namespace VmSandbox.Tests.Unit.Architecture;

/// <summary>
/// Dependencies point one way (STYLE.md): the guest never references a host project; the project
/// graph is the one docs/architecture.md draws; only Interop compiles against Tmds.LibC; AF_VSOCK
/// (Interop.Vsock) is the guest's alone.
/// </summary>
public sealed partial class DependencyDirectionTests
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

    /// <summary>Every product project (src/ and guest-agent/): csproj path by project name.</summary>
    private static Dictionary<string, string> ProductProjects(string root) =>
        Directory.GetFiles(Path.Combine(root, "src"), "*.csproj", SearchOption.AllDirectories)
            .Concat(Directory.GetFiles(Path.Combine(root, "guest-agent"), "*.csproj", SearchOption.AllDirectories))
            .ToDictionary(p => Path.GetFileNameWithoutExtension(p), p => p);

    /// <summary>The "Project references" table of docs/architecture.md: project → its references.</summary>
    private static Dictionary<string, HashSet<string>> DocumentedGraph(string root)
    {
        string[] lines = File.ReadAllLines(Path.Combine(root, "docs", "architecture.md"));
        int heading = Array.IndexOf(lines, "### Project references");
        Assert.True(heading >= 0, "docs/architecture.md has no \"### Project references\" section");
        var graph = new Dictionary<string, HashSet<string>>();
        foreach (string line in lines.Skip(heading + 1).SkipWhile(l => !l.StartsWith('|')).TakeWhile(l => l.StartsWith('|')))
        {
            string[] cells = line.Split('|', StringSplitOptions.TrimEntries);
            if (cells.Length < 4 || !cells[1].StartsWith('`'))
            {
                continue; // the header and its rule
            }
            graph.Add(cells[1].Trim('`'), Backticked().Matches(cells[2]).Select(m => m.Groups[1].Value).ToHashSet());
        }
        return graph;
    }

    [GeneratedRegex("`([^`]+)`")]
    private static partial Regex Backticked();

    [Fact]
    public void Project_references_are_the_graph_the_architecture_doc_draws()
    {
        string root = RepoRoot();
        Dictionary<string, string> projects = ProductProjects(root);
        Dictionary<string, HashSet<string>> documented = DocumentedGraph(root);
        Assert.Equal(projects.Keys.Order(StringComparer.Ordinal), documented.Keys.Order(StringComparer.Ordinal));
        foreach ((string name, string csproj) in projects)
        {
            var actual = References(csproj).ToHashSet();
            Assert.True(documented[name].SetEquals(actual),
                $"{name} references [{string.Join(", ", actual.Order(StringComparer.Ordinal))}], docs/architecture.md says [{string.Join(", ", documented[name].Order(StringComparer.Ordinal))}]");
        }
    }

    [Fact]
    public void Transitive_project_references_are_off()
    {
        XElement? property = XDocument.Load(Path.Combine(RepoRoot(), "Directory.Build.props")).Descendants("DisableTransitiveProjectReferences").SingleOrDefault();
        Assert.Equal("true", property?.Value);
    }

    /// <summary>The product assemblies beside this test (it references every product project), by project name.</summary>
    private static Dictionary<string, string> ProductAssemblies()
    {
        var assemblies = new Dictionary<string, string>();
        foreach ((string name, string csproj) in ProductProjects(RepoRoot()))
        {
            string assembly = XDocument.Load(csproj).Descendants("AssemblyName").SingleOrDefault()?.Value ?? name;
            string path = Path.Combine(AppContext.BaseDirectory, assembly + ".dll");
            Assert.True(File.Exists(path), $"{path} is missing: the unit tests must reference {name}");
            assemblies.Add(name, path);
        }
        return assemblies;
    }

    [Fact]
    public void Only_the_interop_assembly_references_tmds_libc()
    {
        foreach ((string name, string path) in ProductAssemblies())
        {
            bool references = Assembly.LoadFrom(path).GetReferencedAssemblies().Any(a => a.Name == "Tmds.LibC");
            if (name == "VmSandbox.Interop")
            {
                Assert.True(references, "VmSandbox.Interop no longer references Tmds.LibC: is the package still named so?");
            }
            else
            {
                Assert.False(references, $"{name} calls Tmds.LibC directly: add a wrapper to VmSandbox.Interop");
            }
        }
    }

    /// <summary>Host assemblies: everything but the guest agent and the libraries both sides share.</summary>
    private static readonly HashSet<string> s_guestOrShared = [.. s_shared, "VmSandbox.Agent"];

    [Fact]
    public void Host_assemblies_never_use_af_vsock()
    {
        // DESIGN.md §3: the host never opens AF_VSOCK; its end of vsock is our device's Unix socket.
        foreach ((string name, string path) in ProductAssemblies().Where(a => !s_guestOrShared.Contains(a.Key)))
        {
            using var pe = new PEReader(File.OpenRead(path));
            MetadataReader metadata = pe.GetMetadataReader();
            bool usesVsock = metadata.TypeReferences
                .Select(metadata.GetTypeReference)
                .Any(t => metadata.GetString(t.Namespace) == "VmSandbox.Interop" && metadata.GetString(t.Name) == "Vsock");
            Assert.False(usesVsock, $"{name} refers to VmSandbox.Interop.Vsock (AF_VSOCK), which is the guest's only");
        }
    }
}
