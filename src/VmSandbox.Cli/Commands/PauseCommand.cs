using VmSandbox.Common;
using VmSandbox.Runtime.Containers;

namespace VmSandbox.Cli.Commands;

/// <summary>`vmsandbox pause ID` / `vmsandbox resume ID`: <see cref="Container.Pause"/>, <see cref="Container.Resume"/>.</summary>
public static class PauseCommand
{
    public static int Run(ArgReader reader, ContainerRuntime rt, bool pause)
    {
        string verb = pause ? "pause" : "resume";
        Container container = Container.Load(rt, VerbArgs.Parse(reader, verb, [], []).SingleId(verb));
        if (pause)
        {
            container.Pause();
        }
        else
        {
            container.Resume();
        }
        return ExitCodes.Success;
    }
}
