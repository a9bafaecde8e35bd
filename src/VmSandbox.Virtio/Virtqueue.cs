using System.Runtime.CompilerServices;

namespace VmSandbox.Virtio;

/// <summary>
/// The device side of one split virtqueue (virtio 1.2 §2.7) living in guest memory.
/// Collaborators: <see cref="GuestMemory"/> translates and bounds-checks every address; the
/// vhost-user layer configures it (size, ring addresses, base) and owns its kick/call fds; the
/// vsock device pops chains from it and pushes used entries.
/// Everything in guest memory is untrusted and may change under us: each field is read once
/// into a local and validated there. A corrupt ring (bogus avail idx, head out of range) marks
/// the queue broken; a corrupt chain is returned to the guest with used len 0 and skipped.
/// Not thread-safe: the owner serialises access (the device lock).
/// </summary>
public sealed partial class Virtqueue
{
    public const int MaxSize = 32768;
    private const ushort AvailFNoInterrupt = 1;

    private readonly string _name;
    private readonly Action<string>? _log;
    private GuestMemory _memory = GuestMemory.Empty;
    private nint _desc;
    private nint _avail;
    private nint _used;
    private ushort _usedIdx;
    private ushort _usedAtLastNotify;

    public Virtqueue(string name, Action<string>? log = null)
    {
        _name = name;
        _log = log;
    }

    /// <summary>Queue size (number of descriptors); 0 until SET_VRING_NUM.</summary>
    public ushort Size { get; private set; }

    public ulong DescAddr { get; private set; }

    public ulong AvailAddr { get; private set; }

    public ulong UsedAddr { get; private set; }

    /// <summary>The next avail ring position the device will process.</summary>
    public ushort LastAvailIdx { get; private set; }

    public bool EventIdx { get; private set; }

    public bool IndirectDesc { get; private set; }

    /// <summary>Ring addresses translated and valid under the current memory table.</summary>
    public bool IsActive => _desc != 0 && !IsBroken;

    public bool IsBroken { get; private set; }

    /// <summary>Chains returned with used len 0 because they were malformed.</summary>
    public long DroppedChains { get; private set; }

    public bool TrySetSize(uint num)
    {
        if (num == 0 || num > MaxSize || (num & (num - 1)) != 0)
        {
            return false;
        }
        Size = (ushort)num;
        Deactivate();
        return true;
    }

    public void SetAddresses(ulong desc, ulong used, ulong avail)
    {
        DescAddr = desc;
        UsedAddr = used;
        AvailAddr = avail;
        Deactivate();
    }

    public void SetBase(ushort lastAvailIdx)
    {
        LastAvailIdx = lastAvailIdx;
    }

    /// <summary>
    /// Translates the ring addresses through <paramref name="memory"/> (front-end VAs when
    /// <paramref name="addressesAreVa"/>, else GPAs) and checks sizes and alignment. The next used
    /// index is read from used->idx, as rust-vmm and libvhost-user do.
    /// </summary>
    public bool TryActivate(GuestMemory memory, bool eventIdx, bool indirectDesc, bool addressesAreVa = true)
    {
        Deactivate();
        IsBroken = false;
        EventIdx = eventIdx;
        IndirectDesc = indirectDesc;
        if (Size == 0)
        {
            return false;
        }
        ulong q = Size;
        // virtio 1.2 §2.7: alignment 16 / 2 / 4 and sizes 16Q / 6+2Q / 6+8Q.
        if ((DescAddr & 15) != 0 || (AvailAddr & 1) != 0 || (UsedAddr & 3) != 0
            || !Translate(memory, addressesAreVa, DescAddr, 16 * q, out nint desc)
            || !Translate(memory, addressesAreVa, AvailAddr, 6 + 2 * q, out nint avail)
            || !Translate(memory, addressesAreVa, UsedAddr, 6 + 8 * q, out nint used))
        {
            MarkBroken("ring addresses outside guest memory or misaligned");
            return false;
        }
        _memory = memory;
        _desc = desc;
        _avail = avail;
        _used = used;
        _usedIdx = ReadU16(_used + 2);
        _usedAtLastNotify = _usedIdx;
        return true;
    }

    /// <summary>Forgets the translated ring pointers (memory table change, ring stop).</summary>
    public void Deactivate()
    {
        _desc = 0;
        _avail = 0;
        _used = 0;
    }

    /// <summary>
    /// Pops the next available chain into <paramref name="chain"/>. Malformed chains are
    /// returned to the guest (used len 0) and skipped; a corrupt ring breaks the queue.
    /// </summary>
    public PopResult TryPop(DescriptorChain chain)
    {
        while (true)
        {
            if (!IsActive)
            {
                return IsBroken ? PopResult.Broken : PopResult.Empty;
            }
            ushort availIdx = ReadU16(_avail + 2);
            ushort pending = (ushort)(availIdx - LastAvailIdx);
            if (pending == 0)
            {
                return PopResult.Empty;
            }
            if (pending > Size)
            {
                MarkBroken($"avail idx {availIdx} is {pending} ahead of {LastAvailIdx}, more than the queue size");
                return PopResult.Broken;
            }
            // virtio 1.2 §2.7.13.3: read the ring entry only after avail->idx (acquire).
            Interlocked.MemoryBarrier();
            ushort head = ReadU16(_avail + 4 + (2 * (LastAvailIdx & (Size - 1))));
            if (head >= Size)
            {
                MarkBroken($"avail ring head {head} out of range");
                return PopResult.Broken;
            }
            LastAvailIdx++;
            if (TryWalkChain(head, chain, out string? why))
            {
                return PopResult.Chain;
            }
            DroppedChains++;
            if (DroppedChains <= 16)
            {
                _log?.Invoke($"virtqueue {_name}: dropping chain {head}: {why}");
            }
            AddUsed(head, 0);
        }
    }

    /// <summary>Puts the last popped chain back (the device had nothing to write into it).</summary>
    public void UndoPop()
    {
        LastAvailIdx--;
    }

    /// <summary>Returns a chain to the driver with <paramref name="len"/> bytes written.</summary>
    public void AddUsed(ushort head, uint len)
    {
        if (!IsActive)
        {
            return;
        }
        nint elem = _used + 4 + (8 * (_usedIdx & (Size - 1)));
        WriteU32(elem, head);
        WriteU32(elem + 4, len);
        _usedIdx++;
        // virtio 1.2 §2.7.14: the element must be visible before used->idx (release).
        WriteU16(_used + 2, _usedIdx);
    }

    /// <summary>
    /// Publishes that the device wants a kick for anything after <see cref="LastAvailIdx"/> and
    /// returns true when more buffers arrived meanwhile (so the caller loops, no lost wake-up).
    /// </summary>
    public bool EnableNotificationAndCheck()
    {
        if (!IsActive)
        {
            return false;
        }
        if (EventIdx)
        {
            // avail_event sits after the used ring: used + 4 + 8Q (virtio 1.2 §2.7.10).
            WriteU16(_used + 4 + (8 * Size), LastAvailIdx);
        }
        else
        {
            WriteU16(_used, 0);
        }
        Interlocked.MemoryBarrier();
        return ReadU16(_avail + 2) != LastAvailIdx;
    }

    /// <summary>Whether the driver wants an interrupt for the used entries added since the last call.</summary>
    public bool ShouldNotify()
    {
        if (!IsActive)
        {
            return false;
        }
        ushort oldIdx = _usedAtLastNotify;
        ushort newIdx = _usedIdx;
        _usedAtLastNotify = newIdx;
        if (oldIdx == newIdx)
        {
            return false;
        }
        // Order our used->idx store before reading the driver's used_event / flags.
        Interlocked.MemoryBarrier();
        if (EventIdx)
        {
            ushort usedEvent = ReadU16(_avail + 4 + (2 * Size));
            // vring_need_event (virtio 1.2 §2.7.10).
            return (ushort)(newIdx - usedEvent - 1) < (ushort)(newIdx - oldIdx);
        }
        return (ReadU16(_avail) & AvailFNoInterrupt) == 0;
    }

    private static bool Translate(GuestMemory memory, bool va, ulong addr, ulong len, out nint host)
    {
        return va ? memory.TryTranslateVa(addr, len, out host) : memory.TryTranslateGpa(addr, len, out host);
    }

    // The only raw accesses to ring memory. Callers pass addresses inside the desc/avail/used
    // ranges that TryActivate validated against the current memory table.

    private static ushort ReadU16(nint p)
    {
        unsafe
        {
            // SAFETY: p + 2 lies inside a validated ring range of a live mapping; volatile
            // because the guest writes it concurrently (acquire for avail->idx).
            return Volatile.Read(ref Unsafe.AsRef<ushort>((void*)p));
        }
    }

    private static void WriteU16(nint p, ushort value)
    {
        unsafe
        {
            // SAFETY: as in ReadU16; volatile so used->idx is published after the element (release).
            Volatile.Write(ref Unsafe.AsRef<ushort>((void*)p), value);
        }
    }

    private static void WriteU32(nint p, uint value)
    {
        unsafe
        {
            // SAFETY: p + 4 lies inside the validated used ring of a live mapping.
            Unsafe.WriteUnaligned((void*)p, value);
        }
    }

    private void MarkBroken(string why)
    {
        if (!IsBroken)
        {
            _log?.Invoke($"virtqueue {_name}: broken: {why}");
        }
        IsBroken = true;
        Deactivate();
    }
}
