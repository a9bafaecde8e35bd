using System.Globalization;

namespace VmSandbox.Tests.E2e;

/// <summary>
/// The runc-parity table (issue #5): everyday Docker behaviours, each observed under runc and
/// under vmsandbox on the same daemon. Observations leave out what is meant to differ (the
/// kernel, the runtime's own error prefix) and nothing else.
/// </summary>
public static class ParityTable
{
    public static readonly ParityRow[] Rows =
    [
        new("stdout", async s => Show(await s.Run("echo", "hello")), "exit=0 out=hello err="),
        new("stdout and stderr kept apart", async s => Show(await s.Run("sh", "-c", "echo out; echo err >&2")), "exit=0 out=out err=err"),
        new("exit code 0", async s => Show(await s.Run("true")), "exit=0 out= err="),
        new("exit code 1", async s => Show(await s.Run("false")), "exit=1 out= err="),
        new("exit code 42", async s => Show(await s.Run("sh", "-c", "exit 42")), "exit=42 out= err="),
        new("exit code 127: missing entrypoint", async s => Missing(await s.Run("nosuchcmd")), "exit=127 executable file not found in $PATH"),
        new("exit code 126: entrypoint not executable", async s => Denied(await s.Run("/not-executable")), "exit=126 permission denied"),
        new("exit code 125: daemon refuses the options", async s => (await s.Run("-w", "relative", "--", "true")).ExitCode.ToString(CultureInfo.InvariantCulture), "125"),
        new("-i stdin", async s => Show(await s.RunWith("x\ny\n", "cat")), "exit=0 out=x\ny err="),
        new("-i stdin reaches EOF", async s => Show(await s.RunWith("abc", "wc", "-c")), "exit=0 out=3 err="),
        new("-e environment", async s => Show(await s.Run("-e", "FOO=bar", "--", "sh", "-c", "echo $FOO")), "exit=0 out=bar err="),
        new("-w working directory", async s => Show(await s.Run("-w", "/tmp", "--", "pwd")), "exit=0 out=/tmp err="),
        new("-w creates a missing directory", async s => Show(await s.Run("-w", "/new/dir", "--", "pwd")), "exit=0 out=/new/dir err="),
        new("-u uid:gid", async s => Show(await s.Run("-u", "1000:1000", "--", "sh", "-c", "id -u; id -g")), "exit=0 out=1000\n1000 err="),
        new("-u root by name", async s => Show(await s.Run("-u", "root", "--", "id", "-u")), "exit=0 out=0 err="),
        new("--hostname", async s => Show(await s.Run("--hostname", "box1", "--", "hostname")), "exit=0 out=box1 err="),
        new("--read-only root", async s => Show(await s.Run("--read-only", "--", "sh", "-c", "touch /x 2>/dev/null; echo $?")), "exit=0 out=1 err="),
        new("--read-only keeps --tmpfs writable", async s => Show(await s.Run("--read-only", "--tmpfs", "/scratch", "--", "sh", "-c", "touch /scratch/x && echo ok")), "exit=0 out=ok err="),
        new("--tmpfs is a tmpfs", async s => Show(await s.Run("--tmpfs", "/scratch", "--", "sh", "-c", "grep ' /scratch ' /proc/mounts | cut -d' ' -f3")), "exit=0 out=tmpfs err="),
        new("-v host dir: container writes show on the host", async s =>
        {
            string dir = s.HostDir("rw");
            CommandResult r = await s.Run("-v", $"{dir}:/data", "--", "sh", "-c", "echo written > /data/f");
            return $"{Show(r)} host={ReadOrNone(Path.Combine(dir, "f"))}";
        }, "exit=0 out= err= host=written"),
        new("-v host dir: host files show in the container", async s =>
        {
            string dir = s.HostDir("in");
            File.WriteAllText(Path.Combine(dir, "g"), "from-host");
            return Show(await s.Run("-v", $"{dir}:/data", "--", "cat", "/data/g"));
        }, "exit=0 out=from-host err="),
        new("-v :ro refuses writes", async s =>
        {
            string dir = s.HostDir("ro");
            CommandResult r = await s.Run("-v", $"{dir}:/data:ro", "--", "sh", "-c", "touch /data/f 2>/dev/null; echo $?");
            return $"{Show(r)} host={ReadOrNone(Path.Combine(dir, "f"))}";
        }, "exit=0 out=1 err= host=none"),
        new("-v single file", async s =>
        {
            string dir = s.HostDir("file");
            string file = Path.Combine(dir, "conf");
            File.WriteAllText(file, "one-file");
            return Show(await s.Run("-v", $"{file}:/etc/conf:ro", "--", "cat", "/etc/conf"));
        }, "exit=0 out=one-file err="),
        new("named volume keeps data between containers", async s =>
        {
            string vol = s.Volume("keep");
            CommandResult w = await s.Run("-v", $"{vol}:/v", "--", "sh", "-c", "echo kept > /v/a");
            CommandResult r = await s.Run("-v", $"{vol}:/v", "--", "cat", "/v/a");
            return $"{Show(w)} | {Show(r)}";
        }, "exit=0 out= err= | exit=0 out=kept err="),
        new("--network none starts", async s => Show(await s.Run("--network", "none", "--", "echo", "up")), "exit=0 out=up err="),
        new("default bridge network starts", async s => Show(await s.Run("echo", "up")), "exit=0 out=up err="),
        new("--init runs docker-init as pid 1", async s => Show(await s.Run("--init", "--", "cat", "/proc/1/comm")), "exit=0 out=docker-init err="),
        new("device cgroup: a node outside the allow list can be made, not opened", async s => Show(await s.Run("sh", "-c",
            "mknod /tmp/kmsg c 1 11 && echo made; { echo x > /tmp/kmsg; } 2>/dev/null; echo kmsg=$?; echo x > /dev/null && echo null=ok")), "exit=0 out=made\nkmsg=1\nnull=ok err="),
        new("pid 1 is the entrypoint", async s => Show(await s.Run("sh", "-c", "echo $$")), "exit=0 out=1 err="),
        // The container reads its own cgroup: v1 files under runc on a v1 host, v2 in our guest.
        new("--memory sets the cgroup limit", async s => Show(await s.Run("--memory", "64m", "--", "sh", "-c",
            "cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes")), "exit=0 out=67108864 err="),
        new("--cpus sets the cgroup quota", async s => Show(await s.Run("--cpus", "0.5", "--", "sh", "-c",
            "cat /sys/fs/cgroup/cpu.max 2>/dev/null || echo $(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us) $(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us)")), "exit=0 out=50000 100000 err="),
        // The host's last CPU (1 on a 2-core machine): a CPU number the VM's own vCPUs need not have.
        new("--cpuset-cpus runs on one CPU", async s => Show(await s.Run("--cpuset-cpus", (Environment.ProcessorCount - 1).ToString(CultureInfo.InvariantCulture), "--", "nproc")), "exit=0 out=1 err="),
        new("-t allocates a terminal", async s => Show(await s.Run("-t", "--", "sh", "-c", "test -t 1 && echo tty")).Replace("\r", "", StringComparison.Ordinal), "exit=0 out=tty err="),
        new("docker exec: output and exit code", async s =>
        {
            string id = await s.Detached("sleep", "1000");
            CommandResult ok = await s.Docker("exec", id, "echo", "in-exec");
            CommandResult code = await s.Docker("exec", id, "sh", "-c", "exit 7");
            return $"{Show(ok)} | {code.ExitCode}";
        }, "exit=0 out=in-exec err= | 7"),
        new("docker exec -e -u -w", async s =>
        {
            string id = await s.Detached("sleep", "1000");
            return Show(await s.Docker("exec", "-e", "A=b", "-u", "1000", "-w", "/tmp", id, "sh", "-c", "echo $A $(id -u) $(pwd)"));
        }, "exit=0 out=b 1000 /tmp err="),
        new("docker exec -i stdin", async s =>
        {
            string id = await s.Detached("sleep", "1000");
            return Show(await s.Daemon.DockerAsync(["exec", "-i", id, "cat"], "piped\n"));
        }, "exit=0 out=piped err="),
        new("docker exec -t", async s =>
        {
            string id = await s.Detached("sleep", "1000");
            return Show(await s.Docker("exec", "-t", id, "sh", "-c", "test -t 0 && echo tty")).Replace("\r", "", StringComparison.Ordinal);
        }, "exit=0 out=tty err="),
        // The docker CLI sends these on SIGWINCH; here the API call directly (no terminal needed).
        new("-t: a window resize reaches the container's terminal", async s =>
        {
            string id = await s.Detached("-t", "--", "sh", "-c", "trap 'stty size' WINCH; echo ready; while true; do sleep 0.2; done");
            bool ready = await s.WaitForLogs(id, "ready", TimeSpan.FromMinutes(1));
            (int status, _) = await s.Daemon.ApiPostAsync($"/containers/{id}/resize?h=31&w=101");
            bool resized = await s.WaitForLogs(id, "31 101", TimeSpan.FromSeconds(30));
            return $"ready={ready} resize={status} seen={resized}";
        }, "ready=True resize=200 seen=True"),
        new("docker exec -t: a window resize reaches the exec's terminal", async s =>
        {
            string id = await s.Detached("sleep", "1000");
            (int created, string body) = await s.Daemon.ApiPostAsync($"/containers/{id}/exec",
                """{"Tty":true,"Cmd":["sh","-c","trap 'stty size > /tmp/size' WINCH; touch /tmp/ready; while true; do sleep 0.2; done"]}""");
            string execId = System.Text.Json.JsonDocument.Parse(body).RootElement.GetProperty("Id").GetString()!;
            (int started, _) = await s.Daemon.ApiPostAsync($"/exec/{execId}/start", """{"Detach":true,"Tty":true}""");
            bool ready = await s.Until(async () => (await s.Docker("exec", id, "test", "-e", "/tmp/ready")).ExitCode == 0, TimeSpan.FromMinutes(1));
            (int resize, _) = await s.Daemon.ApiPostAsync($"/exec/{execId}/resize?h=27&w=93");
            bool seen = await s.Until(async () => (await s.Docker("exec", id, "cat", "/tmp/size")).Stdout.Trim() == "27 93", TimeSpan.FromSeconds(30));
            return $"create={created} start={started} ready={ready} resize={resize} seen={seen}";
        }, "create=201 start=200 ready=True resize=200 seen=True"),
        // Docker picks the runtime's PIDs out of the host's ps: runc's are the container's
        // processes, vmsandbox's the sandbox's (monitor, QEMU, virtiofsd): the rows differ, the
        // command's shape does not (see Docker_top_lists_the_sandbox_on_the_host).
        new("docker top", async s =>
        {
            string id = await s.Detached("sleep", "1000");
            CommandResult top = await s.Docker("top", id);
            string[] lines = top.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            string header = lines.Length > 0 ? string.Join(' ', lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries)) : "";
            return $"exit={top.ExitCode} header={header} rows>0={lines.Length > 1} err={top.Stderr.Trim()}";
        }, "exit=0 header=UID PID PPID C STIME TTY TIME CMD rows>0=True err="),
        new("docker logs keeps stdout and stderr apart", async s =>
        {
            string id = await s.Detached("sh", "-c", "echo logged; echo oops >&2");
            await s.WaitFor(id, "{{.State.Status}}", "exited", TimeSpan.FromMinutes(2));
            return Show(await s.Docker("logs", id));
        }, "exit=0 out=logged err=oops"),
        new("docker logs -f follows until exit", async s =>
        {
            string id = await s.Detached("sh", "-c", "echo one; sleep 1; echo two");
            return Show(await s.Docker("logs", "-f", id));
        }, "exit=0 out=one\ntwo err="),
        new("docker wait returns the exit code", async s =>
        {
            string id = await s.Detached("sh", "-c", "sleep 1; exit 5");
            return Show(await s.Docker("wait", id));
        }, "exit=0 out=5 err="),
        new("docker stop: SIGTERM handled", async s =>
        {
            string id = await s.Detached("sh", "-c", "trap 'echo got-term; exit 0' TERM; while true; do sleep 0.2; done");
            await Task.Delay(1500);
            CommandResult stop = await s.Docker("stop", "-t", "30", id);
            return $"{stop.ExitCode} {await s.Inspect(id, "{{.State.ExitCode}}")} {(await s.Docker("logs", id)).Stdout.Trim()}";
        }, "0 0 got-term"),
        new("docker stop: SIGKILL after the timeout", async s =>
        {
            string id = await s.Detached("sleep", "1000");
            CommandResult stop = await s.Docker("stop", "-t", "1", id);
            return $"{stop.ExitCode} {await s.Inspect(id, "{{.State.ExitCode}}")}";
        }, "0 137"),
        new("docker kill -s USR1", async s =>
        {
            string id = await s.Detached("sh", "-c", "trap 'echo got-usr1; exit 3' USR1; while true; do sleep 0.2; done");
            await Task.Delay(1500);
            CommandResult kill = await s.Docker("kill", "-s", "USR1", id);
            string status = await s.WaitFor(id, "{{.State.Status}}", "exited", TimeSpan.FromMinutes(1));
            return $"{kill.ExitCode} {status} {await s.Inspect(id, "{{.State.ExitCode}}")} {(await s.Docker("logs", id)).Stdout.Trim()}";
        }, "0 exited 3 got-usr1"),
        new("docker kill", async s =>
        {
            string id = await s.Detached("sleep", "1000");
            CommandResult kill = await s.Docker("kill", id);
            string status = await s.WaitFor(id, "{{.State.Status}}", "exited", TimeSpan.FromMinutes(1));
            return $"{kill.ExitCode} {status} {await s.Inspect(id, "{{.State.ExitCode}}")}";
        }, "0 exited 137"),
        new("docker rm -f a running container", async s =>
        {
            string id = await s.Detached("sleep", "1000");
            CommandResult rm = await s.Docker("rm", "-f", id);
            CommandResult gone = await s.Docker("inspect", id);
            return $"{rm.ExitCode} {gone.ExitCode}";
        }, "0 1"),
        new("docker pause and unpause", async s =>
        {
            string id = await s.Detached("sleep", "1000");
            CommandResult pause = await s.Docker("pause", id);
            string paused = await s.Inspect(id, "{{.State.Status}}");
            CommandResult unpause = await s.Docker("unpause", id);
            string running = await s.Inspect(id, "{{.State.Status}}");
            return $"{pause.ExitCode} {paused} {unpause.ExitCode} {running}";
        }, "0 paused 0 running"),
        new("docker restart", async s =>
        {
            string id = await s.Detached("sh", "-c", "echo started; sleep 1000");
            CommandResult restart = await s.Docker("restart", "-t", "1", id);
            string running = await s.Inspect(id, "{{.State.Status}}");
            await Task.Delay(1000);
            return $"{restart.ExitCode} {running} {(await s.Docker("logs", id)).Stdout.Trim()}";
        }, "0 running started\nstarted"),
        new("docker cp in and out", async s =>
        {
            string id = await s.Detached("sleep", "1000");
            string dir = s.HostDir("cp");
            File.WriteAllText(Path.Combine(dir, "in.txt"), "copied-in");
            CommandResult cpIn = await s.Docker("cp", Path.Combine(dir, "in.txt"), $"{id}:/tmp/in.txt");
            CommandResult cat = await s.Docker("exec", id, "cat", "/tmp/in.txt");
            CommandResult cpOut = await s.Docker("cp", $"{id}:/etc/passwd", Path.Combine(dir, "passwd"));
            return $"{cpIn.ExitCode} {cat.Stdout.Trim()} {cpOut.ExitCode} {ReadOrNone(Path.Combine(dir, "passwd")).Split(':')[0]}";
        }, "0 copied-in 0 root"),
        new("docker stats shows non-zero usage", async s =>
        {
            string id = await s.Detached("sleep", "1000");
            CommandResult stats = await s.Docker("stats", "--no-stream", "--format", "{{.MemUsage}}|{{.PIDs}}", id);
            string[] parts = stats.Stdout.Trim().Split('|');
            bool memory = parts.Length == 2 && !parts[0].StartsWith("0B", StringComparison.Ordinal);
            bool pids = parts.Length == 2 && int.TryParse(parts[1], out int n) && n > 0;
            return $"{stats.ExitCode} memory>0={memory} pids>0={pids}";
        }, "0 memory>0=True pids>0=True"),
        // A shell string that doubles until the limit stops it (2^25 bytes is already 32 MiB). The
        // guest's OOM kill reaches Docker's OOMKilled through a TaskOOM event the monitor publishes.
        new("--memory: exceeding the limit is OOM-killed", async s =>
        {
            string id = await s.Detached("--memory", "32m", "--memory-swap", "32m", "--", "sh", "-c", "x=a; while true; do x=$x$x; done; echo survived");
            string status = await s.WaitFor(id, "{{.State.Status}}", "exited", TimeSpan.FromMinutes(2));
            return $"{status} {await s.Inspect(id, "{{.State.ExitCode}} {{.State.OOMKilled}}")} {(await s.Docker("logs", id)).Stdout.Trim()}";
        }, "exited 137 true "),
    ];

    private static string Show(CommandResult r) => DockerSession.Show(r);

    private static string Missing(CommandResult r) =>
        $"exit={r.ExitCode} {(r.Stderr.Contains("executable file not found in $PATH", StringComparison.Ordinal) ? "executable file not found in $PATH" : r.Stderr.Trim())}";

    private static string Denied(CommandResult r) =>
        $"exit={r.ExitCode} {(r.Stderr.Contains("permission denied", StringComparison.Ordinal) ? "permission denied" : r.Stderr.Trim())}";

    private static string ReadOrNone(string path) => File.Exists(path) ? File.ReadAllText(path).Trim() : "none";
}
