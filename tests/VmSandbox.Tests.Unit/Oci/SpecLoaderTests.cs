using VmSandbox.Common;
using VmSandbox.Oci;
using Xunit;

namespace VmSandbox.Tests.Unit.Oci;

public sealed class SpecLoaderTests
{
    private const string Minimal = """{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"args":["sh"],"cwd":"/"}}""";

    [Fact]
    public void Loads_a_bundle_and_resolves_root_against_it()
    {
        using var bundle = new TempBundle(Minimal);

        LoadedSpec loaded = SpecLoader.Load(bundle.Path);

        Assert.Equal(bundle.Path, loaded.BundlePath);
        Assert.Equal(bundle.ConfigPath, loaded.ConfigPath);
        Assert.Equal(Path.Combine(bundle.Path, "rootfs"), loaded.RootfsPath);
        Assert.Equal("rootfs", loaded.Spec.Root!.Path);
        Assert.Empty(loaded.Warnings);
    }

    [Fact]
    public void Keeps_an_absolute_root_and_normalises_dot_dot()
    {
        using var bundle = new TempBundle(rootfs: false);
        string rootfs = Directory.CreateTempSubdirectory("vmsandbox-rootfs-").FullName;
        try
        {
            File.WriteAllText(bundle.ConfigPath, Minimal.Replace("\"rootfs\"", $"\"{rootfs}/../{Path.GetFileName(rootfs)}\"", StringComparison.Ordinal));

            Assert.Equal(rootfs, SpecLoader.Load(bundle.Path).RootfsPath);
        }
        finally
        {
            Directory.Delete(rootfs);
        }
    }

    [Fact]
    public void Accepts_a_relative_bundle_path()
    {
        using var bundle = new TempBundle(Minimal);
        string relative = Path.GetRelativePath(Environment.CurrentDirectory, bundle.Path);

        Assert.Equal(bundle.Path, SpecLoader.Load(relative).BundlePath);
    }

    [Fact]
    public void Missing_bundle_is_not_found()
    {
        string path = Path.Combine(Path.GetTempPath(), "vmsandbox-no-such-bundle-" + Guid.NewGuid().ToString("N"));

        var e = Assert.Throws<VmSandboxException>(() => SpecLoader.Load(path));

        Assert.Equal(ErrorCode.NotFound, e.Code);
        Assert.Equal($"bundle {path}: no such file or directory", e.Message);
    }

    [Fact]
    public void Bundle_that_is_a_file_is_refused()
    {
        using var bundle = new TempBundle(Minimal);

        var e = Assert.Throws<VmSandboxException>(() => SpecLoader.Load(bundle.ConfigPath));

        Assert.Equal(ErrorCode.InvalidArgument, e.Code);
        Assert.Equal($"bundle {bundle.ConfigPath}: not a directory", e.Message);
    }

    [Fact]
    public void Missing_config_uses_runcs_words()
    {
        using var bundle = new TempBundle();

        var e = Assert.Throws<VmSandboxException>(() => SpecLoader.Load(bundle.Path));

        Assert.Equal(ErrorCode.NotFound, e.Code);
        Assert.Equal($"open {bundle.Path}/config.json: no such file or directory", e.Message);
    }

    [Fact]
    public void Config_that_is_a_directory_is_refused()
    {
        using var bundle = new TempBundle();
        Directory.CreateDirectory(bundle.ConfigPath);

        Assert.Equal($"read {bundle.ConfigPath}: is a directory", Assert.Throws<VmSandboxException>(() => SpecLoader.Load(bundle.Path)).Message);
    }

    [Fact]
    public void Oversized_config_is_refused_before_parsing()
    {
        using var bundle = new TempBundle();
        using (var f = File.Create(bundle.ConfigPath))
        {
            f.SetLength(OciJson.MaxFileSize + 1L);
        }

        var e = Assert.Throws<VmSandboxException>(() => SpecLoader.Load(bundle.Path));

        Assert.Equal(ErrorCode.InvalidArgument, e.Code);
        Assert.Equal($"read {bundle.ConfigPath}: file is larger than 16 MiB", e.Message);
    }

    [Fact]
    public void Config_of_exactly_the_limit_is_read()
    {
        using var bundle = new TempBundle();
        byte[] json = System.Text.Encoding.UTF8.GetBytes(Minimal);
        byte[] data = new byte[OciJson.MaxFileSize];
        Array.Fill(data, (byte)' ');
        json.CopyTo(data, 0);
        File.WriteAllBytes(bundle.ConfigPath, data);

        Assert.Equal("1.0.2", SpecLoader.Load(bundle.Path).Spec.OciVersion);
    }

    [Fact]
    public void Errors_name_the_config_file()
    {
        using var bundle = new TempBundle("""{"ociVersion":"3.0.0","root":{"path":"rootfs"}}""");

        Assert.Equal($"{bundle.ConfigPath}: ociVersion: unsupported spec version \"3.0.0\"",
            Assert.Throws<VmSandboxException>(() => SpecLoader.Load(bundle.Path)).Message);
    }

    [Fact]
    public void Missing_rootfs_is_not_found()
    {
        using var bundle = new TempBundle(Minimal, rootfs: false);

        var e = Assert.Throws<VmSandboxException>(() => SpecLoader.Load(bundle.Path));

        Assert.Equal(ErrorCode.NotFound, e.Code);
        Assert.Equal($"{bundle.ConfigPath}: root.path: rootfs {bundle.Path}/rootfs: no such directory", e.Message);
    }

    [Fact]
    public void Warnings_come_back_with_the_spec()
    {
        using var bundle = new TempBundle(Minimal.Replace("\"cwd\":\"/\"", "\"cwd\":\"/\",\"capabilities\":{\"effective\":[\"CAP_NOPE\"]}", StringComparison.Ordinal));

        Assert.Equal(["process.capabilities.effective: ignoring unknown capability \"CAP_NOPE\""], SpecLoader.Load(bundle.Path).Warnings);
    }
}
