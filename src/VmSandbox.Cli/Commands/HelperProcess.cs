using System.Diagnostics;
using VmSandbox.Common;

namespace VmSandbox.Cli.Commands;

/// <summary>
/// The runtime's own long-lived helpers, this binary under a hidden verb: the sandbox monitor
/// (`__monitor`, started by create) and the exec relay (`__exec`, started by exec --detach).
/// </summary>
public static class HelperProcess
{
    /// <summary>Starts `vmsandbox [global flags] VERB ARGS… [--tty P] ID` (the monitor or an exec relay) as our child.</summary>
    public static Process Start(LifecycleContext ctx, string[] verbArgs, string id, string? ttyPath)
    {
        var psi = new ProcessStartInfo(Environment.ProcessPath ?? throw new VmSandboxException(ErrorCode.Internal, "cannot find own executable"))
        {
            UseShellExecute = false,
            // With a tty the monitor uses the pty: it must not hold the caller's stdout/stderr
            // (go-runc reads them to EOF when creating a tty container).
            RedirectStandardInput = ttyPath is not null,
            RedirectStandardOutput = ttyPath is not null,
            RedirectStandardError = ttyPath is not null,
        };
        psi.ArgumentList.Add("--root");
        psi.ArgumentList.Add(ctx.Store.Root);
        if (ctx.Options.LogPath is not null)
        {
            psi.ArgumentList.Add("--log");
            psi.ArgumentList.Add(ctx.Options.LogPath);
            psi.ArgumentList.Add("--log-format");
            psi.ArgumentList.Add(ctx.Options.LogFormat);
        }
        if (ctx.Options.Debug)
        {
            psi.ArgumentList.Add("--debug");
        }
        foreach (string a in verbArgs)
        {
            psi.ArgumentList.Add(a);
        }
        if (ttyPath is not null)
        {
            psi.ArgumentList.Add("--tty");
            psi.ArgumentList.Add(ttyPath);
        }
        psi.ArgumentList.Add(id);
        Process p = Process.Start(psi) ?? throw new VmSandboxException(ErrorCode.Internal, $"start {verbArgs[0]}");
        if (ttyPath is not null)
        {
            p.StandardInput.Close();
            p.StandardOutput.Close();
            p.StandardError.Close();
        }
        return p;
    }
}
