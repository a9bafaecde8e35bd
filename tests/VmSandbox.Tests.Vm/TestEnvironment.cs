using System.Diagnostics;
using System.Text;
using VmSandbox.Runtime.Config;

namespace VmSandbox.Tests.Vm;

/// <summary>Paths of the built artefacts (make build) and helpers to run and inspect processes.</summary>
internal static class TestEnvironment
{
    public static string RepoRoot { get; } = FindRoot();

    public static string CliPath => Path.Combine(RepoRoot, "out", "bin", "vmsandbox");

    public static string GuestDir => Path.Combine(RepoRoot, "out", "share", "vmsandbox", "guest");

    /// <summary>
    /// The kernel and initramfs the runtime would boot from <see cref="GuestDir"/>: the minimal pair
    /// when built, else Debian's; VMSANDBOX_GUEST__KERNEL (auto, minimal, debian) picks as the runtime does.
    /// </summary>
    public static (string Kernel, string Initrd, GuestKernelKind Kind) GuestKernelPick =>
        GuestKernel.Select(Environment.GetEnvironmentVariable("VMSANDBOX_GUEST__KERNEL") is { Length: > 0 } k ? k : null, null, GuestDir, File.Exists);

    public static string KernelPath => GuestKernelPick.Kernel;

    public static string InitrdPath => GuestKernelPick.Initrd;

    /// <summary>True when `make kernel` built the minimal kernel and `make guest` put it in <see cref="GuestDir"/>.</summary>
    public static bool MinimalKernelBuilt =>
        File.Exists(Path.Combine(GuestDir, GuestKernel.MinimalKernelFile)) && File.Exists(Path.Combine(GuestDir, GuestKernel.MinimalInitrdFile));

    private static string FindRoot()
    {
        string? dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "VmSandbox.sln")))
        {
            dir = Path.GetDirectoryName(dir);
        }
        return dir ?? throw new InvalidOperationException("repository root not found");
    }

    /// <summary>Fails with the fix when the build outputs are missing (make test builds them first).</summary>
    public static void RequireBuild()
    {
        if (!File.Exists(CliPath) || !File.Exists(Path.Combine(GuestDir, "initramfs.img")))
        {
            throw new InvalidOperationException($"{CliPath} or the guest image is missing: run `make build` first");
        }
    }

    /// <summary>PIDs of processes whose command line contains <paramref name="needle"/>.</summary>
    public static List<int> ProcessesMatching(string needle)
    {
        var pids = new List<int>();
        foreach (string dir in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid) || pid == Environment.ProcessId)
            {
                continue;
            }
            try
            {
                string cmdline = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ');
                if (cmdline.Contains(needle, StringComparison.Ordinal))
                {
                    pids.Add(pid);
                }
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
        return pids;
    }

    public sealed record CliResult(int ExitCode, string Stdout, string Stderr);

    /// <summary>Runs the published CLI with extra environment variables and a time limit.</summary>
    public static Task<CliResult> RunCliAsync(IDictionary<string, string> env, TimeSpan timeout, params string[] args) =>
        RunAsync(CliPath, env, timeout, args);

    /// <summary>Runs <paramref name="file"/> with extra environment variables and a time limit; output read to EOF.</summary>
    public static async Task<CliResult> RunAsync(string file, IDictionary<string, string> env, TimeSpan timeout, params string[] args)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }
        foreach (var (k, v) in env)
        {
            psi.Environment[k] = v;
        }
        using var p = Process.Start(psi)!;
        Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{Path.GetFileName(file)} {string.Join(' ', args)} ran past {timeout}");
        }
        return new CliResult(p.ExitCode, await stdout, await stderr);
    }

    /// <summary>A cpio (newc) archive holding one regular file, for overlaying the initramfs.</summary>
    public static byte[] NewcArchive(string path, string content)
    {
        var ms = new MemoryStream();
        void Entry(string name, int mode, byte[] data)
        {
            string header = string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"070701{1:X8}{mode:X8}{0:X8}{0:X8}{1:X8}{0:X8}{data.Length:X8}{0:X8}{0:X8}{0:X8}{0:X8}{name.Length + 1:X8}{0:X8}");
            byte[] h = Encoding.ASCII.GetBytes(header + name + "\0");
            ms.Write(h);
            Pad(ms);
            ms.Write(data);
            Pad(ms);
        }
        Entry(path, 0x81A4, Encoding.UTF8.GetBytes(content));
        Entry("TRAILER!!!", 0, []);
        return ms.ToArray();
    }

    private static void Pad(MemoryStream ms)
    {
        while (ms.Length % 4 != 0)
        {
            ms.WriteByte(0);
        }
    }
}
