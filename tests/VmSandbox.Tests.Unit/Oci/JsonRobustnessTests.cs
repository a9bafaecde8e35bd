using System.Text;
using VmSandbox.Common;
using VmSandbox.Oci;
using Xunit;

namespace VmSandbox.Tests.Unit.Oci;

/// <summary>Fuzz-ish: no truncation or corruption of a config makes the loaders throw anything but VmSandboxException.</summary>
public sealed class JsonRobustnessTests
{
    private static readonly byte[] s_docker = Encoding.UTF8.GetBytes(DockerConfigSample.Json);

    private static void OnlyVmSandboxExceptions(byte[] data)
    {
        foreach (Action parse in new Action[]
        {
            () => SpecLoader.ParseAndValidate(data, new List<string>()),
            () => ProcessLoader.Parse(data, new List<string>()),
        })
        {
            try
            {
                parse();
            }
            catch (VmSandboxException e)
            {
                Assert.DoesNotContain('\n', e.Message);
                Assert.False(string.IsNullOrWhiteSpace(e.Message));
            }
        }
    }

    [Fact]
    public void Every_truncation_fails_cleanly()
    {
        for (int length = 0; length < s_docker.Length; length++)
        {
            OnlyVmSandboxExceptions(s_docker[..length]);
        }
    }

    [Fact]
    public void Random_corruption_fails_cleanly()
    {
        var random = new Random(20240501);
        byte[] alphabet = "{}[]\":,0123456789-+.eE truefalsn\\\0\xff"u8.ToArray();
        for (int round = 0; round < 3000; round++)
        {
            byte[] data = (byte[])s_docker.Clone();
            int edits = random.Next(1, 4);
            for (int i = 0; i < edits; i++)
            {
                data[random.Next(data.Length)] = random.Next(3) == 0 ? (byte)random.Next(256) : alphabet[random.Next(alphabet.Length)];
            }
            OnlyVmSandboxExceptions(data);
        }
    }

    [Theory]
    [InlineData("\"string\"")]
    [InlineData("42")]
    [InlineData("true")]
    [InlineData("{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"r\"},\"linux\":{\"resources\":{\"memory\":{\"limit\":99999999999999999999}}}}")]
    [InlineData("{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"r\"},\"annotations\":{\"a\":1}}")]
    [InlineData("{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"r\"},\"process\":{\"args\":[null],\"cwd\":\"/\"}}")]
    [InlineData("{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"r\"},\"mounts\":[null]}")]
    [InlineData("{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"r\"},\"process\":null,\"linux\":null}")]
    [InlineData("{\"ociVersion\":\"\\ud800\"}")]
    [InlineData("\xEF\xBB\xBF{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"r\"}}")]
    public void Odd_documents_fail_or_load_cleanly(string json) => OnlyVmSandboxExceptions(Encoding.Latin1.GetBytes(json));

    [Theory]
    [InlineData(new byte[] { 0x7b, 0x22, 0x6f, 0x63, 0x69, 0x56, 0x65, 0x72, 0x73, 0x69, 0x6f, 0x6e, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d }, "config.json: invalid json at line 1, byte 15: string is not valid utf-8 or utf-16")]
    [InlineData(new byte[] { 0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d }, "config.json: invalid json at line 1, byte 2: string is not valid utf-8 or utf-16")]
    public void Invalid_utf8_is_a_syntax_error(byte[] data, string message) =>
        Assert.Equal(message, Assert.Throws<VmSandboxException>(() => SpecLoader.ParseAndValidate(data, new List<string>())).Message);

    [Fact]
    public void Lone_surrogate_escape_is_a_syntax_error() =>
        Assert.Equal("config.json: invalid json at line 1, byte 15: string is not valid utf-8 or utf-16",
            Assert.Throws<VmSandboxException>(() => SpecLoader.ParseAndValidate("{\"ociVersion\":\"\\ud800\"}"u8, new List<string>())).Message);
}
