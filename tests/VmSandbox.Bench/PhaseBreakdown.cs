using System.Globalization;
using System.Text;
using VmSandbox.Runtime;

namespace VmSandbox.Bench;

/// <summary>
/// Where a `docker run --rm IMG true` of vmsandbox spends its time: the runtime's phase log
/// (<see cref="PhaseLog"/>, diagnostics.phaseLog, which the bench's dockerd hands down to the
/// runtime) lined up with the bench's own call of `docker run` on the same clock. Each row is a
/// step's median time since `docker run` was called; the steps of one run are told apart from
/// another's by their time (each run's "create" falls between its call and its return).
/// </summary>
internal sealed class PhaseBreakdown
{
    private const string DockerReturned = "docker run returns";

    /// <summary>What each of <see cref="PhaseLog.Phases"/> means, for the table (the phase log's own list gives the order).</summary>
    private static readonly Dictionary<string, string> s_what = new(StringComparer.Ordinal)
    {
        ["create"] = "`vmsandbox create` starts (Docker's shim called it)",
        ["monitor"] = "the sandbox monitor starts",
        ["hooked"] = "the create hooks are done (Docker's prestart `libnetwork-setkey`): they run while the VM boots or the guest creates",
        ["pool-claimed"] = "a pooled VM is claimed (warm pool only)",
        ["qemu-up"] = "QEMU is up (its QMP answers)",
        ["kernel"] = "firmware and kernel load done: the guest kernel starts",
        ["init"] = "the guest kernel runs /init (the agent)",
        ["agent-ready"] = "the agent is ready",
        ["agent-checked"] = "the host connected to the agent and its `Check` answered",
        ["network-synced"] = "the namespace's interfaces are mirrored into the guest (network sync)",
        ["create-sent"] = "the monitor sends `CreateContainer` (its stdio listeners are up)",
        ["guest-created"] = "the container is created in the guest (process blocked before exec)",
        ["created"] = "`create` returns",
        ["start"] = "`vmsandbox start` starts (Docker's shim called it)",
        ["running"] = "the container's process runs its entrypoint",
        ["exited"] = "its exit is recorded on the host (`state` says stopped)",
        ["vm-gone"] = "the VM is gone (the monitor ends: the shim learns the exit)",
        ["delete"] = "`vmsandbox delete` starts",
        ["deleted"] = "`delete` returns",
    };

    private readonly Dictionary<string, List<(long Began, long Ended)>> _runs = new(StringComparer.Ordinal);

    /// <summary>Notes one timed `docker run` of <paramref name="variant"/> (bench clock: <see cref="PhaseLog.Now"/>).</summary>
    public void Add(string variant, long began, long ended)
    {
        if (!_runs.TryGetValue(variant, out var list))
        {
            _runs[variant] = list = [];
        }
        list.Add((began, ended));
    }

    public void Write(StringBuilder doc, Plots plots, string phaseLog)
    {
        doc.AppendLine("### Where a cold `docker run` of vmsandbox spends its time").AppendLine();
        if (!File.Exists(phaseLog))
        {
            doc.AppendLine("(no phase log was written: the runtime did not get diagnostics.phaseLog from the bench's dockerd)").AppendLine();
            return;
        }
        var byId = PhaseLog.Read(File.ReadLines(phaseLog));
        doc.AppendLine("The runtime's phase log (`diagnostics.phaseLog`, docs/configuration.md: each step of a container appends its time on the")
            .AppendLine("host's monotonic clock) against the bench's own call of `docker run`, for the measured runs above; each cell is the step's median time")
            .AppendLine("after `docker run` was called, in ms (the step before it is the difference). The boot's steps are the monitor's boot timings")
            .AppendLine("(QEMU's QMP, the guest's clock at /init and at the agent's readiness line).").AppendLine();
        var variants = _runs.Keys.ToList();
        doc.Append("| step | what happened |");
        foreach (string v in variants)
        {
            doc.Append(CultureInfo.InvariantCulture, $" {v}, ms after `docker run` (runs with it) |");
        }
        doc.AppendLine().Append("|---|---|").AppendLine(string.Concat(Enumerable.Repeat("---:|", variants.Count)));
        var medians = new Dictionary<(string, string), double>();
        foreach (string phase in (string[])[.. PhaseLog.Phases, DockerReturned])
        {
            string what = phase == DockerReturned ? "`docker run` returns" : s_what[phase];
            var cells = new List<string>();
            foreach (string v in variants)
            {
                var offsets = new List<double>();
                foreach ((long began, long ended) in _runs[v])
                {
                    if (phase == DockerReturned)
                    {
                        offsets.Add((ended - began) / 1000.0);
                        continue;
                    }
                    Dictionary<string, long>? marks = byId.Values.FirstOrDefault(m => m.TryGetValue("create", out long c) && c >= began && c <= ended);
                    if (marks is not null && marks.TryGetValue(phase, out long at))
                    {
                        offsets.Add((at - began) / 1000.0);
                    }
                }
                offsets.Sort();
                if (offsets.Count > 0)
                {
                    medians[(v, phase)] = Program.Median(offsets);
                }
                cells.Add(offsets.Count == 0 ? "–" : string.Create(CultureInfo.InvariantCulture, $"{Program.Median(offsets):F0} ({offsets.Count})"));
            }
            if (cells.All(c => c == "–"))
            {
                continue;
            }
            doc.AppendLine(CultureInfo.InvariantCulture, $"| {phase} | {what} | {string.Join(" | ", cells)} |");
        }
        doc.AppendLine();
        Column[] columns =
        [
            new("until the process runs", "ms", "F0"), new("until its exit is recorded", "ms", "F0"), new("until docker run returns", "ms", "F0"),
        ];
        var rows = variants.Select(v => (v, new double?[]
        {
            medians.TryGetValue((v, "running"), out double r) ? r : null,
            medians.TryGetValue((v, "exited"), out double x) ? x : null,
            medians.TryGetValue((v, DockerReturned), out double d) ? d : null,
        })).ToList();
        string? link = plots.Draw("docker-run-phases", "docker run --rm IMG true, vmsandbox: time since docker run", columns, rows);
        doc.AppendLine(link is null ? "(no plot: gnuplot is missing or failed; fix: `make setup`)" : $"![docker run phases]({link})").AppendLine();
    }
}
