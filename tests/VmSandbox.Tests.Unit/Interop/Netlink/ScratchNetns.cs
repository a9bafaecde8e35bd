using System.Diagnostics;
using System.Text.Json.Nodes;

namespace VmSandbox.Tests.Unit.Interop.Netlink;

/// <summary>
/// A network namespace of its own (`ip netns add vmsb-nl-…`), deleted on Dispose, with `ip` and
/// `tc` run inside it. IPv6 link-local addresses are off in it, so that no address appears
/// asynchronously between two reads that a test compares.
/// </summary>
internal sealed class ScratchNetns : IDisposable
{
    private ScratchNetns(string name)
    {
        Name = name;
    }

    public string Name { get; }

    public string Path => "/run/netns/" + Name;

    /// <summary>Why these tests cannot run here, or null when they can.</summary>
    public static string? SkipReason()
    {
        if (!Environment.IsPrivilegedProcess)
        {
            return "needs root: creates a network namespace";
        }
        foreach (string tool in (string[])["ip", "tc"])
        {
            if (!Environment.GetEnvironmentVariable("PATH")!.Split(':').Any(d => File.Exists(System.IO.Path.Combine(d, tool))))
            {
                return $"needs iproute2's {tool} on PATH";
            }
        }
        return null;
    }

    public static ScratchNetns Create()
    {
        var ns = new ScratchNetns("vmsb-nl-" + Guid.NewGuid().ToString("N")[..10]);
        Run("ip", "netns", "add", ns.Name);
        try
        {
            ns.Exec("sh", "-c", "echo 1 > /proc/sys/net/ipv6/conf/default/addr_gen_mode");
        }
        catch
        {
            ns.Dispose();
            throw;
        }
        return ns;
    }

    /// <summary>`ip -n NAME ARGS…` (ARGS split on spaces).</summary>
    public string Ip(string args) => Run("ip", ["-n", Name, .. args.Split(' ')]);

    public string Tc(string args) => Run("tc", ["-n", Name, .. args.Split(' ')]);

    public JsonNode IpJson(string args) => JsonNode.Parse(Ip("-j " + args))!;

    public JsonNode TcJson(string args) => JsonNode.Parse(Tc("-j " + args))!;

    /// <summary>`ip -n NAME -batch FILE` with <paramref name="commands"/> as the file's lines.</summary>
    public void IpBatch(IEnumerable<string> commands)
    {
        string file = System.IO.Path.Combine(System.IO.Path.GetTempPath(), Name + ".batch");
        File.WriteAllLines(file, commands);
        try
        {
            Run("ip", "-n", Name, "-batch", file);
        }
        finally
        {
            File.Delete(file);
        }
    }

    public string Exec(params string[] command) => Run("ip", ["netns", "exec", Name, .. command]);

    public void Dispose() => Run("ip", "netns", "del", Name);

    private static string Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }
        using Process p = Process.Start(psi)!;
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited with {p.ExitCode}: {stderr.Result}");
        }
        return stdout;
    }
}
