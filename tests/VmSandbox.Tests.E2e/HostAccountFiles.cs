namespace VmSandbox.Tests.E2e;

/// <summary>
/// The host's account and subordinate-id files as they were when taken, and put back by
/// <see cref="RestoreAsync"/>. dockerd's `"userns-remap": "default"` adds the `dockremap` user
/// when it is missing (Docker 20.10's idtools: `adduser --system --group … dockremap` where
/// adduser exists, as on Debian, else `useradd -r`) and then its ranges (`usermod -v` and `-w`:
/// 100000-165535, or the first free 65536 ids after the ranges already in /etc/subuid and
/// /etc/subgid). Those tools rewrite passwd, group, shadow and gshadow, and subuid and subgid,
/// and leave a "-" backup of each file they rewrite beside it: all twelve are taken here.
/// </summary>
public sealed class HostAccountFiles
{
    private static readonly string[] s_files = ["passwd", "group", "shadow", "gshadow", "subuid", "subgid"];

    private readonly string _copies;
    private readonly Dictionary<string, bool> _existed = [];

    private HostAccountFiles(string copies)
    {
        _copies = copies;
    }

    private static IEnumerable<string> Paths => s_files.SelectMany(f => (string[])[$"/etc/{f}", $"/etc/{f}-"]);

    /// <summary>Copies each file (`cp -a`: content, owner, mode and times) into a private directory.</summary>
    public static async Task<HostAccountFiles> TakeAsync()
    {
        var taken = new HostAccountFiles(Directory.CreateTempSubdirectory("vmsb-accounts-").FullName);
        foreach (string path in Paths)
        {
            taken._existed[path] = File.Exists(path);
            if (taken._existed[path])
            {
                await Copy(path, taken.CopyOf(path));
            }
        }
        return taken;
    }

    /// <summary>
    /// Puts back each file whose content changed (by rename, as the shadow tools write them, so a
    /// reader never sees half a file) and removes those that did not exist; returns what it did,
    /// one entry a file ("restored /etc/passwd", "removed /etc/subuid-").
    /// </summary>
    public async Task<List<string>> RestoreAsync()
    {
        var done = new List<string>();
        foreach (string path in Paths)
        {
            if (!_existed[path])
            {
                if (File.Exists(path))
                {
                    File.Delete(path);
                    done.Add("removed " + path);
                }
                continue;
            }
            if (File.Exists(path) && File.ReadAllBytes(path).AsSpan().SequenceEqual(File.ReadAllBytes(CopyOf(path))))
            {
                continue;
            }
            string next = Path.Combine("/etc", $".{Path.GetFileName(path)}.vmsb-restore");
            await Copy(CopyOf(path), next);
            File.Move(next, path, overwrite: true);
            done.Add("restored " + path);
        }
        Directory.Delete(_copies, recursive: true);
        return done;
    }

    private string CopyOf(string path) => Path.Combine(_copies, Path.GetFileName(path));

    private static async Task Copy(string from, string to)
    {
        CommandResult r = await DockerDaemon.RunAsync("/bin/cp", ["-a", from, to], null, TimeSpan.FromSeconds(10));
        if (r.ExitCode != 0)
        {
            throw new IOException($"cp -a {from} {to}: {r.Stderr.Trim()}");
        }
    }
}
