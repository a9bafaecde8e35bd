using System.Runtime.InteropServices;
using System.Text;

namespace VmSandbox.Interop;

/// <summary>A NULL-terminated array of NUL-terminated UTF-8 strings in native memory (argv, envp).</summary>
public sealed unsafe class CStringArray : IDisposable
{
    private readonly int _count;
    private byte** _array;

    public CStringArray(IReadOnlyList<string> items)
    {
        _count = items.Count;
        _array = (byte**)NativeMemory.AllocZeroed((nuint)(_count + 1), (nuint)sizeof(byte*));
        for (int i = 0; i < _count; i++)
        {
            int len = Encoding.UTF8.GetByteCount(items[i]);
            byte* s = (byte*)NativeMemory.Alloc((nuint)len + 1);
            // SAFETY: s holds len + 1 bytes; GetBytes writes exactly len of them.
            Encoding.UTF8.GetBytes(items[i], new Span<byte>(s, len));
            s[len] = 0;
            _array[i] = s;
        }
    }

    /// <summary>The array; valid until disposed.</summary>
    public byte** Pointer => _array;

    public void Dispose()
    {
        if (_array is null)
        {
            return;
        }
        for (int i = 0; i < _count; i++)
        {
            // SAFETY: each entry was allocated by NativeMemory.Alloc in the constructor.
            NativeMemory.Free(_array[i]);
        }
        NativeMemory.Free(_array);
        _array = null;
    }
}
