using System.Runtime.InteropServices;
using Tmds.Linux;

namespace VmSandbox.Interop;

/// <summary>A shared read-write mapping of a file descriptor (mmap/munmap).</summary>
public sealed unsafe class MappedRegion : SafeHandle
{
    private MappedRegion(nint address, ulong length)
        : base(IntPtr.Zero, ownsHandle: true)
    {
        SetHandle(address);
        Length = length;
    }

    public ulong Length { get; }

    /// <summary>The start of the mapping; only valid while this handle is alive and not disposed.</summary>
    public byte* Pointer => (byte*)handle;

    /// <summary>The start of the mapping as an address (same validity as <see cref="Pointer"/>).</summary>
    public nint Address => handle;

    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <summary>mmap(NULL, length, PROT_READ|PROT_WRITE, MAP_SHARED, fd, 0).</summary>
    public static MappedRegion MapShared(SafeHandle fd, ulong length, string what)
    {
        if (length == 0 || length > long.MaxValue)
        {
            throw SyscallError.Create("mmap", what, LibC.EINVAL);
        }
        bool added = false;
        fd.DangerousAddRef(ref added);
        try
        {
            // SAFETY: a fresh mapping chosen by the kernel (addr NULL); it overlaps nothing we own.
            void* p = LibC.mmap(null, (size_t)length, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED,
                (int)fd.DangerousGetHandle().ToInt64(), 0);
            if (p == LibC.MAP_FAILED)
            {
                throw SyscallError.Create("mmap", what, LibC.errno);
            }
            return new MappedRegion((nint)p, length);
        }
        finally
        {
            if (added)
            {
                fd.DangerousRelease();
            }
        }
    }

    /// <summary>
    /// Anonymous memory of <paramref name="length"/> bytes between two PROT_NONE guard pages, so
    /// that any access just outside it faults (used by tests to prove bounds checks).
    /// Returns the mapping and the offset of the usable part.
    /// </summary>
    public static MappedRegion MapGuarded(ulong length, out ulong usableOffset)
    {
        ulong page = (ulong)Environment.SystemPageSize;
        ulong body = (length + page - 1) / page * page;
        ulong total = body + 2 * page;
        // SAFETY: a fresh anonymous mapping chosen by the kernel.
        void* p = LibC.mmap(null, (size_t)total, LibC.PROT_NONE, LibC.MAP_PRIVATE | LibC.MAP_ANONYMOUS, -1, 0);
        if (p == LibC.MAP_FAILED)
        {
            throw SyscallError.Create("mmap", "(anonymous)", LibC.errno);
        }
        // SAFETY: the range [p + page, p + page + body) lies inside the mapping just created.
        if (LibC.mprotect((byte*)p + page, (size_t)body, LibC.PROT_READ | LibC.PROT_WRITE) < 0)
        {
            int errno = LibC.errno;
            _ = LibC.munmap(p, (size_t)total);
            throw SyscallError.Create("mprotect", "(anonymous)", errno);
        }
        // Place the usable bytes right before the upper guard page.
        usableOffset = page + body - length;
        return new MappedRegion((nint)p, total);
    }

    protected override bool ReleaseHandle()
    {
        // SAFETY: handle/Length describe a mapping this object created and nobody else unmaps.
        return LibC.munmap((void*)handle, (size_t)Length) == 0;
    }
}
