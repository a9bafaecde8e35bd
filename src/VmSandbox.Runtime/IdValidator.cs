using VmSandbox.Common;

namespace VmSandbox.Runtime;

/// <summary>
/// Container/sandbox IDs become directory and socket names: only [A-Za-z0-9_.+-], not "." or
/// "..", at most 128 characters (stricter than runc's 1024 because Unix socket paths are short).
/// </summary>
public static class IdValidator
{
    public const int MaxLength = 128;

    public static void Validate(string id)
    {
        string? problem = id switch
        {
            "" => "is empty",
            "." or ".." => "is a relative path component",
            _ when id.Length > MaxLength => $"is longer than {MaxLength} characters",
            _ when !id.All(IsAllowed) => "may contain only letters, digits and _ . + -",
            _ => null,
        };
        if (problem is not null)
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, $"invalid id \"{Shorten(id)}\": id {problem}");
        }
    }

    private static bool IsAllowed(char c) => char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '+' or '-';

    private static string Shorten(string id) => id.Length > 40 ? id[..40] + "…" : id;
}
