namespace VmSandbox.Tests.Unit.Oci;

/// <summary>A bundle directory under the temp dir, deleted on dispose.</summary>
internal sealed class TempBundle : IDisposable
{
    public TempBundle(string? config = null, bool rootfs = true)
    {
        Path = Directory.CreateTempSubdirectory("vmsandbox-oci-").FullName;
        if (config is not null)
        {
            File.WriteAllText(ConfigPath, config);
        }
        if (rootfs)
        {
            Directory.CreateDirectory(System.IO.Path.Combine(Path, "rootfs"));
        }
    }

    public string Path { get; }

    public string ConfigPath => System.IO.Path.Combine(Path, "config.json");

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
