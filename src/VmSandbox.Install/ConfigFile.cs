using System.Text;

namespace VmSandbox.Install;

/// <summary>
/// How install/uninstall rewrite a daemon's config file: edit a symlink where it points (so the
/// link stays), and write the new content to a temporary file that is renamed over the old one,
/// so that the daemon never reads half a file.
/// </summary>
internal static class ConfigFile
{
    /// <summary>rw-r--r--, for a file we create.</summary>
    public const UnixFileMode DefaultMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;

    /// <summary>The file a possibly symlinked <paramref name="path"/> names.</summary>
    public static string Target(string path) => new FileInfo(path).LinkTarget is null ? path
        : File.ResolveLinkTarget(path, returnFinalTarget: true)?.FullName ?? path;

    /// <summary>Writes <paramref name="text"/> (UTF-8, no BOM added) through a temporary file renamed over <paramref name="path"/>.</summary>
    public static void WriteAtomically(string path, string text, UnixFileMode mode)
    {
        string? dir = Path.GetDirectoryName(path);
        if (!string.IsNullOrEmpty(dir))
        {
            Directory.CreateDirectory(dir);
        }
        string temp = path + ".vmsandbox-tmp";
        try
        {
            using (var stream = new FileStream(temp, new FileStreamOptions
            {
                Mode = FileMode.Create,
                Access = FileAccess.Write,
                UnixCreateMode = mode,
            }))
            {
                stream.Write(Encoding.UTF8.GetBytes(text));
                stream.Flush(flushToDisk: true);
            }
            File.SetUnixFileMode(temp, mode);
            File.Move(temp, path, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }
}
