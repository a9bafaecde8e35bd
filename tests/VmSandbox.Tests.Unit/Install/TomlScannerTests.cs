using VmSandbox.Common;
using VmSandbox.Install.Containerd;
using Xunit;

namespace VmSandbox.Tests.Unit.Install;

/// <summary>The line-based TOML reader behind install --containerd: where statements start and end, keys, values, refusals.</summary>
public sealed class TomlScannerTests
{
    private static IReadOnlyList<TomlStatement> Scan(string text) => TomlScanner.Scan(text);

    [Fact]
    public void Statements_cover_the_text_line_by_line_in_order()
    {
        const string text = "version = 2\n\n# c\n[plugins]\n  [plugins.\"io.containerd.grpc.v1.cri\".cni]\n    bin_dir = \"/usr/lib/cni\"";
        IReadOnlyList<TomlStatement> s = Scan(text);
        Assert.Equal(
            [TomlStatementKind.KeyValue, TomlStatementKind.Trivia, TomlStatementKind.Trivia, TomlStatementKind.Table, TomlStatementKind.Table, TomlStatementKind.KeyValue],
            s.Select(x => x.Kind));
        Assert.Equal([1, 2, 3, 4, 5, 6], s.Select(x => x.Line));
        Assert.Equal(0, s[0].Start);
        Assert.Equal(text.Length, s[^1].End);
        for (int i = 1; i < s.Count; i++)
        {
            Assert.Equal(s[i - 1].End, s[i].Start);
        }
        Assert.True(s[1].Blank);
        Assert.False(s[2].Blank);
        Assert.Equal(["plugins", "io.containerd.grpc.v1.cri", "cni"], s[4].Key);
        Assert.Equal(2, s[4].Indent);
        Assert.Equal(["plugins", "io.containerd.grpc.v1.cri", "cni", "bin_dir"], s[5].FullKey);
        Assert.Equal(new TomlString("/usr/lib/cni"), s[5].Value);
    }

    [Theory]
    [InlineData("[plugins.\"io.containerd.grpc.v1.cri\".containerd]")]
    [InlineData("[ plugins . 'io.containerd.grpc.v1.cri' . containerd ]  # comment")]
    [InlineData("[plugins.\"io.containerd.grpc\\u002Ev1.cri\".\"containerd\"]")]
    [InlineData("\t[plugins.\"io.containerd.grpc.v1.cri\".containerd]\r\n")]
    public void Header_keys_are_read_whatever_their_quoting_and_spacing(string header)
    {
        TomlStatement s = Assert.Single(Scan(header));
        Assert.Equal(TomlStatementKind.Table, s.Kind);
        Assert.Equal(["plugins", "io.containerd.grpc.v1.cri", "containerd"], s.Key);
    }

    [Fact]
    public void Array_of_tables_headers_are_told_apart()
    {
        TomlStatement s = Assert.Single(Scan("[[a.b]] # x\n"));
        Assert.Equal(TomlStatementKind.ArrayTable, s.Kind);
        Assert.Equal(["a", "b"], s.Key);
    }

    [Fact]
    public void A_multi_line_array_with_brackets_hashes_and_comments_inside_is_one_statement()
    {
        const string text = "a = [\n  \"x]\", # not the end ]\n  '#y',\n  [1, 2],\n  { k = \"v\" },\n]\n[next]\n";
        IReadOnlyList<TomlStatement> s = Scan(text);
        Assert.Equal(2, s.Count);
        Assert.Equal(7, s[1].Line);
        Assert.Equal("[\"x]\",\"#y\",[1,2],{\"k\"=\"v\"}]", s[0].Value!.Canonical);
    }

    [Fact]
    public void Multi_line_strings_may_hold_quotes_brackets_and_lines_that_look_like_headers()
    {
        const string text = "a = \"\"\"\n[not.a.table]\nsays \\\"\"\" still\\\n   going\"\"\"\"\nb = '''\n[nor.this]''\n'''\n[t]\n";
        IReadOnlyList<TomlStatement> s = Scan(text);
        Assert.Equal([TomlStatementKind.KeyValue, TomlStatementKind.KeyValue, TomlStatementKind.Table], s.Select(x => x.Kind));
        Assert.Equal(new TomlString("[not.a.table]\nsays \"\"\" stillgoing\""), s[0].Value);
        Assert.Equal(new TomlString("[nor.this]''\n"), s[1].Value);
        Assert.Equal(["t"], s[2].Key);
        Assert.Equal(8, s[2].Line);
    }

    [Theory]
    [InlineData("v = 2", "2")]
    [InlineData("v = +1_000 # n", "+1000")]
    [InlineData("v = true", "true")]
    [InlineData("v = 1979-05-27 07:32:00Z", "1979-05-27 07:32:00Z")]
    [InlineData("v = \"a\\tb\\\"\"", "\"a\\tb\\\"\"")]
    [InlineData("v = 'C:\\path'", "\"C:\\\\path\"")]
    [InlineData("v = [ \"io.vmsandbox.*\" , ]", "[\"io.vmsandbox.*\"]")]
    [InlineData("v = {b = 1, a.c = 'x'}", "{\"a\".\"c\"=\"x\",\"b\"=1}")]
    [InlineData("a.\"b.c\" . d = 1", "1")]
    public void Values_have_a_canonical_form(string line, string canonical) =>
        Assert.Equal(canonical, Assert.Single(Scan(line)).Value!.Canonical);

    [Fact]
    public void Pairs_belong_to_the_table_above_them()
    {
        IReadOnlyList<TomlStatement> s = Scan("top = 1\n[a.b]\nc.d = 2\n");
        Assert.Equal(["top"], s[0].FullKey);
        Assert.Equal(["a", "b", "c", "d"], s[2].FullKey);
    }

    [Fact]
    public void A_byte_order_mark_and_crlf_line_breaks_are_read()
    {
        IReadOnlyList<TomlStatement> s = Scan("\uFEFFversion = 2\r\n[a]\r\n");
        Assert.Equal(["version"], s[0].Key);
        Assert.Equal(0, s[0].Start);
        Assert.Equal(["a"], s[1].Key);
        Assert.Equal(s[0].End, s[1].Start);
    }

    [Theory]
    [InlineData("[plugins.\"io.containerd.grpc.v1.cri\"\nx = 1", "line 1: unterminated table header")]
    [InlineData("a = 1\n[plugins", "line 2: unterminated table header")]
    [InlineData("[[a]\n", "line 1: unterminated table header")]
    [InlineData("[]\n", "line 1: malformed table header: \"]\" where a key should be")]
    [InlineData("[a] b\n", "line 1: \"b\" after the table header")]
    [InlineData("[a.\"b\n", "line 1: unterminated string")]
    [InlineData("a = \"open\nb = 1", "line 1: unterminated string")]
    [InlineData("x = 1\na = [\n 1,\n", "line 2: unterminated array")]
    [InlineData("a = [1 2]", "line 1: \"2]\" where \",\" or \"]\" should follow an item of the array opened on line 1")]
    [InlineData("a = \"\"\"\nnever closed", "line 1: unterminated multi-line string")]
    [InlineData("a = { b = 1\n", "line 1: unterminated inline table")]
    [InlineData("a = 1 b = 2", "line 1: \"b = 2\" after the value")]
    [InlineData("a =\n", "line 1: a key without a value")]
    [InlineData("a 1\n", "line 1: \"1\" where \"=\" should follow the key a")]
    [InlineData("= 1\n", "line 1: \"= 1\" is not a key, a [table] or a comment")]
    [InlineData("a = \"\\q\"", "line 1: invalid escape \"\\q\" in a string")]
    public void Malformed_text_is_refused_naming_the_line(string text, string message)
    {
        VmSandboxException e = Assert.Throws<VmSandboxException>(() => Scan(text));
        Assert.Equal(ErrorCode.Config, e.Code);
        Assert.Equal(message + ", left unchanged", e.Message);
    }
}
