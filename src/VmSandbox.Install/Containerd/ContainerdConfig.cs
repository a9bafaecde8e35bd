using System.Globalization;
using System.Text;
using VmSandbox.Common;

namespace VmSandbox.Install.Containerd;

/// <summary>
/// Registers vmsandbox with containerd's CRI plugin by editing config.toml: <c>install</c> adds
/// the runtime handler table (<see cref="CriRuntimeHandler"/>), <c>uninstall</c> takes it out
/// again; the edit itself is <see cref="ContainerdConfigText"/>, which leaves every other byte
/// of the file as it was. Before a change the old file is copied to a timestamped backup beside
/// it, and the new one is written to a temporary file renamed over it (a symlink is followed).
/// A file that is refused is left untouched. Collaborator: <see cref="IContainerdRestarter"/>.
/// </summary>
public sealed class ContainerdConfig
{
    public const string DefaultPath = "/etc/containerd/config.toml";

    private static readonly UTF8Encoding s_strictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
    private readonly TimeProvider _clock;

    public ContainerdConfig(string path = DefaultPath, TimeProvider? clock = null)
    {
        Path = path;
        _clock = clock ?? TimeProvider.System;
    }

    /// <summary>The config.toml this instance edits.</summary>
    public string Path { get; }

    /// <summary>Adds the handler, or replaces a table of its name whose content differs.</summary>
    public ContainerdConfigChange AddRuntime(CriRuntimeHandler handler)
    {
        handler.Validate();
        return Edit(text => ContainerdConfigText.Add(text, handler));
    }

    /// <summary>Takes the table of runtime handler <paramref name="name"/> and its sub-tables out.</summary>
    public ContainerdConfigChange RemoveRuntime(string name)
    {
        CriRuntimeHandler.ValidateName(name);
        return Edit(text => ContainerdConfigText.Remove(text, name));
    }

    private ContainerdConfigChange Edit(Func<string, ContainerdEdit> edit)
    {
        string target = ConfigFile.Target(Path);
        bool exists = File.Exists(target);
        ContainerdEdit result;
        try
        {
            result = edit(exists ? Read(target) : "");
        }
        catch (VmSandboxException e)
        {
            throw new VmSandboxException(e.Code, target, e) { Hint = e.Hint ?? $"fix {target} or move it away" };
        }
        if (result.NewText is null)
        {
            return new ContainerdConfigChange(false, false, false, false, null, result.Warnings);
        }
        string? backup = null;
        if (exists)
        {
            backup = NewBackupPath(target);
            File.Copy(target, backup);
        }
        ConfigFile.WriteAtomically(target, result.NewText, exists ? File.GetUnixFileMode(target) : ConfigFile.DefaultMode);
        return new ContainerdConfigChange(true, !exists, result.Replaced, result.VersionAdded, backup, result.Warnings);
    }

    /// <summary>The text exactly as stored: a byte order mark stays a character of it, and bytes that are not UTF-8 are refused.</summary>
    private static string Read(string path)
    {
        try
        {
            return s_strictUtf8.GetString(File.ReadAllBytes(path));
        }
        catch (DecoderFallbackException)
        {
            throw new VmSandboxException(ErrorCode.Config, "not UTF-8 text, left unchanged");
        }
    }

    /// <summary><c>config.toml.vmsandbox-20261205T191400Z.bak</c>, with -2, -3 … when that exists (two changes in one second).</summary>
    private string NewBackupPath(string target)
    {
        string stamp = _clock.GetUtcNow().UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
        string path = $"{target}.vmsandbox-{stamp}.bak";
        for (int n = 2; File.Exists(path); n++)
        {
            path = $"{target}.vmsandbox-{stamp}-{n}.bak";
        }
        return path;
    }
}
