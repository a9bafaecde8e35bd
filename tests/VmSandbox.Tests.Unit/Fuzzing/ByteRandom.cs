namespace VmSandbox.Tests.Unit.Fuzzing;

/// <summary>
/// A <see cref="Random"/> whose every choice is read from a fuzz input (libFuzzer's
/// FuzzedDataProvider idea): code written to make random choices becomes a target whose input
/// the mutator edits, and a crashing input replays its exact choices. Past the end of the input
/// every choice is the smallest one.
/// </summary>
internal sealed class ByteRandom(byte[] data) : Random
{
    private int _position;

    public bool Exhausted => _position >= data.Length;

    public override int Next() => (int)(Take(4) & 0x7fff_ffff);

    public override int Next(int maxValue) => maxValue <= 1 ? 0 : (int)(Take(Width((ulong)maxValue)) % (ulong)maxValue);

    public override int Next(int minValue, int maxValue) =>
        maxValue <= minValue ? minValue : (int)(minValue + (long)(Take(Width((ulong)((long)maxValue - minValue))) % (ulong)((long)maxValue - minValue)));

    public override long NextInt64() => (long)(Take(8) & long.MaxValue);

    public override double NextDouble() => Take(4) / (double)(1UL << 32);

    public override void NextBytes(byte[] buffer) => NextBytes(buffer.AsSpan());

    public override void NextBytes(Span<byte> buffer)
    {
        for (int i = 0; i < buffer.Length; i++)
        {
            buffer[i] = (byte)Take(1);
        }
    }

    protected override double Sample() => NextDouble();

    private static int Width(ulong range) => range <= 0x100 ? 1 : range <= 0x10000 ? 2 : 4;

    private ulong Take(int bytes)
    {
        ulong v = 0;
        for (int i = 0; i < bytes; i++)
        {
            v = (v << 8) | (_position < data.Length ? data[_position] : 0u);
            _position++;
        }
        return v;
    }
}
