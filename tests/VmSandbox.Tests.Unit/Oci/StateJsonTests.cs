using VmSandbox.Oci.State;
using Xunit;

namespace VmSandbox.Tests.Unit.Oci;

public sealed class StateJsonTests
{
    private static readonly ContainerState s_running = new()
    {
        OciVersion = "1.0.2",
        Id = "c1",
        Pid = 4242,
        Status = StateJson.StatusName(ContainerStatus.Running),
        Bundle = "/run/b",
        Rootfs = "/run/b/rootfs",
        Created = StateJson.FormatTime(new DateTimeOffset(2024, 5, 1, 10, 11, 12, TimeSpan.Zero).AddTicks(1_234_560)),
        Annotations = new Dictionary<string, string> { ["z"] = "last", ["a+b"] = "é" },
    };

    [Fact]
    public void State_is_runcs_indented_containerState()
    {
        const string golden = """
            {
              "ociVersion": "1.0.2",
              "id": "c1",
              "pid": 4242,
              "status": "running",
              "bundle": "/run/b",
              "rootfs": "/run/b/rootfs",
              "created": "2024-05-01T10:11:12.123456Z",
              "annotations": {
                "a+b": "é",
                "z": "last"
              },
              "owner": ""
            }
            """;

        Assert.Equal(golden, StateJson.FormatState(s_running));
    }

    [Fact]
    public void State_leaves_out_empty_annotations_but_keeps_owner()
    {
        const string golden = """
            {
              "ociVersion": "1.0.2",
              "id": "c1",
              "pid": 0,
              "status": "stopped",
              "bundle": "/run/b",
              "rootfs": "/run/b/rootfs",
              "created": "2024-05-01T10:11:12.123456Z",
              "owner": ""
            }
            """;

        Assert.Equal(golden, StateJson.FormatState(s_running with { Pid = 0, Status = "stopped", Annotations = new Dictionary<string, string>() }));
    }

    [Fact]
    public void List_is_a_compact_array_with_a_newline()
    {
        Assert.Equal(
            """[{"ociVersion":"1.0.2","id":"c1","pid":4242,"status":"running","bundle":"/run/b","rootfs":"/run/b/rootfs","created":"2024-05-01T10:11:12.123456Z","annotations":{"a+b":"é","z":"last"},"owner":"root"}]""" + "\n",
            StateJson.FormatList([s_running with { Owner = "root" }]));
    }

    [Fact]
    public void Empty_list_and_ps_print_null_like_go() // a nil slice encodes as null
    {
        Assert.Equal("null\n", StateJson.FormatList([]));
        Assert.Equal("null\n", StateJson.FormatPids([]));
    }

    [Fact]
    public void Ps_json_is_an_array_of_pids()
    {
        Assert.Equal("[1,42,65535]\n", StateJson.FormatPids([1, 42, 65535]));
    }

    [Fact]
    public void Hook_state_is_the_oci_state_object()
    {
        var state = new HookState { OciVersion = "1.0.2", Id = "c1", Status = "creating", Pid = 0, Bundle = "/run/b" };

        Assert.Equal("""{"ociVersion":"1.0.2","id":"c1","status":"creating","bundle":"/run/b"}""", StateJson.FormatHookState(state));
        Assert.Equal(
            """{"ociVersion":"1.0.2","id":"c1","status":"created","pid":7,"bundle":"/run/b","annotations":{"k":"v"}}""",
            StateJson.FormatHookState(state with { Status = "created", Pid = 7, Annotations = new Dictionary<string, string> { ["k"] = "v" } }));
    }

    [Theory]
    [InlineData(ContainerStatus.Creating, "creating")]
    [InlineData(ContainerStatus.Created, "created")]
    [InlineData(ContainerStatus.Running, "running")]
    [InlineData(ContainerStatus.Paused, "paused")]
    [InlineData(ContainerStatus.Stopped, "stopped")]
    public void Status_names_are_runcs(ContainerStatus status, string name) => Assert.Equal(name, StateJson.StatusName(status));

    [Theory]
    [InlineData(0L, 0, "2024-05-01T10:11:12Z")]
    [InlineData(1_000_000L, 0, "2024-05-01T10:11:12.1Z")]
    [InlineData(1_234_567L, 0, "2024-05-01T10:11:12.1234567Z")]
    [InlineData(10L, 0, "2024-05-01T10:11:12.000001Z")]
    [InlineData(5_000_000L, 120, "2024-05-01T10:11:12.5+02:00")]
    [InlineData(0L, -330, "2024-05-01T10:11:12-05:30")]
    public void Times_are_gos_rfc3339nano(long ticks, int offsetMinutes, string expected) =>
        Assert.Equal(expected, StateJson.FormatTime(new DateTimeOffset(2024, 5, 1, 10, 11, 12, TimeSpan.FromMinutes(offsetMinutes)).AddTicks(ticks)));
}
