using System.Text;

namespace VmSandbox.Interop;

/// <summary>NUL-terminated UTF-8 strings for syscalls that take a path or name.</summary>
internal static class CString
{
    public static byte[] Utf8(string s)
    {
        byte[] b = new byte[Encoding.UTF8.GetByteCount(s) + 1];
        Encoding.UTF8.GetBytes(s, b);
        return b;
    }
}
