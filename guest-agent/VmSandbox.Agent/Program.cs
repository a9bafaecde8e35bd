namespace VmSandbox.Agent;

/// <summary>
/// Placeholder entry point so that the skeleton builds (the unit tests reference this
/// project) on the ttrpc branch. The real one lives on main: on merge, take main's file.
/// </summary>
internal static class Program
{
    private static int Main() => 1;
}
