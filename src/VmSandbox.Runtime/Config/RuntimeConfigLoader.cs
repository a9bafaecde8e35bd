using System.Globalization;
using Microsoft.Extensions.Configuration;
using VmSandbox.Common;
using VmSandbox.Hypervisor;

namespace VmSandbox.Runtime.Config;

/// <summary>
/// Loads <see cref="RuntimeConfig"/>: built-in defaults, then the JSON file (read with
/// Microsoft.Extensions.Configuration.Json), then environment variables
/// <c>VMSANDBOX_SECTION__KEY</c> (e.g. <c>VMSANDBOX_HYPERVISOR__ACCEL=tcg</c>). The file is
/// <c>$VMSANDBOX_CONFIG</c> if set, else /etc/vmsandbox/config.json; only the default file may be absent.
/// </summary>
public static class RuntimeConfigLoader
{
    public const string EnvPrefix = "VMSANDBOX_";
    public const string ConfigPathVariable = "VMSANDBOX_CONFIG";

    /// <summary>Loads from the process environment.</summary>
    public static RuntimeConfig Load() => Load(ProcessEnvironment(), AppContext.BaseDirectory);

    /// <summary>This process's environment as key/value pairs, for <see cref="Load(IEnumerable{KeyValuePair{string, string}}, string)"/>.</summary>
    public static List<KeyValuePair<string, string?>> ProcessEnvironment() => Environment.GetEnvironmentVariables()
        .Cast<System.Collections.DictionaryEntry>()
        .Select(e => new KeyValuePair<string, string?>((string)e.Key, e.Value as string))
        .ToList();

    /// <param name="environment">The environment to read VMSANDBOX_* variables from.</param>
    /// <param name="exeDir">Directory of the running binary; the guest image is looked up beside it.</param>
    public static RuntimeConfig Load(IEnumerable<KeyValuePair<string, string?>> environment, string exeDir)
    {
        var env = environment.Where(e => e.Key.StartsWith(EnvPrefix, StringComparison.Ordinal)).ToList();
        string? explicitPath = env.FirstOrDefault(e => e.Key == ConfigPathVariable).Value;
        string path = string.IsNullOrEmpty(explicitPath) ? RuntimeConfig.DefaultPath : explicitPath;
        bool optional = string.IsNullOrEmpty(explicitPath);

        var builder = new ConfigurationBuilder();
        if (File.Exists(path) || !optional)
        {
            if (Directory.Exists(path) || !File.Exists(path))
            {
                throw new VmSandboxException(ErrorCode.Config, $"config file {path} is not a readable file")
                {
                    Hint = $"create it or unset {ConfigPathVariable}",
                };
            }
            builder.AddJsonFile(Path.GetFullPath(path), optional: false, reloadOnChange: false);
        }
        builder.AddInMemoryCollection(env
            .Where(e => e.Key != ConfigPathVariable)
            .Select(e => new KeyValuePair<string, string?>(e.Key[EnvPrefix.Length..].Replace("__", ":", StringComparison.Ordinal), e.Value)));

        IConfigurationRoot root;
        try
        {
            root = builder.Build();
        }
        catch (Exception e) when (e is FormatException or InvalidDataException or IOException or UnauthorizedAccessException)
        {
            throw new VmSandboxException(ErrorCode.Config, $"read config file {path}", e.InnerException ?? e)
            {
                Hint = "fix the JSON syntax, or move the file away to use the defaults",
            };
        }
        try
        {
            return Bind(root, File.Exists(path) ? path : "defaults", exeDir);
        }
        catch (VmSandboxException e)
        {
            throw new VmSandboxException(ErrorCode.Config, File.Exists(path) ? $"config {path}" : "config", e);
        }
    }

    private static RuntimeConfig Bind(IConfiguration c, string source, string exeDir)
    {
        var d = new RuntimeConfig();
        CheckVsockTransport(Str(c, "vsock:transport"));
        string guestDir = Str(c, "guest:dir") ?? DefaultGuestDir(exeDir);
        (string kernel, string initrd, GuestKernelKind kind) = GuestKernel.Select(Str(c, "guest:kernel"), Str(c, "guest:initrd"), guestDir, File.Exists);
        string? machine = Str(c, "hypervisor:machine");
        return d with
        {
            Source = source,
            QemuPath = Str(c, "hypervisor:path") ?? d.QemuPath,
            VirtiofsdPath = Str(c, "virtiofsd:path") ?? d.VirtiofsdPath,
            Accel = AccelDetector.ParseMode(Str(c, "hypervisor:accel")),
            Machine = MachineSetting.Select(machine, kind),
            MachineAuto = MachineSetting.IsAuto(machine),
            MemoryMiB = Str(c, "hypervisor:memory") is { } mem ? SizeParser.ParseMemoryMiB(mem, "hypervisor.memory") : d.MemoryMiB,
            Vcpus = Int(c, "hypervisor:vcpus", 1, 64) ?? d.Vcpus,
            TcgCacheMiB = Int(c, "hypervisor:tcgCacheMiB", 0, 4096) ?? d.TcgCacheMiB,
            KernelParams = Str(c, "hypervisor:kernelParams") ?? d.KernelParams,
            GuestDir = guestDir,
            KernelPath = kernel,
            InitrdPath = initrd,
            KernelKind = kind,
            StateRoot = Str(c, "stateRoot") ?? d.StateRoot,
            BootTimeout = Int(c, "hypervisor:bootTimeoutSeconds", 1, 3600) is { } b ? TimeSpan.FromSeconds(b) : d.BootTimeout,
            StopTimeout = Int(c, "hypervisor:stopTimeoutSeconds", 0, 3600) is { } s ? TimeSpan.FromSeconds(s) : d.StopTimeout,
            PoolSize = Int(c, "pool:size", 0, 64) ?? d.PoolSize,
            PhaseLogPath = Str(c, "diagnostics:phaseLog") is { } phaseLog ? Path.GetFullPath(phaseLog) : null,
        };
    }

    /// <summary>The guest image beside the binary (build tree or install prefix), else the default prefix.</summary>
    public static string DefaultGuestDir(string exeDir)
    {
        string beside = Path.GetFullPath(Path.Combine(exeDir, "..", "share", "vmsandbox", "guest"));
        return File.Exists(Path.Combine(beside, GuestKernel.DebianKernelFile)) ? beside : "/usr/local/share/vmsandbox/guest";
    }

    /// <summary>
    /// vsock.transport is obsolete: hybrid vsock is the only transport (ADR 0005). Files that still
    /// say "auto" or "hybrid" keep loading; "kernel" (or anything else) is one clear error.
    /// </summary>
    private static void CheckVsockTransport(string? transport)
    {
        if (transport is null || transport.Equals("auto", StringComparison.OrdinalIgnoreCase) || transport.Equals("hybrid", StringComparison.OrdinalIgnoreCase))
        {
            return;
        }
        throw new VmSandboxException(ErrorCode.Config, $"vsock.transport \"{transport}\" is not supported: hybrid vsock is the only transport")
        {
            Hint = "remove vsock.transport",
        };
    }

    private static string? Str(IConfiguration c, string key)
    {
        string? v = c[key];
        return string.IsNullOrWhiteSpace(v) ? null : v.Trim();
    }

    private static int? Int(IConfiguration c, string key, int min, int max)
    {
        string? v = Str(c, key);
        if (v is null)
        {
            return null;
        }
        return int.TryParse(v, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int n) && n >= min && n <= max
            ? n
            : throw new VmSandboxException(ErrorCode.Config, $"{key.Replace(':', '.')} \"{v}\" is not a whole number in {min}..{max}");
    }
}
