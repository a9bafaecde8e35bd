using VmSandbox.Common;

namespace VmSandbox.Agent.ContainerInit;

/// <summary>
/// Finds the program to exec the way runc does (Go's exec.LookPath against the container's
/// PATH), and words failures as runc does because Docker shows them to users:
/// <c>exec: "foo": executable file not found in $PATH</c>.
/// </summary>
public static class ExecutableLookup
{
    /// <summary>What the lookup needs to know about a path.</summary>
    public enum Kind
    {
        Missing,
        Directory,
        NotExecutable,
        Executable,
    }

    /// <summary>The PATH runc uses when the process sets none.</summary>
    public const string DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    /// <summary>The value of PATH in <paramref name="env"/> ("NAME=value" entries; the last one wins).</summary>
    public static string PathOf(IReadOnlyList<string>? env)
    {
        string? path = null;
        foreach (string e in env ?? [])
        {
            if (e.StartsWith("PATH=", StringComparison.Ordinal))
            {
                path = e[5..];
            }
        }
        return path ?? DefaultPath;
    }

    /// <summary>
    /// Resolves <paramref name="name"/> (args[0]) to the path to exec; <paramref name="probe"/>
    /// classifies a path inside the container, relative names against <paramref name="cwd"/>.
    /// Throws InvalidArgument with runc's wording when there is nothing to run.
    /// </summary>
    public static string Resolve(string name, string pathVariable, string cwd, Func<string, Kind> probe)
    {
        if (string.IsNullOrEmpty(name))
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, "exec: process.args[0] is empty");
        }
        if (name.Contains('/'))
        {
            string full = name.StartsWith('/') ? name : Path.GetFullPath(Path.Join(cwd, name));
            return probe(full) switch
            {
                Kind.Executable => name,
                Kind.Missing => throw new VmSandboxException(ErrorCode.InvalidArgument,
                    $"exec: \"{name}\": stat {name}: no such file or directory"),
                Kind.Directory => throw new VmSandboxException(ErrorCode.InvalidArgument, $"exec: \"{name}\": is a directory"),
                _ => throw new VmSandboxException(ErrorCode.InvalidArgument, $"exec: \"{name}\": permission denied"),
            };
        }
        bool sawNonExecutable = false;
        foreach (string dir in pathVariable.Split(':'))
        {
            // Go: an empty PATH element means the current directory.
            string candidate = dir.Length == 0 ? Path.Join(cwd, name) : Path.Join(dir, name);
            string probed = candidate.StartsWith('/') ? candidate : Path.Join(cwd, candidate);
            switch (probe(probed))
            {
                case Kind.Executable:
                    return candidate;
                case Kind.NotExecutable:
                    sawNonExecutable = true;
                    break;
            }
        }
        return sawNonExecutable
            ? throw new VmSandboxException(ErrorCode.InvalidArgument, $"exec: \"{name}\": permission denied")
            : throw new VmSandboxException(ErrorCode.InvalidArgument, $"exec: \"{name}\": executable file not found in $PATH");
    }

    /// <summary>Classifies a real path (the caller is already inside the container's root).</summary>
    public static Kind ProbeFile(string path)
    {
        if (Directory.Exists(path))
        {
            return Kind.Directory;
        }
        if (!File.Exists(path))
        {
            return Kind.Missing;
        }
        return Interop.FileSystemCalls.Access(path, Interop.FileSystemCalls.X_OK) == 0 ? Kind.Executable : Kind.NotExecutable;
    }
}
