using System.Text;

namespace VmSandbox.Cli;

public static class Program
{
    // Console.Out/Error keep a duplicate of fd 1/2 from first use on. The sandbox monitor and the
    // exec relay hand their stdio to the container and must hold no copy of their own (the
    // caller sees EOF when the container closes its output, as with runc), so the console is
    // only opened when something is actually written.
    public static int Main(string[] args) => CliApp.Run(args, new LazyWriter(() => Console.Out), new LazyWriter(() => Console.Error));

    private sealed class LazyWriter(Func<TextWriter> open) : TextWriter
    {
        private readonly Lazy<TextWriter> _inner = new(open);

        public override Encoding Encoding => Encoding.UTF8;

        public override void Write(char value) => _inner.Value.Write(value);

        public override void Write(string? value) => _inner.Value.Write(value);

        public override void Write(char[] buffer, int index, int count) => _inner.Value.Write(buffer, index, count);

        public override void WriteLine(string? value) => _inner.Value.WriteLine(value);

        public override void Flush()
        {
            if (_inner.IsValueCreated)
            {
                _inner.Value.Flush();
            }
        }
    }
}
