using System.Diagnostics;
using VmSandbox.Common;

namespace VmSandbox.Runtime.Sandbox;

/// <summary>
/// The runtime's own long-lived helpers, the runtime binary under a hidden verb: the sandbox
/// monitor (started by create) and the exec relay (started by exec --detach).
/// </summary>
public static class HelperProcess
{
    /// <summary>
    /// Starts <c>EXE GLOBALARGS… VERB ARGS… [--tty P] ID</c> as our child, which .NET reaps: for a
    /// caller that waits for it (the containerd shim). A CLI call that hands the PID on starts
    /// <see cref="UnreapedHelper"/> instead. With a tty the helper uses the pty: it must not hold
    /// the caller's stdout/stderr (go-runc reads them to EOF when creating a tty container).
    /// </summary>
    /// With <paramref name="pipeStdio"/> (and no tty) its stdio are pipes the caller keeps.
    public static Process Start(string executable, IReadOnlyList<string> globalArgs, IReadOnlyList<string> verbArgs, string id, string? ttyPath, bool pipeStdio = false)
    {
        bool redirect = ttyPath is not null || pipeStdio;
        var psi = new ProcessStartInfo(executable)
        {
            UseShellExecute = false,
            RedirectStandardInput = redirect,
            RedirectStandardOutput = redirect,
            RedirectStandardError = redirect,
        };
        foreach (string a in Arguments(globalArgs, verbArgs, id, ttyPath))
        {
            psi.ArgumentList.Add(a);
        }
        // A helper outlives its caller: it must not keep the caller's own descriptors (a lock
        // held by whoever ran us, a pipe its reader waits on for EOF), as runc closes them.
        _ = Interop.ProcessCalls.TrySetCloseOnExecFrom(3);
        Process p = Process.Start(psi) ?? throw new VmSandboxException(ErrorCode.Internal, $"start {verbArgs[0]}");
        if (ttyPath is not null)
        {
            p.StandardInput.Close();
            p.StandardOutput.Close();
            p.StandardError.Close();
        }
        return p;
    }

    /// <summary>A helper's arguments after the executable: <c>GLOBALARGS… VERB ARGS… [--tty P] ID</c>.</summary>
    public static List<string> Arguments(IReadOnlyList<string> globalArgs, IReadOnlyList<string> verbArgs, string id, string? ttyPath) =>
        [.. globalArgs, .. verbArgs, .. ttyPath is null ? Array.Empty<string>() : ["--tty", ttyPath], id];
}
