using System.Globalization;
using System.Text;
using VmSandbox.Common;
using VmSandbox.Interop;
using VmSandbox.Oci.Spec;
using VmSandbox.Oci.State;
using OciHooks = VmSandbox.Oci.Spec.Hooks;

namespace VmSandbox.Oci.HookRunning;

/// <summary>
/// Runs OCI hooks on the host as runc does (libcontainer/configs <c>Hooks.Run</c> and
/// <c>Command.Run</c>): <c>path</c> is executed directly with <c>args</c> as the whole argv (args[0]
/// is argv[0] and may differ from path; no args means argv = [path]), <c>env</c> as the whole
/// environment (none given: this process's environment, as Go's exec.Cmd with a nil Env),
/// the state JSON on stdin, stdout and stderr captured for the error, and a process group killed
/// after <c>timeout</c> seconds. In a VM runtime every hook runs on the host, in the caller's
/// namespaces (see docs/oci.md). Collaborators: <see cref="HookProcess"/> runs one process;
/// <see cref="StateJson.FormatHookState"/> writes stdin.
/// </summary>
public sealed class HookRunner : IHookRunner
{
    private readonly IReadOnlyList<string>? _defaultEnv;

    /// <param name="defaultEnv">
    /// The environment of hooks that set none; null means this process's environment (runc: a nil
    /// exec.Cmd Env). runc gives startContainer hooks the container process's env instead
    /// (<c>HookList.SetDefaultEnv</c>): pass that here for them.
    /// </param>
    public HookRunner(IReadOnlyList<string>? defaultEnv = null)
    {
        _defaultEnv = defaultEnv;
    }

    /// <summary>How long to wait for a finished hook's stdout/stderr to reach end of file.</summary>
    public TimeSpan ExitGrace { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The spec's name of a hook point ("createRuntime", …), as in runc's errors.</summary>
    public static string SpecName(HookKind kind) => kind switch
    {
        HookKind.Prestart => "prestart",
        HookKind.CreateRuntime => "createRuntime",
        HookKind.CreateContainer => "createContainer",
        HookKind.StartContainer => "startContainer",
        HookKind.Poststart => "poststart",
        HookKind.Poststop => "poststop",
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>The list of one hook point in a spec's <c>hooks</c> object (null when absent).</summary>
    public static IReadOnlyList<Hook>? Select(OciHooks? hooks, HookKind kind) => kind switch
    {
        HookKind.Prestart => hooks?.Prestart,
        HookKind.CreateRuntime => hooks?.CreateRuntime,
        HookKind.CreateContainer => hooks?.CreateContainer,
        HookKind.StartContainer => hooks?.StartContainer,
        HookKind.Poststart => hooks?.Poststart,
        HookKind.Poststop => hooks?.Poststop,
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>Runs the <paramref name="kind"/> list of a spec's hooks; see <see cref="Run(HookKind, IReadOnlyList{Hook}?, HookState)"/>.</summary>
    public void Run(HookKind kind, OciHooks? hooks, HookState state) => Run(kind, Select(hooks, kind), state);

    public void Run(HookKind kind, IReadOnlyList<Hook>? hooks, HookState state)
    {
        if (hooks is null || hooks.Count == 0)
        {
            return;
        }
        byte[] stdin = Encoding.UTF8.GetBytes(StateJson.FormatHookState(state));
        for (int i = 0; i < hooks.Count; i++)
        {
            RunOne(kind, i, hooks[i], stdin);
        }
    }

    public IReadOnlyList<VmSandboxException> RunAll(HookKind kind, IReadOnlyList<Hook>? hooks, HookState state)
    {
        var failures = new List<VmSandboxException>();
        if (hooks is null || hooks.Count == 0)
        {
            return failures;
        }
        byte[] stdin = Encoding.UTF8.GetBytes(StateJson.FormatHookState(state));
        for (int i = 0; i < hooks.Count; i++)
        {
            try
            {
                RunOne(kind, i, hooks[i], stdin);
            }
            catch (VmSandboxException e)
            {
                failures.Add(e);
            }
        }
        return failures;
    }

    private void RunOne(HookKind kind, int index, Hook hook, byte[] stdin)
    {
        // runc ≥ 1.2 wording ("libct: better errors for hooks", 6a4870e4a): the chain prints
        // "error running prestart hook #0: exit status 1, stdout: …, stderr: …".
        string context = $"error running {SpecName(kind)} hook #{index}";
        try
        {
            Execute(hook, stdin);
        }
        catch (VmSandboxException e)
        {
            throw new VmSandboxException(e.Code, context, e);
        }
    }

    private void Execute(Hook hook, byte[] stdin)
    {
        string? problem = !hook.Path.StartsWith('/') ? $"path {MessageQuote(hook.Path)} is not absolute"
            : hook.Timeout is <= 0 ? $"timeout {hook.Timeout} is not a positive number of seconds"
            : FindNul(hook);
        if (problem is not null)
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, problem);
        }
        IReadOnlyList<string> argv = hook.Args is { Count: > 0 } args ? args : [hook.Path];
        IReadOnlyList<string> env = hook.Env ?? _defaultEnv ?? Spawn.CurrentEnvironment();
        TimeSpan? timeout = hook.Timeout is { } seconds ? TimeSpan.FromSeconds(seconds) : null;
        HookProcessResult result = HookProcess.Run(hook.Path, argv, env, stdin, timeout, ExitGrace);
        if (result.TimedOut)
        {
            // runc compat: "hook ran past specified timeout of %.1fs".
            throw new VmSandboxException(ErrorCode.Timeout,
                string.Create(CultureInfo.InvariantCulture, $"hook ran past specified timeout of {timeout!.Value.TotalSeconds:0.0}s"));
        }
        ChildExit exit = result.Exit!.Value;
        if (exit.Signaled || exit.Code != 0)
        {
            // runc compat: fmt.Errorf("%w, stdout: %s, stderr: %s", *exec.ExitError, …).
            throw new VmSandboxException(ErrorCode.Internal, $"{ExitText(exit)}, stdout: {result.Stdout}, stderr: {result.Stderr}");
        }
    }

    /// <summary>Go's os.ProcessState.String(): "exit status 2", "signal: killed", "signal: aborted (core dumped)".</summary>
    internal static string ExitText(ChildExit exit)
    {
        if (!exit.Signaled)
        {
            return $"exit status {exit.Code}";
        }
        string name = exit.Signal switch
        {
            1 => "hangup",
            2 => "interrupt",
            3 => "quit",
            4 => "illegal instruction",
            6 => "aborted",
            7 => "bus error",
            8 => "floating point exception",
            9 => "killed",
            11 => "segmentation fault",
            13 => "broken pipe",
            14 => "alarm clock",
            15 => "terminated",
            5 => "trace/breakpoint trap",
            10 => "user defined signal 1",
            12 => "user defined signal 2",
            16 => "stack fault",
            24 => "CPU time limit exceeded",
            25 => "file size limit exceeded",
            26 => "virtual timer expired",
            27 => "profiling timer expired",
            30 => "power failure",
            31 => "bad system call", // SIGSYS: what a seccomp KILL rule shows
            _ => $"signal {exit.Signal}",
        };
        return $"signal: {name}{(exit.CoreDumped ? " (core dumped)" : "")}";
    }

    private static string? FindNul(Hook hook)
    {
        // execve takes C strings: Go's exec refuses a NUL byte instead of truncating, and so do we.
        if (hook.Path.Contains('\0'))
        {
            return "path contains a nul byte";
        }
        for (int i = 0; i < (hook.Args?.Count ?? 0); i++)
        {
            if (hook.Args![i].Contains('\0'))
            {
                return $"args[{i}] contains a nul byte";
            }
        }
        for (int i = 0; i < (hook.Env?.Count ?? 0); i++)
        {
            if (hook.Env![i].Contains('\0'))
            {
                return $"env[{i}] contains a nul byte";
            }
        }
        return null;
    }

    private static string MessageQuote(string s) => "\"" + s + "\"";
}
