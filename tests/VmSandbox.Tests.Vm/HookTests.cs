using System.Text.Json;
using System.Text.Json.Nodes;
using Xunit;

namespace VmSandbox.Tests.Vm;

/// <summary>OCI hooks around a real container: each runs on the host, in order, with the state on stdin.</summary>
[Collection(LifecycleCollection.Name)]
public sealed class HookTests(BundleFixture fx)
{
    private static JsonObject Hook(string dir, string name) => new()
    {
        ["path"] = "/bin/sh",
        // Appends its name to a shared log (the order) and keeps the state it was given.
        ["args"] = new JsonArray("sh", "-c", $"echo {name} >> {dir}/order; cat > {dir}/{name}.json; echo $HOOK_VAR > {dir}/{name}.env"),
        ["env"] = new JsonArray("HOOK_VAR=from-config"),
        ["timeout"] = 30,
    };

    [Fact]
    public async Task Hooks_run_on_the_host_in_order_with_the_state_on_stdin()
    {
        string root = fx.NewRoot();
        const string id = "hooks";
        string dir = Directory.CreateDirectory(Path.Combine(root, "hook-out")).FullName;
        JsonObject spec = ContainerSpecs.Spec(ContainerSpecs.Process("sh", "-c", "sleep 1; exit 0"));
        spec["hooks"] = new JsonObject
        {
            ["prestart"] = new JsonArray(Hook(dir, "prestart")),
            ["createRuntime"] = new JsonArray(Hook(dir, "createRuntime")),
            ["poststart"] = new JsonArray(Hook(dir, "poststart")),
            ["poststop"] = new JsonArray(Hook(dir, "poststop")),
        };
        string bundle = fx.Bundle(spec);
        var create = await fx.Cli(root, "create", "--bundle", bundle, id);
        Assert.True(create.ExitCode == 0, create.Stderr);
        Assert.Equal("prestart\ncreateRuntime\n", File.ReadAllText(Path.Combine(dir, "order")));
        Assert.Equal(0, (await fx.Cli(root, "start", id)).ExitCode);
        var state = JsonDocument.Parse((await fx.Cli(root, "state", id)).Stdout).RootElement;
        int pid = state.GetProperty("pid").GetInt32();
        for (int i = 0; i < 300 && JsonDocument.Parse((await fx.Cli(root, "state", id)).Stdout).RootElement.GetProperty("status").GetString() != "stopped"; i++)
        {
            await Task.Delay(100, TestContext.Current.CancellationToken);
        }
        Assert.Equal(0, (await fx.Cli(root, "delete", id)).ExitCode);
        Assert.Equal("prestart\ncreateRuntime\npoststart\npoststop\n", File.ReadAllText(Path.Combine(dir, "order")));
        foreach (var (name, status) in (ReadOnlySpan<(string, string)>)[("prestart", "created"), ("createRuntime", "created"), ("poststart", "running"), ("poststop", "stopped")])
        {
            JsonElement s = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, name + ".json"))).RootElement;
            Assert.Equal(id, s.GetProperty("id").GetString());
            Assert.Equal(status, s.GetProperty("status").GetString());
            Assert.Equal(bundle, s.GetProperty("bundle").GetString());
            Assert.Equal("from-config\n", File.ReadAllText(Path.Combine(dir, name + ".env")));
            if (status != "stopped")
            {
                Assert.Equal(pid, s.GetProperty("pid").GetInt32());
            }
        }
        fx.AssertNothingLeft(root, id);
    }
}
