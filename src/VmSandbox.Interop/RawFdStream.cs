using System.Runtime.InteropServices;

namespace VmSandbox.Interop;

/// <summary>
/// A duplex <see cref="Stream"/> over a connected stream socket fd (AF_VSOCK in the guest), with
/// blocking read(2)/write(2) run off the caller's thread. Reads and writes may run concurrently.
/// Disposing shuts the socket down first, which wakes a blocked read.
/// </summary>
public sealed unsafe partial class RawFdStream : Stream
{
    private const int EAGAIN = 11;
    private const int SHUT_RDWR = 2;
    private readonly Handle _fd;
    private readonly bool _shutdownOnDispose;

    public RawFdStream(Handle fd)
        : this(fd, shutdownOnDispose: true)
    {
    }

    private RawFdStream(Handle fd, bool shutdownOnDispose)
    {
        _fd = fd;
        _shutdownOnDispose = shutdownOnDispose;
    }

    /// <summary>
    /// A stream over a duplicate of <paramref name="fd"/> (a pipe, fifo, tty, file or socket the
    /// caller keeps): read(2)/write(2) advance the shared file offset, as a shell's redirections
    /// expect, which FileStream's pread/pwrite on a regular file do not. Disposing closes only the
    /// duplicate; a socket is not shut down.
    /// </summary>
    public static RawFdStream OverDuplicate(int fd)
    {
        SafeFd dup = ProcessCalls.DuplicateAbove(fd, 3);
        int n = dup.Fd;
        dup.SetHandleAsInvalid(); // the stream's Handle owns it from here
        return new RawFdStream(new Handle(n), shutdownOnDispose: false);
    }

    /// <summary>Owns one file descriptor.</summary>
    public sealed class Handle : SafeHandle
    {
        public Handle(int fd)
            : base(-1, ownsHandle: true)
        {
            SetHandle(fd);
        }

        public override bool IsInvalid => handle == -1;

        public int Fd => (int)handle;

        public void Shutdown() => _ = shutdown(Fd, SHUT_RDWR);

        protected override bool ReleaseHandle() => close((int)handle) == 0;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint read(int fd, byte* buf, nint count);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint write(int fd, byte* buf, nint count);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int shutdown(int fd, int how);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);

    public override bool CanRead => true;
    public override bool CanWrite => true;
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(Span<byte> buffer)
    {
        while (true)
        {
            long n;
            fixed (byte* p = buffer)
            {
                byte* data = p;
                nint length = buffer.Length;
                // SAFETY: data points to buffer.Length pinned bytes.
                n = Eintr.Retry(() => (long)read(_fd.Fd, data, length));
            }
            if (n >= 0)
            {
                return (int)n;
            }
            int errno = Marshal.GetLastPInvokeError();
            if (errno != EAGAIN)
            {
                throw new IOException(SyscallError.Create("read", null, errno).Message);
            }
            WaitReady(Poll.In); // a descriptor someone made non-blocking
        }
    }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        while (!buffer.IsEmpty)
        {
            long n;
            fixed (byte* p = buffer)
            {
                byte* data = p;
                nint length = buffer.Length;
                // SAFETY: data points to buffer.Length pinned bytes.
                n = Eintr.Retry(() => (long)write(_fd.Fd, data, length));
            }
            if (n < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno == EAGAIN)
                {
                    WaitReady(Poll.Out);
                    continue;
                }
                throw new IOException(SyscallError.Create("write", null, errno).Message);
            }
            buffer = buffer[(int)n..];
        }
    }

    private void WaitReady(short events)
    {
        Span<short> revents = stackalloc short[1];
        using var borrowed = new SafeFd(_fd.Fd, ownsHandle: false);
        _ = Poll.Wait([borrowed], [events], revents, -1);
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    // A blocking read on a pool thread: a new thread per read costs milliseconds in an emulated
    // guest. The few long-lived connections of the agent keep the pool's blocking bounded.
    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        new(Task.Run(() => Read(buffer.Span), cancellationToken));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        // Writes to a socket with free buffer space do not block for long: do them inline.
        Write(buffer.Span);
        return ValueTask.CompletedTask;
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    private int _disposed;

    protected override void Dispose(bool disposing)
    {
        // Once only: a second shutdown(2) would hit whatever descriptor reused the number.
        if (disposing && Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            if (_shutdownOnDispose)
            {
                _fd.Shutdown();
            }
            _fd.Dispose();
        }
        base.Dispose(disposing);
    }
}
