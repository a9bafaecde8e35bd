using System.Diagnostics;

namespace VmSandbox.Tests.Vm;

/// <summary>
/// `vmsandbox ARGS…` with stdin at EOF (as the shim gives a container without -i), both outputs
/// read to EOF: for create, whose monitor keeps these pipes as the container's stdio, as
/// containerd-shim-runc-v2 does.
/// </summary>
internal sealed record PipedCli(Process Process, Task<string> Stdout, Task<string> Stderr) : IDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromMinutes(4);

    public static PipedCli Start(BundleFixture fx, IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo(TestEnvironment.CliPath)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }
        foreach (var (k, v) in fx.Env())
        {
            psi.Environment[k] = v;
        }
        var p = Process.Start(psi)!;
        p.StandardInput.Close();
        return new PipedCli(p, p.StandardOutput.ReadToEndAsync(), p.StandardError.ReadToEndAsync());
    }

    public async Task<int> ExitedAsync()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        await Process.WaitForExitAsync(timeout.Token);
        return Process.ExitCode;
    }

    public void Dispose() => Process.Dispose();
}
