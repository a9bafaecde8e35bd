using Google.Protobuf;
using VmSandbox.Agent.ContainerInit;
using VmSandbox.Agent.ContainerInit.Protocol;
using VmSandbox.Agent.Protocol;
using VmSandbox.Interop;
using VmSandbox.Oci;
using VmSandbox.Oci.Spec;
using VmSandbox.Seccomp;

namespace VmSandbox.Agent.Containers;

/// <summary>
/// Runs, once and at idle priority, the code a first CreateContainer runs that costs nothing
/// but its first run: parsing a request and a Docker-like config.json, compiling its seccomp
/// profile, framing an init message and reading it back. Under TCG the first run of code is
/// its translation, and this code was ~0.2 s of the first container's create (issue 13, ADR
/// 0016); the container inits run the same binary at the same addresses, so what this
/// translates serves their parse too. SCHED_IDLE: it only fills the time the vCPU would idle
/// (a pooled VM's wait for its claim; in a cold start little, as the host's first calls keep
/// it busy), and a request preempts it. It never touches the guest's state: it only computes.
/// </summary>
public static class CreatePathWarmup
{
    /// <summary>Starts the warm-up thread (it ends by itself; a failure is ignored: it only costs time).</summary>
    public static void Start() => new Thread(Run) { IsBackground = true, Name = "create-warmup" }.Start();

    /// <summary>The work itself, on the calling thread; the tests run it to keep it in step with the create path.</summary>
    public static void RunOnce()
    {
        byte[] spec = InitWarmup.SampleSpec.ToArray();
        var request = new CreateContainerRequest
        {
            ContainerId = "warmup",
            OciSpec = ByteString.CopyFrom(spec),
            Rootfs = new RootfsMount { ShareTag = "rootfs", Path = "rootfs" },
            Stdio = new Stdio { Stdout = new StdioStream { Port = 1, Token = 1 } },
            Bundle = "/warmup",
        };
        request.SharedMounts.Add(new SharedMount { Destination = "/data", ShareTag = "m0", Path = "", Options = { "rbind", "rw" } });
        CreateContainerRequest parsed = CreateContainerRequest.Parser.ParseFrom(request.ToByteArray());
        RuntimeSpec runtime = SpecLoader.ParseAndValidate(parsed.OciSpec.Span, new List<string>(), "config.json");
        SeccompProgram seccomp = SeccompProgram.Compile(runtime.Linux!.Seccomp!);
        byte[] frame = InitFrame.Encode(new InitMessage
        {
            Type = InitMessage.ConfigType,
            Mode = InitMessage.InitMode,
            ContainerId = parsed.ContainerId,
            SpecJson = spec,
            SeccompFilter = seccomp.FilterBytes(),
            SeccompFlags = (uint)seccomp.Flags,
            Rootfs = "/run/warmup",
            Bundle = parsed.Bundle,
            Binds = [new InitMessage.BindSource("/data", "/run/warmup/m0", ["sub"])],
        });
        _ = InitFrame.TryDecode(frame, out InitMessage? decoded, out _);
        _ = SeccompProgram.FromBytes(decoded!.SeccompFilter, decoded.SeccompFlags);
        _ = new CreateContainerResponse { Pid = 2 }.ToByteArray();
    }

    private static void Run()
    {
        _ = Scheduling.TrySetCallingThreadIdle();
        try
        {
            RunOnce();
        }
        catch (Exception)
        {
            // Only a head start was lost.
        }
    }
}
