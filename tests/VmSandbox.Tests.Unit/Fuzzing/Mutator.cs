using System.Buffers.Binary;
using System.Text;

namespace VmSandbox.Tests.Unit.Fuzzing;

/// <summary>
/// Seeded mutation of byte inputs, in the manner of libFuzzer and AFL without coverage feedback:
/// bit flips, random bytes, insertions and deletions, copies inside the input, splices of two
/// seeds, "interesting" integers (0, -1, powers of two and their neighbours, in 1 to 8 bytes of
/// either order) written over what may be a length field, truncation, and for text formats the
/// target's tokens put in place of a number, a word or a quoted string.
/// </summary>
internal sealed class Mutator
{
    private static readonly ulong[] s_interesting =
    [
        0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fff_ffff, 0x8000_0000, 0xffff_fffe, 0xffff_ffff,
        0x1_0000_0000, 0x7fff_ffff_ffff_ffff, 0x8000_0000_0000_0000, ulong.MaxValue, 0x4000_0000, 16 * 1024 * 1024, 4 * 1024 * 1024 + 1,
    ];

    private static readonly string[] s_numbers =
    [
        "0", "-0", "-1", "1", "255", "256", "65535", "65536", "2147483647", "2147483648", "-2147483649", "4294967295", "4294967296",
        "9223372036854775807", "9223372036854775808", "18446744073709551616", "99999999999999999999999", "1e400", "-1e400", "1.5",
        "0x10", "1e2", "NaN", "Infinity", "00", "+1", "٣",
    ];

    private readonly IReadOnlyList<byte[]> _seeds;
    private readonly IReadOnlyList<byte[]> _tokens;
    private readonly int _maxLength;

    public Mutator(IReadOnlyList<byte[]> seeds, IReadOnlyList<string> tokens, int maxLength)
    {
        _seeds = seeds;
        _tokens = [.. tokens.Select(Encoding.UTF8.GetBytes)];
        _maxLength = maxLength;
    }

    /// <summary>One input: a seed as is (one time in sixteen) or with 1 to 8 stacked mutations.</summary>
    public byte[] Next(Random random)
    {
        var data = new List<byte>(_seeds[random.Next(_seeds.Count)]);
        if (random.Next(16) == 0)
        {
            return [.. data];
        }
        int mutations = 1 << random.Next(4);
        for (int m = random.Next(1, mutations + 1); m > 0; m--)
        {
            Mutate(data, random);
            if (data.Count > _maxLength)
            {
                data.RemoveRange(_maxLength, data.Count - _maxLength);
            }
        }
        return [.. data];
    }

    private void Mutate(List<byte> data, Random random)
    {
        if (data.Count == 0)
        {
            data.AddRange(RandomBytes(random, random.Next(1, 16)));
            return;
        }
        int at = random.Next(data.Count);
        switch (random.Next(_tokens.Count > 0 ? 12 : 9))
        {
            case 0:
                data[at] ^= (byte)(1 << random.Next(8));
                break;
            case 1:
                data[at] = (byte)random.Next(256);
                break;
            case 2:
                data.InsertRange(at, RandomBytes(random, random.Next(1, 16)));
                break;
            case 3:
                data.RemoveRange(at, Math.Min(data.Count - at, random.Next(1, 16)));
                break;
            case 4:
                // Truncation: inputs cut short are what a closed connection or a killed writer leaves.
                data.RemoveRange(at, data.Count - at);
                break;
            case 5:
                {
                    // A chunk of the input copied elsewhere in it (a repeated frame, field or object).
                    int from = random.Next(data.Count);
                    int length = Math.Min(data.Count - from, random.Next(1, 64));
                    data.InsertRange(random.Next(data.Count + 1), data.GetRange(from, length));
                    break;
                }
            case 6:
                {
                    // Splice: this input's head, another seed's tail.
                    byte[] other = _seeds[random.Next(_seeds.Count)];
                    int cut = random.Next(other.Length + 1);
                    data.RemoveRange(at, data.Count - at);
                    data.AddRange(other.AsSpan(cut).ToArray());
                    break;
                }
            case 7:
                WriteInteresting(data, at, random);
                break;
            case 8:
                // A length field near the start of a frame or header (ttrpc, vsock: the first bytes).
                WriteInteresting(data, random.Next(Math.Min(data.Count, 16)), random);
                break;
            case 9:
                data.InsertRange(at, _tokens[random.Next(_tokens.Count)]);
                break;
            case 10:
                ReplaceWord(data, at, _tokens[random.Next(_tokens.Count)]);
                break;
            default:
                ReplaceWord(data, at, Encoding.ASCII.GetBytes(s_numbers[random.Next(s_numbers.Length)]));
                break;
        }
    }

    private static void WriteInteresting(List<byte> data, int at, Random random)
    {
        ulong value = s_interesting[random.Next(s_interesting.Length)];
        if (random.Next(4) == 0)
        {
            value += (ulong)(random.Next(3) - 1);
        }
        int size = 1 << random.Next(4);
        Span<byte> bytes = stackalloc byte[8];
        if (random.Next(2) == 0)
        {
            BinaryPrimitives.WriteUInt64BigEndian(bytes, value << (8 * (8 - size)));
        }
        else
        {
            BinaryPrimitives.WriteUInt64LittleEndian(bytes, value);
        }
        for (int i = 0; i < size && at + i < data.Count; i++)
        {
            data[at + i] = bytes[i];
        }
    }

    /// <summary>Replaces the word, number or quoted string at or after <paramref name="at"/> with <paramref name="token"/>.</summary>
    private static void ReplaceWord(List<byte> data, int at, byte[] token)
    {
        int start = at;
        while (start < data.Count && data[start] != (byte)'"' && !IsWordByte(data[start]))
        {
            start++;
        }
        if (start == data.Count)
        {
            data.InsertRange(at, token);
            return;
        }
        int end = start + 1;
        if (data[start] == (byte)'"')
        {
            while (end < data.Count && data[end] != (byte)'"')
            {
                end += data[end] == (byte)'\\' ? 2 : 1;
            }
            end = Math.Min(end + 1, data.Count);
        }
        else
        {
            while (start > 0 && IsWordByte(data[start - 1]))
            {
                start--;
            }
            while (end < data.Count && IsWordByte(data[end]))
            {
                end++;
            }
        }
        data.RemoveRange(start, end - start);
        data.InsertRange(start, token);
    }

    private static bool IsWordByte(byte b) => b is (>= (byte)'0' and <= (byte)'9') or (>= (byte)'a' and <= (byte)'z') or (>= (byte)'A' and <= (byte)'Z') or (byte)'-' or (byte)'+' or (byte)'.' or (byte)'_';

    private static byte[] RandomBytes(Random random, int count)
    {
        byte[] b = new byte[count];
        random.NextBytes(b);
        return b;
    }
}
