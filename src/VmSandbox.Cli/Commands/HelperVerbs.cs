using VmSandbox.Runtime.Containers;

namespace VmSandbox.Cli.Commands;

/// <summary>
/// The hidden verbs the runtime starts itself with: the sandbox monitor
/// (`__monitor --report S [--tty P] ID`, <see cref="MonitorProcess"/>) and the detached exec's
/// relay (`__exec --report S --process F [--exec-id E] [--tty P] ID`, <see cref="ExecRelay"/>).
/// </summary>
public static class HelperVerbs
{
    public static int Monitor(ArgReader reader, ContainerRuntime rt)
    {
        VerbArgs args = VerbArgs.Parse(reader, MonitorProcess.Verb, ["report", "tty"], []);
        return MonitorProcess.Run(rt, args.SingleId(MonitorProcess.Verb), args.Required(MonitorProcess.Verb, "report"), args.Value("tty"));
    }

    public static int Member(ArgReader reader, ContainerRuntime rt)
    {
        VerbArgs args = VerbArgs.Parse(reader, MemberProcess.Verb, ["report", "tty"], []);
        return MemberProcess.Run(rt, args.SingleId(MemberProcess.Verb), args.Required(MemberProcess.Verb, "report"), args.Value("tty"));
    }

    /// <summary>`__pool-vm DIR`: one VM of the warm pool (<see cref="Runtime.Sandbox.PoolVm"/>).</summary>
    public static int PoolVm(ArgReader reader, ContainerRuntime rt)
    {
        VerbArgs args = VerbArgs.Parse(reader, Runtime.Sandbox.PoolVm.Verb, [], []);
        return Runtime.Sandbox.PoolVm.Run(rt.Config, args.SingleId(Runtime.Sandbox.PoolVm.Verb));
    }

    public static int ExecRelay(ArgReader reader, ContainerRuntime rt)
    {
        const string verb = Runtime.Containers.ExecRelay.Verb;
        VerbArgs args = VerbArgs.Parse(reader, verb, ["report", "process", "tty", "exec-id"], []);
        return Runtime.Containers.ExecRelay.Run(rt, args.SingleId(verb), args.Required(verb, "report"), args.Required(verb, "process"), args.Value("tty"), args.Value("exec-id"));
    }
}
