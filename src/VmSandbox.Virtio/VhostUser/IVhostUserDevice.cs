using VmSandbox.Interop;

namespace VmSandbox.Virtio.VhostUser;

/// <summary>
/// What <see cref="VhostUserHandler"/> needs from a device (vsock today; net or block would
/// implement the same): the lock its data path runs under, its rings, its kick fds, its
/// configuration space and a reset when the front-end goes away.
/// </summary>
public interface IVhostUserDevice
{
    /// <summary>The lock the data path holds; every vhost-user message is applied under it.</summary>
    Lock Gate { get; }

    /// <summary>The rings the back-end serves, by vring index.</summary>
    IReadOnlyList<Vring> Vrings { get; }

    /// <summary>The virtio device configuration space (GET_CONFIG reads from it).</summary>
    ReadOnlySpan<byte> Config { get; }

    /// <summary>Installs (or with null removes) a ring's kick fd; called under <see cref="Gate"/>.</summary>
    void SetKick(Vring vring, SafeFd? fd);

    /// <summary>Asks the data path to run soon (after each message); any thread.</summary>
    void Wake();

    /// <summary>The front-end disconnected and the rings are stopped: drop the device's state; called under <see cref="Gate"/>.</summary>
    void Reset();
}
