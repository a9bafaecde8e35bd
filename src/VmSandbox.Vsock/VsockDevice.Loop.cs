using VmSandbox.Interop;
using VmSandbox.Virtio.VhostUser;

namespace VmSandbox.Vsock;

internal sealed partial class VsockDevice : IDisposable
{
    private const ulong WakeToken = ulong.MaxValue;
    private readonly Epoll _epoll = new();
    private readonly SafeFd _wakeFd = EventFd.Create();
    private Thread? _thread;
    private volatile bool _stopping;
    private bool _registeredWake;

    /// <summary>Asks the event loop to run <see cref="Process"/> soon (any thread).</summary>
    public void Wake()
    {
        try
        {
            EventFd.Signal(_wakeFd);
        }
        catch (ObjectDisposedException)
        {
            // Host I/O finishing after the device stopped: nothing left to wake.
        }
    }

    public void StartLoop()
    {
        _epoll.Add(_wakeFd, WakeToken);
        _registeredWake = true;
        _thread = new Thread(Loop) { IsBackground = true, Name = "vsock-device" };
        _thread.Start();
    }

    /// <summary>Installs a ring's kick fd (under the gate) and watches it.</summary>
    public void SetKick(Vring vring, SafeFd? fd)
    {
        if (vring.Kick is { } old)
        {
            _epoll.Remove(old);
        }
        vring.ReplaceKick(fd);
        if (fd is not null)
        {
            _epoll.Add(fd, (ulong)vring.Index);
        }
    }

    /// <summary>Stops the loop thread, then releases fds (caller must not hold the gate).</summary>
    public void Dispose()
    {
        _stopping = true;
        if (_registeredWake)
        {
            EventFd.Signal(_wakeFd);
        }
        _thread?.Join();
        lock (Muxer.Gate)
        {
            foreach (Vring vring in Vrings)
            {
                SetKick(vring, null);
                vring.Dispose();
            }
        }
        _epoll.Dispose();
        _wakeFd.Dispose();
    }

    private void Loop()
    {
        Span<ulong> tokens = stackalloc ulong[8];
        int errors = 0;
        bool more = false;
        while (!_stopping)
        {
            try
            {
                int n = _epoll.Wait(tokens, more ? 0 : -1);
                lock (Muxer.Gate)
                {
                    if (_stopping)
                    {
                        break;
                    }
                    for (int i = 0; i < n; i++)
                    {
                        if (tokens[i] == WakeToken)
                        {
                            EventFd.TryDrain(_wakeFd);
                        }
                        else if (tokens[i] < (ulong)Vrings.Length && Vrings[(int)tokens[i]].Kick is { } kick)
                        {
                            EventFd.TryDrain(kick);
                        }
                    }
                    more = Process();
                }
            }
            catch (Exception e)
            {
                // Never let a bad guest (or a bug) end the loop; log a bounded number of times.
                more = false;
                if (++errors <= 16)
                {
                    Log?.Invoke($"vsock device loop: {VmSandbox.Common.VmSandboxException.FormatChain(e)}");
                }
                Thread.Sleep(1);
            }
        }
    }
}
