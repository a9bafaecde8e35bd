using System.Globalization;
using System.Text;
using System.Text.Json;
using VmSandbox.Common;
using VmSandbox.Interop;
using VmSandbox.Oci;
using VmSandbox.Oci.State;

namespace VmSandbox.Runtime.Containers;

/// <summary>
/// The containers under one <c>--root</c>: one directory per ID holding state.json (the
/// <see cref="ContainerRecord"/>), a copy of config.json and, once the container ended, its exit
/// status. Sockets live apart in a short per-sandbox run directory under the configured state root.
/// </summary>
public sealed class ContainerStore
{
    public const string RecordFile = "state.json";
    public const string ConfigCopy = "config.json";
    public const string ExitFile = "exit";

    private readonly string _runRoot;

    public ContainerStore(string root, string runRoot)
    {
        Root = Path.GetFullPath(root);
        _runRoot = Path.GetFullPath(runRoot);
    }

    public string Root { get; }

    public string DirOf(string id) => Path.Combine(Root, id);

    /// <summary>0700: the state root and each run directory (its sockets reach the monitor and the guest agent).</summary>
    public const UnixFileMode PrivateDir = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>Makes <paramref name="id"/>'s run directory and the directory of all of them 0700, whatever the umask.</summary>
    public string CreateRunDir(string id)
    {
        string dir = RunDirOf(id);
        foreach (string d in (string[])[Path.GetDirectoryName(dir)!, dir])
        {
            Directory.CreateDirectory(d, PrivateDir);
            File.SetUnixFileMode(d, PrivateDir); // also one an older version made 0755
        }
        return dir;
    }

    /// <summary>A short, stable socket directory for <paramref name="id"/> under this root.</summary>
    public string RunDirOf(string id)
    {
        return Path.Combine(_runRoot, ".s", Sha256.HexPrefix(Root + "\0" + id, 16));
    }

    /// <summary>
    /// Claims <paramref name="id"/>: fails with runc's wording when it is taken. The claim is
    /// mkdir(2) of the container's directory, which the kernel makes exclusive: of two racing
    /// creates of one ID, exactly one makes the directory and the other gets EEXIST.
    /// </summary>
    public string Claim(string id)
    {
        ContainerIdValidator.Validate(id);
        // runc's modes: the root 0700 when we make it, each container's directory 0711 (issue 15).
        Directory.CreateDirectory(Root, PrivateDir);
        string dir = DirOf(id);
        if (!FileSystemCalls.TryMakeDirectory(dir, 0x1c9))
        {
            throw new VmSandboxException(ErrorCode.AlreadyExists, $"container with id exists: {id}");
        }
        return dir;
    }

    /// <summary>Keeps the config bytes create validated: what the monitor, later verbs and the guest read.</summary>
    public void SaveSpec(string id, ReadOnlyMemory<byte> json)
    {
        using FileStream file = new(Path.Combine(DirOf(id), ConfigCopy), PrivateFile(FileMode.CreateNew));
        file.Write(json.Span);
    }

    /// <summary>The config create validated, parsed (not validated again: it is the runtime's own copy).</summary>
    public LoadedSpec LoadSpec(ContainerRecord record)
    {
        string path = Path.Combine(DirOf(record.Id), ConfigCopy);
        byte[] json = File.ReadAllBytes(path);
        return new LoadedSpec(record.Bundle, path, record.Rootfs, SpecLoader.Parse(json, path), [], json);
    }

    public bool Exists(string id) => File.Exists(Path.Combine(DirOf(id), RecordFile));

    public ContainerRecord Load(string id)
    {
        ContainerIdValidator.Validate(id);
        string path = Path.Combine(DirOf(id), RecordFile);
        byte[] json;
        try
        {
            json = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new VmSandboxException(ErrorCode.NotFound, $"container {id} does not exist");
        }
        ContainerRecord record;
        try
        {
            record = JsonSerializer.Deserialize(json, RuntimeJsonContext.Default.ContainerRecord)
                ?? throw new JsonException("null record");
        }
        catch (JsonException e)
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, $"state of container {id} ({path}) is corrupt", e);
        }
        return Usable(record, id, path);
    }

    /// <summary>
    /// The record as its type promises (found by fuzzing): the generated reader leaves a string
    /// that is absent or null in the file null, not "" as the record's initializer says, so those
    /// read as ""; a record of another ID, or with a null cgroup or annotation value, is corrupt.
    /// </summary>
    private static ContainerRecord Usable(ContainerRecord r, string id, string path)
    {
        if (r.Id != id || r.HostCgroups?.Any(c => c is null) == true || r.Annotations?.Any(a => a.Value is null) == true)
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, $"state of container {id} ({path}) is corrupt");
        }
        return r with { Bundle = r.Bundle ?? "", Rootfs = r.Rootfs ?? "", Created = r.Created ?? "", RunDir = r.RunDir ?? "", Owner = r.Owner ?? "" };
    }

    /// <summary>Writes the record atomically (temp file + rename).</summary>
    public void Save(ContainerRecord record)
    {
        string path = Path.Combine(DirOf(record.Id), RecordFile);
        string tmp = path + ".tmp";
        using (FileStream file = new(tmp, PrivateFile(FileMode.Create)))
        {
            file.Write(JsonSerializer.SerializeToUtf8Bytes(record, RuntimeJsonContext.Default.ContainerRecord));
        }
        File.Move(tmp, path, overwrite: true);
    }

    public IEnumerable<string> Ids()
    {
        if (!Directory.Exists(Root))
        {
            return [];
        }
        return Directory.GetDirectories(Root)
            .Where(d => File.Exists(Path.Combine(d, RecordFile)))
            .Select(d => Path.GetFileName(d))
            .Order(StringComparer.Ordinal);
    }

    /// <summary>Removes the container's directory and run directory; missing ones are fine.</summary>
    public void Remove(string id, string? runDir)
    {
        if (runDir is { Length: > 0 } && Directory.Exists(runDir))
        {
            Directory.Delete(runDir, recursive: true);
        }
        string dir = DirOf(id);
        if (Directory.Exists(dir))
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    public void WriteExit(string id, int code)
    {
        using FileStream file = new(Path.Combine(DirOf(id), ExitFile), PrivateFile(FileMode.Create));
        file.Write(Encoding.ASCII.GetBytes(code.ToString(CultureInfo.InvariantCulture)));
    }

    public int? ReadExit(string id) =>
        File.Exists(Path.Combine(DirOf(id), ExitFile))
        && int.TryParse(File.ReadAllText(Path.Combine(DirOf(id), ExitFile)), CultureInfo.InvariantCulture, out int code)
            ? code
            : null;

    /// <summary>Whether the container's monitor recorded its exit status (<see cref="WriteExit"/>).</summary>
    public bool ExitRecorded(string id) => File.Exists(Path.Combine(DirOf(id), ExitFile));

    /// <param name="isAlive">whether a PID is still the process that started at the given time</param>
    /// <param name="exitRecorded">
    /// the monitor recorded the container's exit: stopped, as runc's state says once the init is
    /// gone, though the monitor still takes the VM down (seconds on a loaded host).
    /// </param>
    public static ContainerStatus StatusOf(ContainerRecord record, Func<int, ulong, bool> isAlive, bool exitRecorded = false)
    {
        if (record.MonitorPid > 0 && exitRecorded)
        {
            return ContainerStatus.Stopped;
        }
        if (record.MonitorPid <= 0 || !isAlive(record.MonitorPid, record.MonitorStartTime))
        {
            return record.MonitorPid <= 0 ? ContainerStatus.Creating : ContainerStatus.Stopped;
        }
        if (record.Paused)
        {
            return ContainerStatus.Paused;
        }
        return record.Started ? ContainerStatus.Running : ContainerStatus.Created;
    }

    /// <summary>The OCI state as `runc state` prints it; the PID is 0 once stopped.</summary>
    public static ContainerState ToState(ContainerRecord record, ContainerStatus status) => new()
    {
        OciVersion = Oci.SpecVersion.Current,
        Id = record.Id,
        Pid = status is ContainerStatus.Stopped or ContainerStatus.Creating ? 0 : record.MonitorPid,
        Status = StateJson.StatusName(status),
        Bundle = record.Bundle,
        Rootfs = record.Rootfs,
        Created = record.Created,
        Annotations = record.Annotations,
        Owner = record.Owner,
    };

    /// <summary>0600 files: state.json, the config copy and the exit status are the runtime's alone (runc writes them so).</summary>
    private static FileStreamOptions PrivateFile(FileMode mode) => new()
    {
        Mode = mode,
        Access = FileAccess.Write,
        UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
    };
}
