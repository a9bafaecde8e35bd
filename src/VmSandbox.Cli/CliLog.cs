using System.Text;
using System.Text.Json;

namespace VmSandbox.Cli;

/// <summary>
/// The CLI's log: errors always go to stderr as one line; with --log they also go to that file,
/// as JSON lines {"level","msg","time"} when --log-format=json, because containerd-shim-runc-v2
/// reports the last such error line to the user.
/// </summary>
public sealed class CliLog : Runtime.IRuntimeLog
{
    private readonly GlobalOptions _options;
    private readonly TextWriter _stderr;

    public CliLog(GlobalOptions options, TextWriter stderr)
    {
        _options = options;
        _stderr = stderr;
    }

    public void Error(string message)
    {
        _stderr.WriteLine($"vmsandbox: {message}");
        Write("error", message);
    }

    public void Warn(string message)
    {
        if (_options.LogPath is null)
        {
            _stderr.WriteLine($"vmsandbox: warning: {message}");
        }
        Write("warning", message);
    }

    public void Debug(string message)
    {
        if (!_options.Debug)
        {
            return;
        }
        if (_options.LogPath is null)
        {
            // runc's (logrus's) text form, which tools that grep runc's --debug output expect.
            _stderr.Write(Format("debug", message, DateTimeOffset.UtcNow, json: false));
        }
        Write("debug", message);
    }

    private void Write(string level, string message)
    {
        if (_options.LogPath is null)
        {
            return;
        }
        try
        {
            File.AppendAllText(_options.LogPath, Format(level, message, DateTimeOffset.UtcNow, _options.LogFormat == "json"));
        }
        catch (IOException)
        {
            // The log is best effort: the error already went to stderr.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    public static string Format(string level, string message, DateTimeOffset time, bool json)
    {
        // RFC 3339 in UTC with 'Z': go-runc decodes "time" with time.Time's UnmarshalJSON, which
        // reads the raw JSON bytes, so the string must need no escaping (a "+" offset came out as
        // \u002B and Docker reported "unable to retrieve OCI runtime error").
        string stamp = time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", System.Globalization.CultureInfo.InvariantCulture);
        if (!json)
        {
            return $"time=\"{stamp}\" level={level} msg=\"{message.Replace("\"", "\\\"", StringComparison.Ordinal)}\"\n";
        }
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteString("level", level);
            w.WriteString("msg", message);
            w.WriteString("time", stamp);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(ms.ToArray()) + "\n";
    }
}
