using VmSandbox.Interop;

namespace VmSandbox.Virtio.VhostUser;

/// <summary>
/// One vhost-user ring: the virtqueue plus its kick/call/err eventfds and the rst "ring
/// states" (stopped until a kick fd arrives, stopped again by GET_VRING_BASE; enabled by
/// SET_VRING_ENABLE or by SET_FEATURES without PROTOCOL_FEATURES).
/// </summary>
public sealed class Vring : IDisposable
{
    public Vring(int index, string name, Action<string>? log)
    {
        Index = index;
        Queue = new Virtqueue(name, log);
    }

    public int Index { get; }

    public Virtqueue Queue { get; }

    public SafeFd? Kick { get; private set; }

    public SafeFd? Call { get; private set; }

    public SafeFd? Err { get; private set; }

    public bool Started { get; set; }

    public bool Enabled { get; set; }

    public bool IsRunning => Started && Queue.IsActive;

    public void ReplaceKick(SafeFd? fd)
    {
        Kick?.Dispose();
        Kick = fd;
    }

    public void ReplaceCall(SafeFd? fd)
    {
        Call?.Dispose();
        Call = fd;
    }

    public void ReplaceErr(SafeFd? fd)
    {
        Err?.Dispose();
        Err = fd;
    }

    /// <summary>Interrupts the guest when the driver asked for it (flags or EVENT_IDX).</summary>
    public void NotifyIfNeeded()
    {
        if (Queue.ShouldNotify() && Call is { } call)
        {
            EventFd.Signal(call);
        }
    }

    public void Dispose()
    {
        ReplaceKick(null);
        ReplaceCall(null);
        ReplaceErr(null);
        Started = false;
        Queue.Deactivate();
    }
}
