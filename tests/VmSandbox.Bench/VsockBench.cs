using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using VmSandbox.Agent.Protocol;
using VmSandbox.Hypervisor;
using VmSandbox.Runtime.Config;
using VmSandbox.Runtime.Sandbox;
using VmSandbox.Runtime.Vsock;

namespace VmSandbox.Bench;

/// <summary>vsock stream throughput (both directions) and agent RPC latency, on one booted guest.</summary>
internal static class VsockBench
{
    private const uint EchoPort = 1025;
    private const long Bytes = 256L << 20;

    public static async Task RunAsync(StringBuilder doc, string guestDir)
    {
        doc.AppendLine("## vsock data path and agent RPC").AppendLine();
        string state = Directory.CreateTempSubdirectory("vmsandbox-bench-").FullName;
        try
        {
            RuntimeConfig config = RuntimeConfigLoader.Load() with
            {
                KernelPath = Path.Combine(guestDir, "vmlinuz"),
                InitrdPath = Path.Combine(guestDir, "initramfs.img"),
                StateRoot = state,
                MemoryMiB = 512,
                KernelParams = $"vmsandbox.echo_port={EchoPort}",
                BootTimeout = TimeSpan.FromSeconds(120),
            };
            var factory = new SandboxVmFactory(config, AccelDetector.ForHost(), new QemuHypervisor(), _ => { });
            VmSpec spec = factory.CreateSpec("bench", Path.Combine(state, "bench"));
            await using SandboxVm vm = await factory.BootAsync(spec, CancellationToken.None);
            string uds = vm.VsockUdsPath;

            double toGuest = await SinkAsync(uds);
            double fromGuest = await SourceAsync(uds);
            double echo = await EchoAsync(uds);
            (double p50, double p99) = await RpcLatencyAsync(vm.Agent);
            await vm.ShutdownAsync(TimeSpan.FromSeconds(30));

            doc.AppendLine(CultureInfo.InvariantCulture,
                $"One {spec.Accel.ToString().ToLowerInvariant()} guest; host socket → hybrid vsock → our vhost-user device → guest virtio-vsock → the agent's diagnostics services (`vmsandbox.echo_port`). {Bytes >> 20} MiB per transfer, one connection.")
                .AppendLine();
            doc.AppendLine("| measure | value |").AppendLine("|---|---:|");
            doc.AppendLine(CultureInfo.InvariantCulture, $"| host → guest stream | {toGuest:F0} MiB/s |");
            doc.AppendLine(CultureInfo.InvariantCulture, $"| guest → host stream | {fromGuest:F0} MiB/s |");
            doc.AppendLine(CultureInfo.InvariantCulture, $"| echo, both ways at once | {echo:F0} MiB/s each way |");
            doc.AppendLine(CultureInfo.InvariantCulture, $"| agent Check RPC round trip, median | {p50:F0} µs |");
            doc.AppendLine(CultureInfo.InvariantCulture, $"| agent Check RPC round trip, p99 | {p99:F0} µs |");
            doc.AppendLine();
        }
        catch (Exception e)
        {
            doc.AppendLine(CultureInfo.InvariantCulture, $"Not measured: {Common.VmSandboxException.FormatChain(e)}").AppendLine();
        }
        finally
        {
            Directory.Delete(state, recursive: true);
        }
    }

    private static Task<Socket> Connect(string uds, uint port) =>
        HybridVsockConnector.ConnectAsync(uds, port, DateTimeOffset.UtcNow.AddSeconds(30), CancellationToken.None);

    private static async Task<double> SinkAsync(string uds)
    {
        using Socket s = await Connect(uds, EchoPort + 1);
        byte[] chunk = new byte[256 * 1024];
        BinaryPrimitives.WriteInt64LittleEndian(chunk, Bytes);
        await s.SendAsync(chunk.AsMemory(0, 8));
        var sw = Stopwatch.StartNew();
        for (long sent = 0; sent < Bytes; sent += chunk.Length)
        {
            await s.SendAsync(chunk.AsMemory(0, (int)Math.Min(chunk.Length, Bytes - sent)));
        }
        await ReceiveExactly(s, chunk.AsMemory(0, 8));
        return MiBps(BinaryPrimitives.ReadInt64LittleEndian(chunk), sw.Elapsed);
    }

    private static async Task<double> SourceAsync(string uds)
    {
        using Socket s = await Connect(uds, EchoPort + 2);
        byte[] buffer = new byte[256 * 1024];
        BinaryPrimitives.WriteInt64LittleEndian(buffer, Bytes);
        var sw = Stopwatch.StartNew();
        await s.SendAsync(buffer.AsMemory(0, 8));
        long received = 0;
        int n;
        while (received < Bytes && (n = await s.ReceiveAsync(buffer)) > 0)
        {
            received += n;
        }
        return MiBps(received, sw.Elapsed);
    }

    private static async Task<double> EchoAsync(string uds)
    {
        using Socket s = await Connect(uds, EchoPort);
        byte[] outBuf = new byte[256 * 1024];
        var sw = Stopwatch.StartNew();
        Task send = Task.Run(async () =>
        {
            for (long sent = 0; sent < Bytes; sent += outBuf.Length)
            {
                await s.SendAsync(outBuf.AsMemory(0, (int)Math.Min(outBuf.Length, Bytes - sent)));
            }
        });
        byte[] inBuf = new byte[256 * 1024];
        long received = 0;
        int n;
        while (received < Bytes && (n = await s.ReceiveAsync(inBuf)) > 0)
        {
            received += n;
        }
        await send;
        return MiBps(received, sw.Elapsed);
    }

    private static async Task<(double P50, double P99)> RpcLatencyAsync(AgentClient agent)
    {
        var times = new List<double>();
        for (int i = 0; i < 520; i++)
        {
            var sw = Stopwatch.StartNew();
            await agent.CheckAsync(new CheckRequest());
            if (i >= 20)
            {
                times.Add(sw.Elapsed.TotalMicroseconds);
            }
        }
        times.Sort();
        return (times[times.Count / 2], times[(int)(times.Count * 0.99)]);
    }

    private static async Task ReceiveExactly(Socket s, Memory<byte> buffer)
    {
        while (buffer.Length > 0)
        {
            int n = await s.ReceiveAsync(buffer);
            if (n == 0)
            {
                throw new IOException("connection closed early");
            }
            buffer = buffer[n..];
        }
    }

    private static double MiBps(long bytes, TimeSpan elapsed) => bytes / 1048576.0 / elapsed.TotalSeconds;
}
