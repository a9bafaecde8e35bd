using System.Globalization;
using System.Text.Json;
using VmSandbox.Agent.Protocol;
using VmSandbox.Cli.Output;
using VmSandbox.Common;
using VmSandbox.Oci.State;
using VmSandbox.Runtime.Containers;

namespace VmSandbox.Cli.Commands;

/// <summary>
/// `vmsandbox events [--stats] [--interval 5s] ID`: with --stats one stats event and exit;
/// without, a stats event every interval until the container stops (runc's event stream).
/// </summary>
public static class EventsCommand
{
    public static int Run(ArgReader reader, ContainerRuntime rt, TextWriter stdout)
    {
        VerbArgs args = VerbArgs.Parse(reader, "events", ["interval"], ["stats"]);
        string id = args.SingleId("events");
        TimeSpan interval = ParseInterval(args.Value("interval") ?? "5s");
        while (true)
        {
            Container container = Container.Load(rt, id);
            if (!args.Flag("stats") && container.Status is ContainerStatus.Stopped or ContainerStatus.Creating)
            {
                return ExitCodes.Success; // the stream ends with the container
            }
            StatsResponse stats = container.Stats();
            stdout.WriteLine(JsonSerializer.Serialize(StatsEvent.From(id, stats), CliJsonContext.Default.StatsEvent));
            stdout.Flush();
            if (args.Flag("stats"))
            {
                return ExitCodes.Success;
            }
            Thread.Sleep(interval);
        }
    }

    /// <summary>Go durations as runc takes them: "5s", "500ms", "1m"; a bare number is seconds.</summary>
    public static TimeSpan ParseInterval(string raw)
    {
        (string digits, double scale) = raw switch
        {
            _ when raw.EndsWith("ms", StringComparison.Ordinal) => (raw[..^2], 1.0),
            _ when raw.EndsWith('s') => (raw[..^1], 1000.0),
            _ when raw.EndsWith('m') => (raw[..^1], 60_000.0),
            _ => (raw, 1000.0),
        };
        if (!double.TryParse(digits, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || value <= 0 || value * scale > int.MaxValue)
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, $"invalid interval \"{raw}\"");
        }
        return TimeSpan.FromMilliseconds(value * scale);
    }
}
