namespace VmSandbox.Runtime;

/// <summary>Where the runtime library's warnings and debug lines go (the CLI's --log, the shim's log).</summary>
public interface IRuntimeLog
{
    void Warn(string message);

    void Debug(string message);
}
