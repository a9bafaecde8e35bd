using System.Diagnostics;
using Google.Protobuf;
using VmSandbox.Agent.Protocol;
using VmSandbox.Common;
using VmSandbox.Ttrpc;

namespace VmSandbox.Runtime.Sandbox;

/// <summary>
/// Tells containerd that the container was OOM-killed, as containerd-shim-runc-v2 would after an
/// OOM notification from the host cgroup. In a VM the OOM killer acts in the guest and the host
/// cgroup never fires, so without this Docker reports <c>OOMKilled: false</c>. Docker takes the
/// flag from a TaskOOM event that arrives before the task's exit event, so the monitor publishes
/// it before it exits. The shim is the monitor's parent (a subreaper once `create` returned); its
/// command line gives containerd's address, the namespace and the container ID, and the event
/// goes through `containerd publish`, the binary shims themselves use. Outside containerd (no
/// shim parent) there is no one to tell and nothing happens.
/// </summary>
public static class OomForwarder
{
    public const string Topic = "/tasks/oom";
    public const string TypeUrl = "containerd.events.TaskOOM";

    public sealed record ShimInfo(string Address, string Namespace, string ContainerId, string PublishBinary);

    /// <summary>A SIGKILL that the guest cgroup counts as an OOM kill is reported to containerd (Docker's OOMKilled, a pod's OOMKilled reason).</summary>
    public static async Task ForwardIfOomKilledAsync(AgentClient agent, string containerId, Action<string> log)
    {
        try
        {
            StatsResponse stats = await agent.StatsAsync(new StatsRequest { ContainerId = containerId }, new TtrpcCallOptions { Timeout = TimeSpan.FromSeconds(30) }, CancellationToken.None);
            if (stats.Memory?.OomKills > 0)
            {
                log($"container {containerId}: OOM-killed in the guest; {Publish(containerId, TimeSpan.FromSeconds(10))}");
            }
        }
        catch (Exception e) when (e is VmSandboxException or IOException or System.Net.Sockets.SocketException or TtrpcException)
        {
            log($"container {containerId}: OOM check: {e.Message}");
        }
    }

    /// <summary>
    /// Publishes TaskOOM for <paramref name="containerId"/> if our parent is a containerd shim;
    /// returns what happened, for the log. The ID is ours, not the shim's -id: a shim serves a
    /// whole pod under its first task's ID.
    /// </summary>
    public static string Publish(string containerId, TimeSpan timeout)
    {
        int ppid = Interop.ProcessCalls.GetParentPid();
        string[] argv;
        try
        {
            argv = File.ReadAllText($"/proc/{ppid}/cmdline").Split('\0', StringSplitOptions.RemoveEmptyEntries);
        }
        catch (IOException)
        {
            return "no parent to tell";
        }
        if (ParseShim(argv) is not { } shim)
        {
            return "not started by a containerd shim";
        }
        var psi = new ProcessStartInfo(shim.PublishBinary)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in (string[])["--address", shim.Address, "publish", "--namespace", shim.Namespace, "--topic", Topic])
        {
            psi.ArgumentList.Add(a);
        }
        try
        {
            using Process p = Process.Start(psi)!;
            p.StandardInput.BaseStream.Write(Payload(containerId));
            p.StandardInput.Close();
            string stderr = p.StandardError.ReadToEnd();
            if (!p.WaitForExit(timeout))
            {
                p.Kill();
                return $"{shim.PublishBinary} publish timed out";
            }
            return p.ExitCode == 0 ? $"published TaskOOM for {containerId}" : $"{shim.PublishBinary} publish failed: {stderr.Trim()}";
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return $"{shim.PublishBinary}: {e.Message}";
        }
    }

    /// <summary>containerd-shim-*-v2's flags: -namespace, -id, -address, optional -publish-binary.</summary>
    public static ShimInfo? ParseShim(IReadOnlyList<string> argv)
    {
        if (argv.Count == 0 || !Path.GetFileName(argv[0]).StartsWith("containerd-shim", StringComparison.Ordinal))
        {
            return null;
        }
        string? Flag(string name)
        {
            for (int i = 1; i < argv.Count; i++)
            {
                string a = argv[i].TrimStart('-');
                if (a == name && i + 1 < argv.Count)
                {
                    return argv[i + 1];
                }
                if (a.StartsWith(name + "=", StringComparison.Ordinal))
                {
                    return a[(name.Length + 1)..];
                }
            }
            return null;
        }
        string? address = Flag("address");
        string? ns = Flag("namespace");
        string? id = Flag("id");
        if (address is null || ns is null || id is null)
        {
            return null;
        }
        return new ShimInfo(address, ns, id, Flag("publish-binary") ?? "/usr/bin/containerd");
    }

    /// <summary>google.protobuf.Any { type_url, value = containerd.events.TaskOOM { container_id } }.</summary>
    public static byte[] Payload(string containerId)
    {
        byte[] id = System.Text.Encoding.UTF8.GetBytes(containerId);
        using var inner = new MemoryStream();
        using (var o = new CodedOutputStream(inner, leaveOpen: true))
        {
            o.WriteTag(1, WireFormat.WireType.LengthDelimited);
            o.WriteBytes(ByteString.CopyFrom(id));
        }
        using var any = new MemoryStream();
        using (var o = new CodedOutputStream(any, leaveOpen: true))
        {
            o.WriteTag(1, WireFormat.WireType.LengthDelimited);
            o.WriteString(TypeUrl);
            o.WriteTag(2, WireFormat.WireType.LengthDelimited);
            o.WriteBytes(ByteString.CopyFrom(inner.ToArray()));
        }
        return any.ToArray();
    }
}
