using VmSandbox.Oci.State;
using VmSandbox.Runtime.Containers;
using Xunit;

namespace VmSandbox.Tests.Unit.Fuzzing;

/// <summary>
/// The runtime's own record of a container (&lt;root&gt;/&lt;id&gt;/state.json) and exit file, as a
/// killed writer, a full disk or a hand edit may leave them: every later verb (state, list,
/// kill, delete) reads them first.
/// </summary>
public sealed class StateRecordFuzzTests : IDisposable
{
    private const string Id = "c1";
    private readonly string _root = Directory.CreateTempSubdirectory("vmsandbox-fuzz-state-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    [Trait("Category", "Reliability")]
    [Trait("Category", "Fuzz")]
    public void State_json()
    {
        var target = new FuzzTarget("state.json (container record)",
            "mutated container records and exit files through ContainerStore.Load and ReadExit, then what `state` and `list` print from them",
            "each record is read or refused with one VmSandboxException (corrupt state); a record read is usable (its own ID, no nulls); nothing else thrown")
        {
            Seeds = [FuzzSeeds.Utf8("""{"id":"c1","bundle":"/b","rootfs":"/b/rootfs","created":"2026-01-01T00:00:00Z","monitorPid":1,"monitorStartTime":2,"runDir":"/r","started":true,"owner":"root"}""")],
            Tokens = FuzzSeeds.JsonTokens,
            Corpus = "state-json",
        };
        var store = new ContainerStore(_root, Path.Combine(_root, "run"));
        Directory.CreateDirectory(store.DirOf(Id));
        string record = Path.Combine(store.DirOf(Id), ContainerStore.RecordFile);
        string exit = Path.Combine(store.DirOf(Id), ContainerStore.ExitFile);
        Fuzzer.Run(target, input =>
        {
            if (input.Length % 8 == 0)
            {
                File.WriteAllBytes(exit, input.AsSpan(0, Math.Min(input.Length, 12)).ToArray());
                _ = store.ReadExit(Id);
            }
            File.WriteAllBytes(record, input);
            ReadAsVerbsDo(store, Id);
            return true;
        }).RecordAndAssert();
    }

    /// <summary>What `state`, `list` and the status rules do with a record before any process or VM is reached.</summary>
    internal static void ReadAsVerbsDo(ContainerStore store, string id)
    {
        ContainerRecord r = store.Load(id);
        // A record taken is one the verbs can use: its own ID, no null where the type has none.
        if (r.Id != id || r.Bundle is null || r.Rootfs is null || r.Created is null || r.RunDir is null || r.Owner is null
            || r.HostCgroups?.Any(c => c is null) == true || r.Annotations?.Any(a => a.Key is null || a.Value is null) == true)
        {
            throw new InvalidDataException($"a record with nulls or another container's ID was taken: {r}");
        }
        foreach (bool alive in (bool[])[true, false])
        {
            ContainerStatus status = ContainerStore.StatusOf(r, (_, _) => alive);
            ContainerState state = ContainerStore.ToState(r, status);
            _ = StateJson.FormatState(state);
            _ = StateJson.FormatList([state]);
        }
        _ = r.VmRunDir();
        _ = store.RunDirOf(r.Id);
    }
}
