namespace VmSandbox.Tests.Unit.Fuzzing;

/// <summary>An input that broke the target's contract, and how (the exception, "took 7.2 s", "allocated 300 MB").</summary>
internal sealed record FuzzCrash(long Index, byte[] Input, string What, string? SavedAt)
{
    public string Describe(int seed) =>
        $"input #{Index} (VMSANDBOX_FUZZ_SEED={seed}), {Input.Length} bytes{(SavedAt is null ? "" : $", saved as {SavedAt}")}\n" +
        $"  base64: {Convert.ToBase64String(Input)}\n  hex: {Convert.ToHexString(Input.AsSpan(0, Math.Min(Input.Length, 512)))}{(Input.Length > 512 ? "…" : "")}\n  {What}";
}
