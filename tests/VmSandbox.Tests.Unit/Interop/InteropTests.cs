using VmSandbox.Common;
using VmSandbox.Interop;
using Xunit;

namespace VmSandbox.Tests.Unit.Interop;

[Collection(nameof(Runtime.ChildReapingCollection))]
public sealed class InteropTests
{
    [Fact]
    public void Syscall_errors_name_call_path_and_errno()
    {
        VmSandboxException e = SyscallError.Create("mount", "/proc", 19);
        Assert.Equal(ErrorCode.System, e.Code);
        Assert.Equal(19, e.Errno);
        Assert.Equal("mount /proc: no such device (errno 19)", e.Message);
    }

    [Fact]
    public unsafe void Sockaddr_vm_matches_the_kernel_layout()
    {
        // linux/vm_sockets.h: family u16 @0, reserved u16 @2, port u32 @4, cid u32 @8, zero[4] @12; 16 bytes.
        Assert.Equal(16, sizeof(VmSandbox.Interop.Vsock.sockaddr_vm));
        Assert.Equal(0, (int)System.Runtime.InteropServices.Marshal.OffsetOf<VmSandbox.Interop.Vsock.sockaddr_vm>(nameof(VmSandbox.Interop.Vsock.sockaddr_vm.svm_family)));
        Assert.Equal(4, (int)System.Runtime.InteropServices.Marshal.OffsetOf<VmSandbox.Interop.Vsock.sockaddr_vm>(nameof(VmSandbox.Interop.Vsock.sockaddr_vm.svm_port)));
        Assert.Equal(8, (int)System.Runtime.InteropServices.Marshal.OffsetOf<VmSandbox.Interop.Vsock.sockaddr_vm>(nameof(VmSandbox.Interop.Vsock.sockaddr_vm.svm_cid)));
        Assert.Equal(12, (int)System.Runtime.InteropServices.Marshal.OffsetOf<VmSandbox.Interop.Vsock.sockaddr_vm>(nameof(VmSandbox.Interop.Vsock.sockaddr_vm.svm_zero)));
    }

    [Fact]
    public void Close_on_exec_from_a_descriptor_marks_every_one_above_it()
    {
        (SafeFd read, SafeFd write) = ProcessCalls.CreatePipe();
        using (read)
        using (write)
        {
            // A descriptor inherited without O_CLOEXEC, as flock(1) passes its lock.
            using SafeFd inherited = ProcessCalls.DuplicateAbove((int)read.DangerousGetHandle(), 3);
            ProcessCalls.ClearCloseOnExec((int)inherited.DangerousGetHandle());
            Assert.False(CloseOnExec(inherited));
            Assert.True(ProcessCalls.TrySetCloseOnExecFrom(3));
            Assert.True(CloseOnExec(inherited));
            Assert.True(CloseOnExec(write));
        }

        static bool CloseOnExec(SafeFd fd)
        {
            // fdinfo's flags are octal open flags; O_CLOEXEC is 02000000.
            string flags = File.ReadAllLines($"/proc/self/fdinfo/{fd.DangerousGetHandle()}").First(l => l.StartsWith("flags:", StringComparison.Ordinal))[6..].Trim();
            return (Convert.ToInt32(flags, 8) & 0x80000) != 0;
        }
    }

    [Fact]
    public void A_pipe_grown_to_1_MiB_holds_1_MiB_and_an_impossible_size_is_refused()
    {
        (SafeFd read, SafeFd write) = Pipe.Create();
        using (read)
        using (write)
        {
            Assert.True(Pipe.TrySetSize(read, 1024 * 1024)); // the size the agent gives output pipes
            Assert.False(Pipe.TrySetSize(read, int.MaxValue)); // EINVAL: the pipe keeps its size
            Pipe.SetNonBlocking(write);
            byte[] chunk = new byte[4096];
            int written = 0;
            for (int i = 0; i < 1024 && Pipe.Write(write, chunk) > 0; i++)
            {
                written += chunk.Length;
            }
            Assert.Equal(1024 * 1024, written);
            Assert.Equal(0, Pipe.Write(write, chunk)); // full: EAGAIN
        }
    }

    [Fact]
    public void Raw_fd_stream_moves_bytes_both_ways()
    {
        // A Unix socketpair stands in for a vsock connection (never AF_VSOCK on the host).
        using var a = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
        string path = Path.Combine(Path.GetTempPath(), "vmsandbox-raw-" + Guid.NewGuid().ToString("N")[..8]);
        a.Bind(new System.Net.Sockets.UnixDomainSocketEndPoint(path));
        a.Listen(1);
        using var c = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
        c.Connect(new System.Net.Sockets.UnixDomainSocketEndPoint(path));
        using var s = a.Accept();
        File.Delete(path);
        int dupFd = Dup(checked((int)s.SafeHandle.DangerousGetHandle()));
        using var raw = new RawFdStream(new RawFdStream.Handle(dupFd));
        raw.Write("ping"u8);
        byte[] buf = new byte[4];
        Assert.Equal(4, c.Receive(buf));
        Assert.Equal("ping"u8.ToArray(), buf);
        c.Send("pong"u8);
        Assert.Equal(4, raw.Read(buf));
        Assert.Equal("pong"u8.ToArray(), buf);
        c.Shutdown(System.Net.Sockets.SocketShutdown.Send);
        Assert.Equal(0, raw.Read(buf));
    }

    private static int Dup(int fd) => Tmds.Linux.LibC.dup(fd);

    [Fact]
    public void A_stream_over_a_duplicate_shares_the_file_offset_and_leaves_the_fd_open()
    {
        // The relay writes a container's output to the caller's stdout; when that is a file
        // (`vmsandbox exec … > log`), later writes by the caller must land after it, not over it.
        string path = Path.Combine(Path.GetTempPath(), "vmsandbox-offset-" + Guid.NewGuid().ToString("N")[..8]);
        using SafeFd file = SafeFd.Open(path, Tmds.Linux.LibC.O_WRONLY | Tmds.Linux.LibC.O_CREAT | Tmds.Linux.LibC.O_TRUNC | Tmds.Linux.LibC.O_CLOEXEC, 0x180);
        try
        {
            WriteAll(file.Fd, "one\n"u8);
            using (RawFdStream relay = RawFdStream.OverDuplicate(file.Fd))
            {
                relay.Write("two\n"u8);
            }
            WriteAll(file.Fd, "three\n"u8); // still open, and after "two"
            Assert.Equal("one\ntwo\nthree\n", File.ReadAllText(path));
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static unsafe void WriteAll(int fd, ReadOnlySpan<byte> data)
    {
        fixed (byte* p = data)
        {
            Assert.Equal(data.Length, (int)Tmds.Linux.LibC.write(fd, p, data.Length));
        }
    }

    [Fact]
    public void Kvm_probe_explains_a_missing_device() =>
        Assert.Equal("/nonexistent/kvm does not exist", Kvm.ProbeUnusableReason("/nonexistent/kvm"));

    [Fact]
    public void Kvm_probe_rejects_a_device_that_is_not_kvm()
    {
        string? reason = Kvm.ProbeUnusableReason("/dev/null");
        Assert.NotNull(reason);
        Assert.Contains("/dev/null", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Module_load_of_a_missing_file_fails_with_its_path()
    {
        var e = Assert.Throws<VmSandboxException>(() => KernelModule.Load("/nonexistent/x.ko"));
        Assert.Equal("open /nonexistent/x.ko: no such file or directory (errno 2)", e.Message);
    }

    [Fact]
    public void Reaping_without_children_returns_zero() => Assert.True(ProcessCalls.WaitChild(-1, ProcessCalls.WNOHANG, out _) >= 0);

    [Fact]
    public void Error_chain_prints_each_level_once_with_the_first_hint()
    {
        var inner = new VmSandboxException(ErrorCode.HostMissing, "qemu /x not found") { Hint = "make setup" };
        var outer = new VmSandboxException(ErrorCode.Vm, "boot sandbox a", inner);
        Assert.Equal("boot sandbox a: qemu /x not found (fix: make setup)", VmSandboxException.FormatChain(outer));
        Assert.Equal(ErrorCode.Vm, VmSandboxException.CodeOf(outer));
    }
}
