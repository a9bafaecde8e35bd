using System.Runtime.InteropServices;

namespace VmSandbox.Interop;

/// <summary>personality(2): the execution domain and flags of the calling thread, which its children and their execve(2)s inherit.</summary>
public static partial class Personality
{
    /// <summary>PER_LINUX: the default domain, no flags.</summary>
    public const uint PerLinux = 0;

    /// <summary>PER_LINUX32.</summary>
    public const uint PerLinux32 = 0x0008;

    /// <summary>ADDR_NO_RANDOMIZE: the next execve lays the process out at fixed addresses (no ASLR).</summary>
    public const uint AddrNoRandomize = 0x0040000;

    [LibraryImport("libc", EntryPoint = "personality", SetLastError = true)]
    private static partial int personality(uint persona);

    /// <summary>Sets the calling thread's personality; returns the previous one.</summary>
    public static uint Set(uint persona)
    {
        int previous = personality(persona);
        if (previous < 0)
        {
            throw SyscallError.Create("personality", $"0x{persona:x}", Marshal.GetLastPInvokeError());
        }
        return (uint)previous;
    }
}
