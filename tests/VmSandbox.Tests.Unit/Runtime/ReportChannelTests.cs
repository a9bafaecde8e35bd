using System.Text.Json;
using VmSandbox.Common;
using VmSandbox.Runtime;
using VmSandbox.Runtime.Sandbox;
using Xunit;

namespace VmSandbox.Tests.Unit.Runtime;

/// <summary>
/// The CLI's side of a helper's start-up report: one final report, with at most one interim
/// "in the container's network namespace" before it, on which the create hooks run.
/// </summary>
public sealed class ReportChannelTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vmsb-report-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string SocketPath => Path.Combine(_dir, "create.sock");

    /// <summary>Sends each report on a connection of its own, as the monitor does, after the delay before it.</summary>
    private async Task SendAsync(params (int DelayMs, MonitorReport Report)[] reports)
    {
        foreach (var (delay, report) in reports)
        {
            await Task.Delay(delay, TestContext.Current.CancellationToken);
            byte[] json = JsonSerializer.SerializeToUtf8Bytes(report, RuntimeJsonContext.Default.MonitorReport);
            await RunningHelper.SendAsync(SocketPath, [.. json, (byte)'\n'], TestContext.Current.CancellationToken);
        }
    }

    [Fact]
    public async Task The_interim_report_runs_the_callback_before_the_final_report_is_read()
    {
        using var channel = new ReportChannel(SocketPath);
        var order = new List<string>();
        Task sent = SendAsync((0, new MonitorReport { NamespaceReady = true }), (0, new MonitorReport { GuestPid = 7 }));
        MonitorReport report = channel.Await(new RunningHelper(), TimeSpan.FromSeconds(20), "monitor", () => order.Add("hooks"));
        await sent;
        Assert.Equal(["hooks"], order);
        Assert.Equal(7, report.GuestPid);
        Assert.False(report.NamespaceReady);
    }

    [Fact]
    public async Task Without_an_interim_report_the_callback_is_not_called()
    {
        using var channel = new ReportChannel(SocketPath);
        Task sent = SendAsync((0, new MonitorReport { GuestPid = 8 }));
        MonitorReport report = channel.Await(new RunningHelper(), TimeSpan.FromSeconds(20), "monitor", () => throw new InvalidOperationException("called"));
        await sent;
        Assert.Equal(8, report.GuestPid);
    }

    [Fact]
    public async Task What_the_callback_throws_ends_the_wait()
    {
        using var channel = new ReportChannel(SocketPath);
        Task sent = SendAsync((0, new MonitorReport { NamespaceReady = true }));
        var e = Assert.Throws<VmSandboxException>(() => channel.Await(new RunningHelper(), TimeSpan.FromSeconds(20), "monitor",
            () => throw new VmSandboxException(ErrorCode.FailedPrecondition, "error running prestart hook #0: exit status 3")));
        await sent;
        Assert.Equal("error running prestart hook #0: exit status 3", e.Message);
    }

    [Fact]
    public async Task The_callbacks_time_does_not_count_against_the_timeout()
    {
        using var channel = new ReportChannel(SocketPath);
        Task sent = SendAsync((0, new MonitorReport { NamespaceReady = true }), (0, new MonitorReport { GuestPid = 9 }));
        MonitorReport report = channel.Await(new RunningHelper(), TimeSpan.FromSeconds(1), "monitor", () => Thread.Sleep(1500));
        await sent;
        Assert.Equal(9, report.GuestPid);
    }

    [Fact]
    public async Task A_second_interim_report_is_refused_and_a_silent_helper_times_out()
    {
        using (var channel = new ReportChannel(SocketPath))
        {
            Task sent = SendAsync((0, new MonitorReport { NamespaceReady = true }), (0, new MonitorReport { NamespaceReady = true }));
            var e = Assert.Throws<VmSandboxException>(() => channel.Await(new RunningHelper(), TimeSpan.FromSeconds(20), "monitor", () => { }));
            await sent;
            Assert.Equal(ErrorCode.Protocol, e.Code);
        }
        using (var channel = new ReportChannel(SocketPath))
        {
            Task sent = SendAsync((0, new MonitorReport { NamespaceReady = true }));
            var e = Assert.Throws<VmSandboxException>(() => channel.Await(new RunningHelper(), TimeSpan.FromMilliseconds(500), "monitor", () => { }));
            await sent;
            Assert.Equal(ErrorCode.Timeout, e.Code);
        }
    }
}
