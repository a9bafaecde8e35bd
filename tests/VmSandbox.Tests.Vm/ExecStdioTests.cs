using System.Diagnostics;
using System.Text;
using Xunit;

namespace VmSandbox.Tests.Vm;

/// <summary>
/// Bulk stdio through `exec`: the guest's relay threads, the vsock credit window and the host's
/// relay between them, checked for content and order, not timed (throughput is the bench's).
/// </summary>
[Collection(LifecycleCollection.Name)]
public sealed class ExecStdioTests(BundleFixture fx)
{
    // About 2.7 MB: many times what the pipes, the vsock window and the socket buffers hold.
    private const int Lines = 400_000;

    [Fact]
    public async Task Bulk_exec_stdout_arrives_complete_and_in_order_past_a_stalled_reader()
    {
        string root = fx.NewRoot();
        const string id = "bulk";
        Assert.Equal(0, (await fx.Cli(root, "run", "--detach", "--bundle", fx.Bundle("sleep", "1000"), id)).ExitCode);
        try
        {
            var psi = new ProcessStartInfo(TestEnvironment.CliPath)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            foreach (string a in (string[])["--root", root, "exec", id, "sh", "-c", $"seq 1 {Lines}; echo done >&2; exit 5"])
            {
                psi.ArgumentList.Add(a);
            }
            foreach (var (k, v) in fx.Env())
            {
                psi.Environment[k] = v;
            }
            using var p = Process.Start(psi)!;
            using var bound = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
            bound.CancelAfter(TimeSpan.FromMinutes(3));
            using CancellationTokenRegistration kill = bound.Token.Register(() => p.Kill(entireProcessTree: true));
            Task<string> stderr = p.StandardError.ReadToEndAsync(bound.Token);
            Stream stdout = p.StandardOutput.BaseStream;
            var received = new MemoryStream();
            byte[] buffer = new byte[64 * 1024];
            int n = await stdout.ReadAsync(buffer, bound.Token);
            received.Write(buffer, 0, n);
            // A reader that stops: every buffer on the way fills and the process must wait, not lose bytes.
            await Task.Delay(TimeSpan.FromSeconds(3), bound.Token);
            await stdout.CopyToAsync(received, bound.Token);
            await p.WaitForExitAsync(bound.Token);

            var expected = new StringBuilder();
            for (int i = 1; i <= Lines; i++)
            {
                expected.Append(i).Append('\n');
            }
            string text = Encoding.ASCII.GetString(received.ToArray());
            Assert.Equal(expected.Length, text.Length);
            Assert.True(expected.ToString() == text, "stdout differs from seq's output (bytes lost or out of order)");
            Assert.Equal("done\n", await stderr);
            Assert.Equal(5, p.ExitCode);
        }
        finally
        {
            await fx.Cli(root, "delete", "--force", id);
        }
        fx.AssertNothingLeft(root, id);
    }
}
