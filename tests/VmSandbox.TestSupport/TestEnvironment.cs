namespace VmSandbox.TestSupport;

/// <summary>
/// Where the build outputs are, found from the repository root as the VM tests find them
/// (tests/VmSandbox.Tests.Vm/TestEnvironment.cs): `make build` publishes the shim next to the CLI.
/// </summary>
internal static class TestEnvironment
{
    public static string RepoRoot { get; } = FindRoot();

    public static string OutBin => Path.Combine(RepoRoot, "out", "bin");

    public static string GuestDir => Path.Combine(RepoRoot, "out", "share", "vmsandbox", "guest");

    private static string FindRoot()
    {
        string? dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "VmSandbox.sln")))
        {
            dir = Path.GetDirectoryName(dir);
        }
        return dir ?? throw new InvalidOperationException("repository root not found");
    }
}
