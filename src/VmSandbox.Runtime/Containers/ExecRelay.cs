using VmSandbox.Common;
using VmSandbox.Oci;
using VmSandbox.Runtime.Sandbox;

namespace VmSandbox.Runtime.Containers;

/// <summary>
/// The detached exec's relay, the runtime binary under a hidden verb:
/// <c>__exec --report S --process F [--exec-id E] [--tty P] ID</c>. It leaves the caller's session, runs the
/// process (<see cref="ExecSession"/>), reports once it runs (or why not) and exits with its status.
/// </summary>
public static class ExecRelay
{
    public const string Verb = "__exec";

    public static int Run(ContainerRuntime rt, string id, string report, string processFile, string? ttyPath, string? execId = null)
    {
        _ = Interop.ProcessCalls.NewSession(); // false only if already a group leader: then already detached enough
        byte[] json = File.ReadAllBytes(processFile);
        File.Delete(processFile);
        ContainerRecord record = rt.Store.Load(id);
        bool terminal = ProcessLoader.Parse(json, []).Terminal;
        void Started(int pid, Exception? error) =>
            MonitorReport.SendAsync(report, error is null ? new MonitorReport { GuestPid = pid } : MonitorReport.Failed(error), _ => { }).GetAwaiter().GetResult();
        try
        {
            return ExecSession.RunAsync(record, json, terminal, ttyPath, Started, rt.Log.Debug, relay: true, CancellationToken.None, execId).GetAwaiter().GetResult();
        }
        catch (Exception e)
        {
            // Errors before the process started were reported; later ones end the relay like a lost process.
            rt.Log.Debug(VmSandboxException.FormatChain(e));
            return ExitCodes.Failure;
        }
    }
}
