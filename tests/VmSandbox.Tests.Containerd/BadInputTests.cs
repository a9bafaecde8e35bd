using VmSandbox.TestSupport;
using VmSandbox.TestSupport.Containerd;
using Xunit;

namespace VmSandbox.Tests.Containerd;

/// <summary>
/// What a ctr user sees when the runtime or the image is wrong: a non-zero exit, one line on
/// stderr that names the problem, and no container, task or bundle left behind.
/// </summary>
public sealed class BadInputTests
{
    private readonly ContainerdDaemon _daemon;

    public BadInputTests(ContainerdFixture containerd)
    {
        _daemon = containerd.Daemon;
    }

    [Fact(Timeout = ShimTaskTests.TestTimeoutMs)]
    public Task A_missing_shim_binary_fails_in_one_line() => _daemon.WithLogOnFailure(async () =>
    {
        const string missing = "/nonexistent/containerd-shim-vmsbtest-v2";
        string id = "badrt-" + Guid.NewGuid().ToString("N")[..6];
        CommandResult r = await _daemon.CtrAsync(
            ["run", "--rm", "--runtime", missing, "--fifo-dir", _daemon.FifoDir, ContainerdDaemon.Image, id, "true"], ShimTaskTests.CtrTimeout);
        AssertOneLineError(r, missing);
        await AssertNothingLeftAsync(id);
    });

    [Fact(Timeout = ShimTaskTests.TestTimeoutMs)]
    public Task A_missing_image_fails_in_one_line() => _daemon.WithLogOnFailure(async () =>
    {
        const string image = "localhost/vmsb-no-such-image:test";
        string id = "noimg-" + Guid.NewGuid().ToString("N")[..6];
        CommandResult r = await _daemon.CtrAsync(["run", "--rm", "--fifo-dir", _daemon.FifoDir, image, id, "true"], ShimTaskTests.CtrTimeout);
        AssertOneLineError(r, $"image \"{image}\": not found");
        await AssertNothingLeftAsync(id);
    });

    /// <summary>Our shim where the guest image is not installed: the CLI's message, through containerd.</summary>
    [Fact(Timeout = ShimTaskTests.TestTimeoutMs)]
    [Trait(ShimRuntime.Trait, ShimRuntime.VmSandboxName)]
    public Task Our_shim_without_a_guest_image_fails_in_one_line() => _daemon.WithLogOnFailure(async () =>
    {
        ShimRuntime shim = ShimTaskTests.Shim(ShimRuntime.VmSandboxName);
        string wrapper = Path.Combine(_daemon.Scratch, "containerd-shim-noguest-v2");
        File.WriteAllText(wrapper, $"#!/bin/sh\nexport VMSANDBOX_GUEST__DIR={_daemon.Scratch}/no-guest\nexec {shim.ShimPath} \"$@\"\n");
        File.SetUnixFileMode(wrapper, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        string id = ShimTaskTests.NewId("noguest", shim);
        try
        {
            CommandResult r = await _daemon.CtrAsync(
                ["run", "--rm", "--runtime", wrapper, "--fifo-dir", _daemon.FifoDir, ContainerdDaemon.Image, id, "true"], ShimTaskTests.CtrTimeout);
            AssertOneLineError(r, "guest image is not installed");
            await AssertNothingLeftAsync(id);
        }
        finally
        {
            await _daemon.RemoveAsync(id);
        }
    });

    private static void AssertOneLineError(CommandResult r, string expected)
    {
        Assert.True(r.ExitCode != 0, r.ToString());
        string[] lines = r.Stderr.Trim().Split('\n');
        Assert.True(lines.Length == 1 && lines[0].StartsWith("ctr: ", StringComparison.Ordinal) && lines[0].Contains(expected, StringComparison.Ordinal),
            $"expected one line naming \"{expected}\": {r}");
    }

    private async Task AssertNothingLeftAsync(string id)
    {
        Assert.Null(await _daemon.TaskAsync(id));
        CommandResult ls = await _daemon.CtrAsync(["containers", "ls", "--quiet"], ShimTaskTests.CtrTimeout);
        Assert.DoesNotContain(id, ls.Stdout.Split('\n'));
        Assert.False(Directory.Exists(_daemon.BundleOf(id)), $"bundle {_daemon.BundleOf(id)} is left");
        // containerd answers once the shim closed its connection; the process may take a moment more to end.
        List<string> left = [];
        for (int i = 0; i < 50; i++)
        {
            left = [.. HostProcesses.All().Where(p => p.Argv.Any(a => a.Contains(id, StringComparison.Ordinal))).Select(p => p.CommandLine)];
            if (left.Count == 0)
            {
                break;
            }
            await Task.Delay(100, TestContext.Current.CancellationToken);
        }
        Assert.Empty(left);
    }
}
