using System.Diagnostics;
using System.IO.Pipes;
using System.Text;
using VmSandbox.Runtime;
using VmSandbox.Runtime.Containers;
using VmSandbox.Shim;
using Xunit;

namespace VmSandbox.Tests.Unit.Shim;

/// <summary>
/// The shim's stdio against real FIFOs, as containerd's clients make them: bytes flow both ways,
/// CloseIO ends stdin, and a FIFO the client never opened (and already unlinked) does not hold
/// the task's delete back.
/// </summary>
public sealed class ProcessStdioTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("shim-stdio-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Output_reaches_the_stdout_fifo_and_completes_at_the_helpers_end()
    {
        string stdout = Fifo("out");
        var helper = new FakeHelperPipes();
        await using var io = new ProcessStdio("", stdout, "", terminal: false, new NullLog());
        Task<string> reader = Task.Run(() => File.ReadAllText(stdout), TestContext.Current.CancellationToken); // the client's read end
        io.AttachPipes(helper.Stdio);
        await helper.WriteOutputAndCloseAsync("hello\n");
        await io.OutputDone.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        Assert.Equal("hello\n", await reader.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Stdin_is_copied_and_CloseIO_ends_it_while_the_client_still_holds_the_fifo()
    {
        string stdin = Fifo("in");
        var helper = new FakeHelperPipes();
        await using var io = new ProcessStdio(stdin, "", "", terminal: false, new NullLog());
        io.AttachPipes(helper.Stdio);
        await using var client = new FileStream(stdin, FileMode.Open, FileAccess.Write); // stays open
        await client.WriteAsync(Encoding.ASCII.GetBytes("data"), TestContext.Current.CancellationToken);
        await client.FlushAsync(TestContext.Current.CancellationToken);
        byte[] got = new byte[4];
        await helper.StdinReader.ReadExactlyAsync(got, TestContext.Current.CancellationToken).AsTask().WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        Assert.Equal("data", Encoding.ASCII.GetString(got));
        io.CloseStdin();
        // The helper sees the end of its stdin although the client's writer is still open.
        int n = await helper.StdinReader.ReadAsync(new byte[1], TestContext.Current.CancellationToken).AsTask().WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        Assert.Equal(0, n);
    }

    [Fact]
    public async Task A_fifo_never_opened_and_already_unlinked_does_not_hold_dispose_back()
    {
        string stdin = Fifo("in");
        string stdout = Fifo("out");
        var helper = new FakeHelperPipes();
        var io = new ProcessStdio(stdin, stdout, "", terminal: false, new NullLog());
        io.AttachPipes(helper.Stdio);
        await Task.Delay(200, TestContext.Current.CancellationToken); // the opens are blocked now: nobody opened the other ends
        File.Delete(stdin);
        File.Delete(stdout); // ctr removes its FIFOs once it has the exit
        await helper.WriteOutputAndCloseAsync("");
        var clock = Stopwatch.StartNew();
        await io.DisposeAsync();
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"dispose took {clock.Elapsed}");
    }

    [Fact]
    public async Task A_binary_logger_gets_the_outputs_on_fds_3_and_4_and_containerds_environment()
    {
        // containerd's logging-binary contract: stdout on fd 3, stderr on fd 4, ready once fd 5
        // is closed, CONTAINER_ID and CONTAINER_NAMESPACE alone in the environment, the URI's
        // query pairs as arguments.
        string logger = Path.Combine(_dir, "logger.sh");
        File.WriteAllText(logger, """
            #!/bin/sh
            base="$2"
            echo "$1 $3=$4 $CONTAINER_NAMESPACE/$CONTAINER_ID home=${HOME:-none}" > "$base.env"
            cat <&3 > "$base.out" 4<&- 5>&- &
            cat <&4 > "$base.err" 3<&- 5>&- &
            exec 3<&- 4<&- 5>&-
            wait
            """);
        File.SetUnixFileMode(logger, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        string log = Path.Combine(_dir, "log");
        string uri = $"binary://{logger}?file={log}&mode=a%20b";
        var helper = new FakeHelperPipes();
        var io = new ProcessStdio("", uri, uri, terminal: false, new NullLog(), "cid", "ns");
        io.AttachPipes(helper.Stdio);
        await helper.WriteOutputAndCloseAsync("to stdout\n", "to stderr\n");
        await io.OutputDone.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        await io.DisposeAsync();
        Assert.Equal("file mode=a b ns/cid home=none\n", File.ReadAllText(log + ".env"));
        // The logger's cats finish on their own after the pipes closed: wait for them (bounded).
        for (int i = 0; i < 100 && (File.ReadAllText(log + ".out").Length == 0 || File.ReadAllText(log + ".err").Length == 0); i++)
        {
            await Task.Delay(100, TestContext.Current.CancellationToken);
        }
        Assert.Equal("to stdout\n", File.ReadAllText(log + ".out"));
        Assert.Equal("to stderr\n", File.ReadAllText(log + ".err"));
    }

    [Theory]
    [InlineData("binary:///usr/bin/logger?a=1&b", "/usr/bin/logger", "a|1|b|")]
    [InlineData("binary:///opt/my%20logger?k=v%2Fw", "/opt/my logger", "k|v/w")]
    [InlineData("binary:///usr/bin/logger", "/usr/bin/logger", "")]
    public void A_binary_logger_uri_gives_its_path_and_arguments(string uri, string path, string args)
    {
        (string p, List<string> a) = BinaryLogger.Parse(uri);
        Assert.Equal(path, p);
        Assert.Equal(args, string.Join('|', a));
    }

    [Theory]
    [InlineData("binary://host/usr/bin/logger", "", "binary:///PATH")]
    [InlineData("binary:///missing/logger", "", "no such file")]
    [InlineData("binary:///bin/true", "/some/fifo", "one binary:// logger takes both outputs")]
    public void A_bad_binary_logger_is_refused_with_one_line(string stdout, string stderr, string expected) =>
        Assert.Contains(expected, Assert.Throws<Common.VmSandboxException>(() => new ProcessStdio("", stdout, stderr, false, new NullLog(), "cid", "ns")).Message);

    [Fact]
    public void A_binary_logger_cannot_be_stdin() =>
        Assert.Contains("not stdin", Assert.Throws<Common.VmSandboxException>(() => new ProcessStdio("binary:///bin/true", "", "", false, new NullLog())).Message);

    private string Fifo(string name)
    {
        string path = Path.Combine(_dir, name);
        using (var p = Process.Start(new ProcessStartInfo("mkfifo", ["-m", "0600", path]))!)
        {
            p.WaitForExit();
            Assert.Equal(0, p.ExitCode);
        }
        return path;
    }

    private sealed class NullLog : IRuntimeLog
    {
        public void Warn(string message)
        {
        }

        public void Debug(string message)
        {
        }
    }

    /// <summary>A helper's three pipes: the shim's ends in <see cref="Stdio"/>, the helper's here.</summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001", Justification = "the pipes live as long as the test; the shim disposes its ends")]
    private sealed class FakeHelperPipes
    {
        private readonly AnonymousPipeServerStream _stdin = new(PipeDirection.Out);
        private readonly AnonymousPipeServerStream _stdout = new(PipeDirection.In);
        private readonly AnonymousPipeServerStream _stderr = new(PipeDirection.In);
        private readonly AnonymousPipeClientStream _stdoutWriter;
        private readonly AnonymousPipeClientStream _stderrWriter;

        public FakeHelperPipes()
        {
            StdinReader = new AnonymousPipeClientStream(PipeDirection.In, _stdin.ClientSafePipeHandle);
            _stdoutWriter = new AnonymousPipeClientStream(PipeDirection.Out, _stdout.ClientSafePipeHandle);
            _stderrWriter = new AnonymousPipeClientStream(PipeDirection.Out, _stderr.ClientSafePipeHandle);
            Stdio = new HelperStdio(_stdin, _stdout, _stderr);
        }

        public HelperStdio Stdio { get; }

        public Stream StdinReader { get; }

        public async Task WriteOutputAndCloseAsync(string text, string error = "")
        {
            await _stdoutWriter.WriteAsync(Encoding.ASCII.GetBytes(text));
            await _stderrWriter.WriteAsync(Encoding.ASCII.GetBytes(error));
            await _stdoutWriter.DisposeAsync();
            await _stderrWriter.DisposeAsync();
        }
    }
}
