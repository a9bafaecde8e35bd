using System.Text;

namespace VmSandbox.Common;

/// <summary>
/// The one exception root of the project. Messages are lowercase, put context first and never
/// repeat the inner exception's message: <see cref="FormatChain"/> prints the whole chain once
/// (Cloud Hypervisor's rule), e.g. "start vm for sandbox 3f2a: qemu exited with code 1".
/// </summary>
public partial class VmSandboxException : Exception
{
    public VmSandboxException(ErrorCode code, string message, Exception? inner = null)
        : base(message, inner)
    {
        Code = code;
    }

    public VmSandboxException()
        : this(ErrorCode.Internal, "internal error")
    {
    }

    public VmSandboxException(string message)
        : this(ErrorCode.Internal, message)
    {
    }

    public VmSandboxException(string message, Exception inner)
        : this(ErrorCode.Internal, message, inner)
    {
    }

    public ErrorCode Code { get; }

    /// <summary>An optional hint telling the user how to fix the problem (a command to run).</summary>
    public string? Hint { get; init; }

    /// <summary>The message chain "outer: inner: innermost", each level printed once.</summary>
    public static string FormatChain(Exception e)
    {
        var sb = new StringBuilder();
        string? hint = null;
        for (Exception? cur = e; cur is not null; cur = cur.InnerException)
        {
            if (sb.Length > 0)
            {
                sb.Append(": ");
            }
            sb.Append(cur.Message);
            if (cur is VmSandboxException { Hint: not null } v)
            {
                hint ??= v.Hint;
            }
        }
        if (hint is not null)
        {
            sb.Append(" (fix: ").Append(hint).Append(')');
        }
        return sb.ToString();
    }

    /// <summary>The code of the outermost <see cref="VmSandboxException"/> in the chain.</summary>
    public static ErrorCode CodeOf(Exception e)
    {
        for (Exception? cur = e; cur is not null; cur = cur.InnerException)
        {
            if (cur is VmSandboxException v)
            {
                return v.Code;
            }
        }
        return ErrorCode.Internal;
    }
}
