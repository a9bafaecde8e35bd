using System.Text;
using VmSandbox.Common;

namespace VmSandbox.Runtime.Sandbox;

/// <summary>
/// Reads a peer's whole message (it closes after it) up to a size: what the monitor and the CLI
/// tell each other (reports, control answers) may carry text that began in the guest, and no
/// reader keeps more than <see cref="MaxBytes"/> of it (issue 15: every message bounded in size
/// and time; the time is the caller's token).
/// </summary>
public static class BoundedText
{
    /// <summary>Far above any report (an error chain of a few lines): a bigger one is a broken peer.</summary>
    public const int MaxBytes = 1 << 20;

    public static async Task<string> ReadToEndAsync(Stream stream, string what, CancellationToken ct, int maxBytes = MaxBytes)
    {
        byte[] buffer = new byte[Math.Min(maxBytes + 1, 64 * 1024)];
        using var text = new MemoryStream();
        while (true)
        {
            int n = await stream.ReadAsync(buffer, ct);
            if (n == 0)
            {
                return Encoding.UTF8.GetString(text.GetBuffer(), 0, (int)text.Length);
            }
            if (text.Length + n > maxBytes)
            {
                throw new VmSandboxException(ErrorCode.Protocol, $"{what}: more than {maxBytes} bytes");
            }
            text.Write(buffer, 0, n);
        }
    }
}
