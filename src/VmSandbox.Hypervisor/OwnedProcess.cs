using System.Diagnostics;
using VmSandbox.Common;

namespace VmSandbox.Hypervisor;

/// <summary>
/// Starts helper processes (QEMU, virtiofsd) that must never outlive their owner: each is
/// started through util-linux's <c>setpriv --pdeathsig KILL</c> from a dedicated thread that
/// lives until the process exits, because the kernel's parent-death signal follows the forking
/// <em>thread</em> and pool threads come and go.
/// </summary>
internal static class OwnedProcess
{
    public const string SetprivPath = "/usr/bin/setpriv";

    /// <summary>A start info for <paramref name="program"/>, wrapped in setpriv when it exists.</summary>
    public static ProcessStartInfo StartInfo(string program, IEnumerable<string> args)
    {
        bool tie = File.Exists(SetprivPath);
        var psi = new ProcessStartInfo(tie ? SetprivPath : program)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        if (tie)
        {
            foreach (string arg in (string[])["--pdeathsig", "KILL", "--", program])
            {
                psi.ArgumentList.Add(arg);
            }
        }
        foreach (string arg in args)
        {
            psi.ArgumentList.Add(arg);
        }
        return psi;
    }

    /// <summary>
    /// Runs <paramref name="prepare"/> and then starts the process, both on a new dedicated
    /// thread: per-thread state that <paramref name="prepare"/> sets (a private mount namespace)
    /// is what the child inherits.
    /// </summary>
    public static Process Start(ProcessStartInfo psi, string threadName, Action? prepare = null)
    {
        Process? process = null;
        Exception? error = null;
        using var started = new ManualResetEventSlim();
        var thread = new Thread(() =>
        {
            try
            {
                prepare?.Invoke();
                process = Process.Start(psi);
            }
            catch (Exception e)
            {
                error = e;
            }
            started.Set();
            try
            {
                process?.WaitForExit();
            }
            catch (Exception e) when (e is InvalidOperationException or ObjectDisposedException)
            {
                // Disposed by its owner after it exited: nothing left to wait for.
            }
        })
        { IsBackground = true, Name = threadName };
        thread.Start();
        started.Wait();
        if (error is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(error).Throw();
        }
        return process ?? throw new VmSandboxException(ErrorCode.Vm, $"{psi.FileName} did not start");
    }
}
