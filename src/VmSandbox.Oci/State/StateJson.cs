using System.Globalization;
using System.Text;

namespace VmSandbox.Oci.State;

/// <summary>
/// Writes the state documents byte for byte as runc 1.1 does: <c>state</c> is
/// <c>json.MarshalIndent(…, "", "  ")</c> without a final newline; <c>list --format json</c> and
/// <c>ps --format json</c> use <c>json.Encoder</c> (compact, one newline; an empty list is "null").
/// </summary>
public static class StateJson
{
    /// <summary>The output of <c>state ID</c>.</summary>
    public static string FormatState(ContainerState state) =>
        OciJson.Serialize(Normalize(state), OciJsonContext.Default.ContainerState, ' ', 2);

    /// <summary>The output of <c>list --format json</c>, newline included.</summary>
    public static string FormatList(IReadOnlyList<ContainerState> states) =>
        (states.Count == 0 ? "null" : OciJson.Serialize<IReadOnlyList<ContainerState>>(
            states.Select(Normalize).ToList(), OciJsonContext.Default.IReadOnlyListContainerState)) + "\n";

    /// <summary>The output of <c>ps --format json</c>: the PIDs as a JSON array, newline included.</summary>
    public static string FormatPids(IReadOnlyList<int> pids) =>
        (pids.Count == 0 ? "null" : OciJson.Serialize(pids, OciJsonContext.Default.IReadOnlyListInt32)) + "\n";

    /// <summary>The state object a hook reads on stdin (compact, no newline).</summary>
    public static string FormatHookState(HookState state) =>
        OciJson.Serialize(state with { Annotations = NullIfEmpty(state.Annotations) }, OciJsonContext.Default.HookState);

    /// <summary>The status as runc prints it ("created", "running", …).</summary>
    public static string StatusName(ContainerStatus status) => status switch
    {
        ContainerStatus.Creating => "creating",
        ContainerStatus.Created => "created",
        ContainerStatus.Running => "running",
        ContainerStatus.Paused => "paused",
        ContainerStatus.Stopped => "stopped",
        _ => throw new ArgumentOutOfRangeException(nameof(status)),
    };

    /// <summary>
    /// Go's <c>time.RFC3339Nano</c>: trailing zeros of the fraction dropped (no fraction when
    /// whole seconds), "Z" for UTC, else "+hh:mm".
    /// </summary>
    public static string FormatTime(DateTimeOffset time)
    {
        var sb = new StringBuilder(35);
        sb.Append(time.ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture));
        long ticks = time.Ticks % TimeSpan.TicksPerSecond;
        if (ticks != 0)
        {
            // .NET keeps 100 ns ticks: at most 7 digits, Go prints up to 9 without trailing zeros.
            sb.Append('.').Append(ticks.ToString("D7", CultureInfo.InvariantCulture).TrimEnd('0'));
        }
        if (time.Offset == TimeSpan.Zero)
        {
            sb.Append('Z');
        }
        else
        {
            TimeSpan o = time.Offset;
            sb.Append(o < TimeSpan.Zero ? '-' : '+').Append(o.Duration().ToString(@"hh\:mm", CultureInfo.InvariantCulture));
        }
        return sb.ToString();
    }

    // Go's omitempty leaves out empty maps, and encoding/json sorts map keys.
    private static ContainerState Normalize(ContainerState s) => s with { Annotations = NullIfEmpty(s.Annotations) };

    private static SortedDictionary<string, string>? NullIfEmpty(IReadOnlyDictionary<string, string>? map) =>
        map is null || map.Count == 0 ? null
            : new SortedDictionary<string, string>(map.ToDictionary(), StringComparer.Ordinal);
}
