using System.Runtime.InteropServices;

namespace VmSandbox.Interop;

/// <summary>sched_setscheduler(2) on the calling thread; setpriority(2) (nice) of one thread.</summary>
public static unsafe partial class Scheduling
{
    // linux/sched.h
    private const int SCHED_OTHER = 0;
    private const int SCHED_BATCH = 3;
    private const int SCHED_IDLE = 5;

    /// <summary>struct sched_param.</summary>
    // C name kept on purpose (STYLE.md).
#pragma warning disable CS8981
    [StructLayout(LayoutKind.Sequential)]
    private struct sched_param
    {
        public int sched_priority;
    }
#pragma warning restore CS8981

    [LibraryImport("libc", EntryPoint = "sched_setscheduler", SetLastError = true)]
    private static partial int sched_setscheduler(int pid, int policy, sched_param* param);

    /// <summary>
    /// SCHED_BATCH for the calling thread (pid 0 is the caller's thread on Linux): same share of
    /// the CPU, but its wake-ups never preempt a running task (sched(7)); it runs when the CPU is
    /// idle, another CPU is free, or at the next tick. False if the kernel refused (no error:
    /// callers use it as a hint).
    /// </summary>
    public static bool TrySetCallingThreadBatch()
    {
        var param = new sched_param();
        // SAFETY: &param is a local struct the call only reads.
        return sched_setscheduler(0, SCHED_BATCH, &param) == 0;
    }

    /// <summary>
    /// SCHED_IDLE for the calling thread: it runs only when nothing else of any other policy
    /// wants the CPU (sched(7)). False if the kernel refused.
    /// </summary>
    public static bool TrySetCallingThreadIdle()
    {
        var param = new sched_param();
        // SAFETY: &param is a local struct the call only reads.
        return sched_setscheduler(0, SCHED_IDLE, &param) == 0;
    }

    /// <summary>SCHED_OTHER, the default policy, for thread <paramref name="tid"/> (0: the calling thread; a pre-spawned container init once claimed).</summary>
    public static void SetThreadNormal(int tid = 0)
    {
        var param = new sched_param();
        // SAFETY: &param is a local struct the call only reads.
        SyscallError.ThrowIfNegative(sched_setscheduler(tid, SCHED_OTHER, &param), "sched_setscheduler");
    }

    private const int PRIO_PROCESS = 0;

    [LibraryImport("libc", EntryPoint = "setpriority", SetLastError = true)]
    private static partial int setpriority(int which, int who, int prio);

    /// <summary>
    /// The nice value of thread <paramref name="tid"/> (0: the calling thread; on Linux it is per
    /// thread, and threads created later inherit their creator's). False if the kernel refused.
    /// </summary>
    public static bool TrySetNice(int tid, int nice) => setpriority(PRIO_PROCESS, tid, nice) == 0;
}
