using VmSandbox.Common;
using Xunit;

namespace VmSandbox.Tests.Unit;

public sealed class Sha256Tests
{
    [Fact]
    public void The_digest_of_abc_is_fips_180s_example()
    {
        Assert.Equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", Convert.ToHexStringLower(Sha256.HashData("abc"u8)));
    }

    [Fact]
    public void Every_length_across_the_block_and_padding_edges_hashes_as_openssls_sha256()
    {
        // Names derived from IDs must not change: run directories of containers started by an
        // earlier version are found again by their hash.
        var rng = new Random(256);
        for (int length = 0; length <= 300; length++)
        {
            byte[] data = new byte[length];
            rng.NextBytes(data);
            Assert.Equal(System.Security.Cryptography.SHA256.HashData(data), Sha256.HashData(data));
        }
    }

    [Fact]
    public void A_hex_prefix_is_the_start_of_the_utf8_texts_digest()
    {
        Assert.Equal("ba7816bf8f01cfea", Sha256.HexPrefix("abc", 16));
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData("ü\0x"u8))[..32], Sha256.HexPrefix("ü\0x", 32));
    }
}
