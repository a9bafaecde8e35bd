using System.Text;

namespace VmSandbox.Tests.Unit.Fuzzing;

/// <summary>Seed and token helpers shared by the fuzz targets.</summary>
internal static class FuzzSeeds
{
    /// <summary>What JSON values become: wrong types, nulls, empty and huge things, bad strings.</summary>
    public static readonly string[] JsonTokens =
    [
        "null", "true", "false", "0", "-1", "[]", "{}", "\"\"", "[null]", "{\"\":null}", "\"\\u0000\"", "\"\\ud800\"", "\"/../..\"",
        "\"..\"", "\"/\"", "\"a\\u0000b\"", "1e400", "-9223372036854775809", "18446744073709551616", "[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]",
        "\"bind\"", "\"rbind\"", "\"0-4095\"", "\"0-2147483647\"", "\"sandbox\"", ",", ":", "{", "}", "[", "]", "\"", "\\",
    ];

    public static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    /// <summary>Fixed-seed random bytes: the seeds of targets whose input is a program of choices (<see cref="ByteRandom"/>).</summary>
    public static byte[][] RandomPrograms(int count, int length, int seed)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, count).Select(_ =>
        {
            byte[] b = new byte[length];
            random.NextBytes(b);
            return b;
        })];
    }
}
