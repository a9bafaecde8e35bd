using VmSandbox.Common;

namespace VmSandbox.Oci;

/// <summary>
/// The one container ID rule, for the host (IDs name directories and sockets) and the guest
/// agent alike. runc's characters: letters, digits and <c>_ . + -</c>, not "." or "..". At most
/// <see cref="MaxLength"/> characters: stricter than runc's 1024 because Unix socket paths under
/// the state directory are short (108 bytes).
/// </summary>
public static class ContainerIdValidator
{
    public const int MaxLength = 128;

    public static bool IsValid(string id) => Problem(id) is null;

    /// <summary>Throws InvalidArgument, naming what is wrong: <c>invalid id "a/b": id may contain only …</c>.</summary>
    public static void Validate(string id)
    {
        if (Problem(id) is { } problem)
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, $"invalid id \"{Shorten(id)}\": id {problem}");
        }
    }

    private static string? Problem(string id) => id switch
    {
        "" => "is empty",
        "." or ".." => "is a relative path component",
        _ when id.Length > MaxLength => $"is longer than {MaxLength} characters",
        _ when !id.All(IsAllowed) => "may contain only letters, digits and _ . + -",
        _ => null,
    };

    private static bool IsAllowed(char c) => char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '+' or '-';

    private static string Shorten(string id) => id.Length > 40 ? id[..40] + "…" : id;
}
