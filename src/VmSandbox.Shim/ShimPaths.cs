using System.Text.RegularExpressions;
using VmSandbox.Common;
using VmSandbox.Runtime;
using VmSandbox.Runtime.Config;
using VmSandbox.Runtime.Containers;

namespace VmSandbox.Shim;

/// <summary>
/// Where a shim keeps things and how it builds the container core for one task: the containers of
/// containerd namespace NS live in their own store, STATE/containerd/NS (the CLI's default root is
/// STATE itself, so `vmsandbox list` never mixes them up with containers Docker made), and the
/// sandbox monitor and exec relays are the `vmsandbox` binary installed beside the shim.
/// </summary>
public sealed partial class ShimPaths
{
    public ShimPaths(RuntimeConfig config, string ns)
    {
        if (!NamespacePattern().IsMatch(ns))
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, $"invalid containerd namespace {ns}: letters, digits and . _ - only");
        }
        Config = config;
        Namespace = ns;
        StoreRoot = Path.Combine(config.StateRoot, "containerd", ns);
        SocketDir = Path.Combine(config.StateRoot, "shim");
    }

    public RuntimeConfig Config { get; }

    public string Namespace { get; }

    public string StoreRoot { get; }

    /// <summary>0700; holds the serving shims' sockets (0600) and their console sockets.</summary>
    public string SocketDir { get; }

    /// <summary>The `vmsandbox` binary beside this one: the monitor and exec relays are its hidden verbs.</summary>
    public static string RuntimeBinary => Path.Combine(AppContext.BaseDirectory, "vmsandbox");

    /// <summary>
    /// The serving shim's socket for a group of tasks (a pod's containers share one, as in
    /// runc's shim): a hash of containerd's address, the namespace and the group, so two
    /// containerd instances never share a shim.
    /// </summary>
    public string SocketFor(string containerdAddress, string group)
    {
        return Path.Combine(SocketDir, Sha256.HexPrefix($"{containerdAddress}\0{Namespace}\0{group}", 32) + ".sock");
    }

    /// <summary>
    /// The container core for one task: its helpers log to the bundle's log.json, as runc's
    /// shim has runc do (containerd removes the bundle with the task).
    /// </summary>
    public ContainerRuntime RuntimeFor(string bundle, IRuntimeLog log, bool debug)
    {
        var store = new ContainerStore(StoreRoot, Config.StateRoot);
        List<string> args = ["--root", StoreRoot, "--log", Path.Combine(bundle, "log.json"), "--log-format", "json"];
        if (debug)
        {
            args.Add("--debug");
        }
        return new ContainerRuntime(Config, store, log, new OsSandboxHost(RuntimeBinary, args, reapsHelpers: true));
    }

    // containerd's identifiers (identifiers.Validate): alphanumeric runs joined by . _ -, at most 76.
    [GeneratedRegex("^(?=.{1,76}$)[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$")]
    private static partial Regex NamespacePattern();
}
