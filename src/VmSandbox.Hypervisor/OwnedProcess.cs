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

    /// <summary>CAP_SETPCAP: shrinking a child's bounding set needs it (capabilities(7)).</summary>
    private const int CapSetpcap = 8;

    /// <summary>
    /// A start info for <paramref name="program"/>, wrapped in setpriv when it exists. With
    /// <paramref name="keepCaps"/> (setpriv's names, e.g. "net_admin"), the child's bounding set
    /// is those alone and it gets no new privileges: started as root it then holds only them
    /// (capabilities(7): a root exec gets its bounding set). Without CAP_SETPCAP (a runtime that
    /// is not root) there is nothing to drop, and the child runs as its owner does.
    /// </summary>
    public static ProcessStartInfo StartInfo(string program, IEnumerable<string> args, IReadOnlyList<string>? keepCaps = null)
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
            psi.ArgumentList.Add("--pdeathsig");
            psi.ArgumentList.Add("KILL");
            if (keepCaps is not null && HasEffectiveCap(CapSetpcap))
            {
                psi.ArgumentList.Add("--bounding-set");
                psi.ArgumentList.Add(string.Concat(keepCaps.Select(c => ",+" + c).Prepend("-all")));
                psi.ArgumentList.Add("--no-new-privs");
            }
            psi.ArgumentList.Add("--");
            psi.ArgumentList.Add(program);
        }
        foreach (string arg in args)
        {
            psi.ArgumentList.Add(arg);
        }
        return psi;
    }

    /// <summary>Whether this process holds <paramref name="cap"/> in its effective set (/proc/self/status CapEff).</summary>
    internal static bool HasEffectiveCap(int cap)
    {
        foreach (string line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("CapEff:", StringComparison.Ordinal))
            {
                return (ulong.Parse(line.AsSpan(7).Trim(), System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture) & (1UL << cap)) != 0;
            }
        }
        return false;
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
