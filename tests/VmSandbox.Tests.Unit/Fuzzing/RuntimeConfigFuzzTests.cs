using VmSandbox.Runtime.Config;
using Xunit;

namespace VmSandbox.Tests.Unit.Fuzzing;

/// <summary>The runtime's own config file (/etc/vmsandbox/config.json, or $VMSANDBOX_CONFIG), read with Microsoft.Extensions.Configuration.Json.</summary>
public sealed class RuntimeConfigFuzzTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vmsandbox-fuzz-config-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    [Trait("Category", "Reliability")]
    [Trait("Category", "Fuzz")]
    public void Runtime_config_file()
    {
        var target = new FuzzTarget("runtime config file",
            "mutated runtime config files (every section, sizes, counts, paths) through RuntimeConfigLoader.Load",
            "each is loaded or refused with one VmSandboxException (code Config); nothing else thrown")
        {
            Seeds = [FuzzSeeds.Utf8("""{"hypervisor":{"memory":"1G","vcpus":"4","accel":"kvm"},"pool":{"size":0}}"""), FuzzSeeds.Utf8("{}")],
            Tokens = [.. FuzzSeeds.JsonTokens, "\"512M\"", "\"1T\"", "\"99999999999G\"", "\"auto\"", "\"kernel\"", "\"q35\"", "\"debian\""],
            Corpus = "runtime-config",
            DefaultIterations = 1500,
        };
        string path = Path.Combine(_dir, "config.json");
        string exeDir = Path.Combine(_dir, "bin");
        Fuzzer.Run(target, input =>
        {
            File.WriteAllBytes(path, input);
            _ = RuntimeConfigLoader.Load([new("VMSANDBOX_CONFIG", path)], exeDir);
            return true;
        }).RecordAndAssert();
    }
}
