using System.Runtime.InteropServices;

namespace VmSandbox.Interop;

/// <summary>
/// The one retry-on-EINTR loop: a blocking call that a signal interrupted (it returned a negative
/// value with errno EINTR) is made again. Any other result comes back as it is, and on failure its
/// errno is still in <see cref="Marshal.GetLastPInvokeError"/> (Tmds.Linux's LibC.errno) for the
/// caller, who decides what EAGAIN, ECHILD and the rest mean.
/// </summary>
public static class Eintr
{
    public const int EINTR = 4;

    /// <summary>Calls <paramref name="call"/> until it does not fail with EINTR; returns its last result.</summary>
    public static int Retry(Func<int> call)
    {
        while (true)
        {
            int rc = call();
            if (rc >= 0 || Marshal.GetLastPInvokeError() != EINTR)
            {
                return rc;
            }
        }
    }

    /// <summary>The ssize_t form of <see cref="Retry(Func{int})"/> (read, write, sendmsg, ...).</summary>
    public static long Retry(Func<long> call)
    {
        while (true)
        {
            long rc = call();
            if (rc >= 0 || Marshal.GetLastPInvokeError() != EINTR)
            {
                return rc;
            }
        }
    }
}
