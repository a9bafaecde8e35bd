using System.Diagnostics;
using System.Globalization;
using VmSandbox.Common;

namespace VmSandbox.Cli.Output;

/// <summary>runc ps's table: the header of the host's `ps ARGS`, then its rows whose PID is one of the container's.</summary>
public static class HostPsTable
{
    public static void Write(IReadOnlyCollection<int> pids, IReadOnlyList<string> psArgs, TextWriter stdout)
    {
        var psi = new ProcessStartInfo("ps") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in psArgs)
        {
            psi.ArgumentList.Add(a);
        }
        string output;
        using (Process ps = Process.Start(psi) ?? throw new VmSandboxException(ErrorCode.HostMissing, "ps: could not be started"))
        {
            Task<string> err = ps.StandardError.ReadToEndAsync();
            output = ps.StandardOutput.ReadToEnd();
            ps.WaitForExit();
            if (ps.ExitCode != 0)
            {
                throw new VmSandboxException(ErrorCode.InvalidArgument, $"ps {string.Join(' ', psArgs)}: {err.Result.Trim()}");
            }
        }
        string[] lines = output.Split('\n');
        int pidColumn = Array.IndexOf(lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries), "PID");
        if (pidColumn < 0)
        {
            throw new VmSandboxException(ErrorCode.InvalidArgument, "couldn't find PID field in ps output");
        }
        stdout.WriteLine(lines[0]);
        foreach (string line in lines.Skip(1))
        {
            string[] fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length > pidColumn && int.TryParse(fields[pidColumn], NumberStyles.None, CultureInfo.InvariantCulture, out int pid) && pids.Contains(pid))
            {
                stdout.WriteLine(line);
            }
        }
    }
}
