using System.Globalization;
using System.Net.Sockets;
using System.Text;
using VmSandbox.Tests.Unit.Ttrpc;
using VmSandbox.Vsock.Hybrid;
using Xunit;

namespace VmSandbox.Tests.Unit.Fuzzing;

/// <summary>
/// The hybrid vsock handshake a host app sends on the back-end's Unix socket,
/// "CONNECT &lt;port&gt;\n" (Firecracker's and vhost-device-vsock's format): read byte by byte,
/// at most 32 bytes, never past the line (what follows is the app's first payload).
/// </summary>
public sealed class HybridConnectFuzzTests
{
    private static readonly byte[] s_payload = "\u0001payload after the line"u8.ToArray();

    [Fact]
    [Trait("Category", "Reliability")]
    [Trait("Category", "Fuzz")]
    public async Task Connect_lines()
    {
        var target = new FuzzTarget("hybrid vsock CONNECT lines",
            "mutated CONNECT lines (case, spaces, CR, port digits and overflow, over-long and unterminated lines, bytes after the line) sent on a Unix socket to HybridConnectParser.ReadPortAsync",
            "the port exactly when the line is \"connect\" (any case), spaces and a decimal u32 within 32 bytes, else a refusal; never a byte past the line consumed; nothing thrown")
        {
            Seeds = [FuzzSeeds.Utf8("CONNECT 1024\n"), FuzzSeeds.Utf8("connect 4294967295\r\nHELLO"), FuzzSeeds.Utf8("Connect   52 \n"), FuzzSeeds.Utf8("CONNECT 1024")],
            Tokens = ["CONNECT", "connect ", " ", "\r", "\n", "\r\n", "4294967296", "0", "00000000001", "\u0000", "+1", "-1"],
            MaxInputLength = 256,
            DefaultIterations = 1500,
        };
        (await Fuzzer.RunAsync(target, async (input, ct) =>
        {
            uint? expected = Reference(input, out int lineEnd);
            uint? parsed = HybridConnectParser.TryParse(lineEnd < 0 ? input : input.AsSpan(0, lineEnd), out uint p) ? p : null;
            if (lineEnd >= 0 && parsed != expected)
            {
                throw new InvalidDataException($"TryParse gave {parsed?.ToString(CultureInfo.InvariantCulture) ?? "a refusal"}, the reference {expected?.ToString(CultureInfo.InvariantCulture) ?? "a refusal"}");
            }
            var (app, backend) = SocketPair.Create();
            using (app)
            using (backend)
            {
                await app.SendAsync(input.Concat(s_payload).ToArray(), SocketFlags.None, ct);
                app.Shutdown(SocketShutdown.Send);
                uint? port = await HybridConnectParser.ReadPortAsync(backend, ct);
                if (port != expected)
                {
                    throw new InvalidDataException($"ReadPortAsync gave {port?.ToString(CultureInfo.InvariantCulture) ?? "a refusal"}, the reference {expected?.ToString(CultureInfo.InvariantCulture) ?? "a refusal"}");
                }
                if (port is not null)
                {
                    // The rest of the stream is the app's, untouched: everything after the '\n'.
                    byte[] rest = await FuzzSockets.ReadToEndAsync(backend, ct);
                    byte[] after = [.. input.AsSpan(lineEnd + 1), .. s_payload];
                    if (!rest.AsSpan().SequenceEqual(after))
                    {
                        throw new InvalidDataException($"after the line the back-end read {rest.Length} bytes, the app sent {after.Length}");
                    }
                }
                return port is not null;
            }
        })).RecordAndAssert();
    }

    /// <summary>What the format allows, written plainly: the port, or null; <paramref name="lineEnd"/> is the '\n' (-1: none in 32 bytes).</summary>
    private static uint? Reference(byte[] input, out int lineEnd)
    {
        lineEnd = Array.IndexOf(input, (byte)'\n', 0, Math.Min(input.Length, HybridConnectParser.MaxLine));
        if (lineEnd < 0)
        {
            return null;
        }
        string line = Encoding.Latin1.GetString(input, 0, lineEnd);
        if (line.EndsWith('\r'))
        {
            line = line[..^1];
        }
        if (line.Length < 8 || !string.Equals(line[..7], "connect", StringComparison.OrdinalIgnoreCase) || line[7] != ' ')
        {
            return null;
        }
        string digits = line[8..].Trim(' ');
        return digits.Length is > 0 and <= 10 && digits.All(char.IsAsciiDigit) && ulong.Parse(digits, CultureInfo.InvariantCulture) <= uint.MaxValue
            ? uint.Parse(digits, CultureInfo.InvariantCulture)
            : null;
    }
}
