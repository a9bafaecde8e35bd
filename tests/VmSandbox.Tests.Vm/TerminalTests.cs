using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using VmSandbox.Interop;
using Xunit;

namespace VmSandbox.Tests.Vm;

/// <summary>
/// Terminals as runc's callers use them: a pty master handed over --console-socket (the shim's
/// way, for the container and for `exec --tty`), whose resizes must reach the guest's terminal,
/// and `run` in the foreground on the caller's own terminal.
/// </summary>
[Collection(LifecycleCollection.Name)]
public sealed class TerminalTests(BundleFixture fx)
{
    private static readonly TimeSpan s_boot = TimeSpan.FromMinutes(2);

    private static string TerminalBundle(BundleFixture fx, params string[] args)
    {
        JsonObject process = ContainerSpecs.Process(args);
        process["terminal"] = true;
        return fx.Bundle(ContainerSpecs.Spec(process));
    }

    [Fact]
    public async Task Console_socket_terminals_follow_resizes_and_the_exec_relay_forwards_signals()
    {
        string root = fx.NewRoot();
        const string id = "tty";
        string bundle = TerminalBundle(fx, "sh", "-c", "trap 'stty size' WINCH; echo ready; while true; do sleep 0.2; done");
        using var console = new ConsoleListener();
        Task<SafeFd> received = console.ReceiveAsync();
        var creating = fx.Cli(root, "create", "--bundle", bundle, "--console-socket", console.Path, id);
        await Task.WhenAny(received, creating);
        if (!received.IsCompleted)
        {
            var failed = await creating;
            Assert.Fail($"no pty reached the console socket: exit {failed.ExitCode}: {failed.Stderr}");
        }
        // While the VM boots, some peer of the pty stays open: a receiver reading the master
        // (runc's recvtty) would otherwise read EIO (POLLHUP) and give up.
        using SafeFd master = await received;
        int hangups = 0;
        while (!creating.IsCompleted)
        {
            short[] revents = new short[1];
            Poll.Wait([master], [Poll.In], revents, 0);
            hangups += (revents[0] & Poll.Hup) != 0 ? 1 : 0;
            await Task.Delay(50, TestContext.Current.CancellationToken);
        }
        var create = await creating;
        Assert.True(create.ExitCode == 0, create.Stderr);
        try
        {
            Assert.Equal(0, hangups);
            Assert.Equal(0, (await fx.Cli(root, "start", id)).ExitCode);
            Assert.Contains("ready", ReadUntil(master, "ready", s_boot), StringComparison.Ordinal);
            // What the shim does on `docker run -it` when the window changes: TIOCSWINSZ on the master.
            Pty.SetSize(master, new TerminalSize(31, 101));
            Assert.Contains("31 101", ReadUntil(master, "31 101", TimeSpan.FromSeconds(30)), StringComparison.Ordinal);

            using var execConsole = new ConsoleListener();
            Task<SafeFd> execReceived = execConsole.ReceiveAsync();
            string pidFile = Path.Combine(root, "exec.pid");
            var exec = await fx.Cli(root, "exec", "--detach", "--tty", "--console-socket", execConsole.Path, "--pid-file", pidFile, id,
                "sh", "-c", "trap 'stty size' WINCH; trap 'echo got-term; exit 7' TERM; echo exec-ready; while true; do sleep 0.2; done");
            Assert.True(exec.ExitCode == 0, exec.Stderr);
            using SafeFd execMaster = await execReceived;
            Assert.Contains("exec-ready", ReadUntil(execMaster, "exec-ready", TimeSpan.FromSeconds(60)), StringComparison.Ordinal);
            Pty.SetSize(execMaster, new TerminalSize(27, 93));
            Assert.Contains("27 93", ReadUntil(execMaster, "27 93", TimeSpan.FromSeconds(30)), StringComparison.Ordinal);

            // The shim signals an exec through the relay's PID: the signal reaches the process.
            int relay = int.Parse(File.ReadAllText(pidFile), System.Globalization.CultureInfo.InvariantCulture);
            Assert.Equal(0, Tmds.Linux.LibC.kill(relay, 15));
            Assert.Contains("got-term", ReadUntil(execMaster, "got-term", TimeSpan.FromSeconds(30)), StringComparison.Ordinal);
            for (int i = 0; i < 300 && Directory.Exists($"/proc/{relay}"); i++)
            {
                await Task.Delay(100, TestContext.Current.CancellationToken);
            }
            Assert.False(Directory.Exists($"/proc/{relay}"), "the exec relay exits with its process");
        }
        finally
        {
            await fx.Cli(root, "delete", "--force", id);
        }
        fx.AssertNothingLeft(root, id);
    }

    [Fact]
    public async Task Run_in_the_foreground_uses_the_callers_terminal_and_restores_it()
    {
        string root = fx.NewRoot();
        string bundle = TerminalBundle(fx, "sh", "-c", "stty size; test -t 0 && echo tty-ok; exit 3");
        await OnOwnTerminal(31, 101, $"{TestEnvironment.CliPath} --root {root} run --bundle {bundle} fg", 3);
        fx.AssertNothingLeft(root, "fg");
    }

    [Fact]
    public async Task Exec_in_the_foreground_with_tty_uses_the_callers_terminal()
    {
        string root = fx.NewRoot();
        const string id = "fgexec";
        Assert.Equal(0, (await fx.Cli(root, "run", "--detach", "--bundle", fx.Bundle("sleep", "1000"), id)).ExitCode);
        try
        {
            await OnOwnTerminal(29, 97, $"{TestEnvironment.CliPath} --root {root} exec --tty {id} sh -c 'stty size; test -t 0 && echo tty-ok; exit 4'", 4);
        }
        finally
        {
            await fx.Cli(root, "delete", "--force", id);
        }
        fx.AssertNothingLeft(root, id);
    }

    /// <summary>
    /// Runs <paramref name="command"/> (whose container process prints `stty size`, "tty-ok" when
    /// stdin is a terminal, and exits <paramref name="exit"/>) on a terminal of its own: script(1)
    /// makes one, sized before the command starts. The size must reach the guest's terminal, the
    /// status come back, and the terminal, raw while the container ran, be cooked again after.
    /// </summary>
    private async Task OnOwnTerminal(int rows, int columns, string command, int exit)
    {
        string line = $"stty rows {rows} cols {columns}; {command}; echo exit=$?; stty -a | grep -o -- '-\\?icanon'";
        var r = await TestEnvironment.RunAsync("script", fx.Env(), TimeSpan.FromMinutes(4), "-qec", line, "/dev/null");
        string output = r.Stdout.Replace("\r", "", StringComparison.Ordinal);
        Assert.True(r.ExitCode == 0, $"{r.ExitCode}: {output} {r.Stderr}");
        Assert.Contains($"{rows} {columns}\n", output, StringComparison.Ordinal);
        Assert.Contains("tty-ok\n", output, StringComparison.Ordinal);
        Assert.Contains($"exit={exit}\n", output, StringComparison.Ordinal);
        Assert.EndsWith("\nicanon\n", output, StringComparison.Ordinal);
    }

    /// <summary>Reads the master until <paramref name="expected"/> shows up or the time is up; returns all read.</summary>
    private static string ReadUntil(SafeFd master, string expected, TimeSpan limit)
    {
        Pipe.SetNonBlocking(master);
        var text = new StringBuilder();
        var buffer = new byte[4096];
        DateTime deadline = DateTime.UtcNow + limit;
        Span<short> revents = stackalloc short[1];
        while (!text.ToString().Contains(expected, StringComparison.Ordinal) && DateTime.UtcNow < deadline)
        {
            if (Poll.Wait([master], [Poll.In], revents, 100) > 0)
            {
                int n = Pipe.Read(master, buffer);
                if (n <= 0)
                {
                    break;
                }
                text.Append(Encoding.UTF8.GetString(buffer, 0, n));
            }
        }
        return text.ToString();
    }

    /// <summary>A console socket as go-runc listens on one: the runtime connects and sends the master.</summary>
    private sealed class ConsoleListener : IDisposable
    {
        private readonly Socket _listener = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);

        public ConsoleListener()
        {
            Path = System.IO.Path.Combine("/tmp", $"vmsb-console-{Guid.NewGuid():N}.sock");
            _listener.Bind(new UnixDomainSocketEndPoint(Path));
            _listener.Listen(1);
        }

        public string Path { get; }

        public Task<SafeFd> ReceiveAsync() => Task.Run(() =>
        {
            using Socket conn = _listener.Accept();
            var buffer = new byte[4096];
            Span<int> fds = stackalloc int[UnixSocket.MaxFds];
            _ = UnixSocket.ReceiveWithFds(conn.SafeHandle, buffer, fds, out int count);
            Assert.Equal(1, count);
            return new SafeFd(fds[0]);
        });

        public void Dispose()
        {
            _listener.Dispose();
            File.Delete(Path);
        }
    }
}
