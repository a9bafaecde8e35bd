using System.Text;
using VmSandbox.Common;
using VmSandbox.Oci;
using VmSandbox.Oci.Spec;
using VmSandbox.Runtime.Config;
using VmSandbox.Runtime.Containers;
using VmSandbox.Runtime.Sandbox;
using Xunit;

namespace VmSandbox.Tests.Unit.Fuzzing;

/// <summary>
/// Every crash the fuzz targets found, with its exact input (base64, as the fuzzer printed it),
/// kept so that the bug stays fixed whatever the fuzzer's seeds do later.
/// </summary>
public sealed class FuzzRegressionTests
{
    private static readonly RuntimeConfig s_config = new() { MemoryMiB = 256, Vcpus = 1 };

    /// <summary>
    /// resources JSON (update --resources) and config.json: a cpuset of CPU 2147483647 looped for
    /// ever in SandboxPlan.CountCpus (its int counter wrapped at the last CPU).
    /// </summary>
    [Theory]
    [Trait("Category", "Reliability")]
    [Trait("Category", "Fuzz")]
    [InlineData("eyJjcHUiOnsiY3B1cyI6IjIxNDc0ODM2NDcifX0=", 1)] // {"cpu":{"cpus":"2147483647"}}
    [InlineData("eyJjcHUiOnsiY3B1cyI6IjIxNDc0ODM2NDYtMjE0NzQ4MzY0NyJ9fQ==", 2)] // {"cpu":{"cpus":"2147483646-2147483647"}}
    public async Task A_cpuset_ending_at_int_max_is_counted(string base64, int vcpus)
    {
        LinuxResources resources = SpecLoader.ParseResources(Convert.FromBase64String(base64), "resources");
        (int _, int counted) = await Task.Run(() => SandboxPlan.Size(resources, s_config), TestContext.Current.CancellationToken)
            .WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        Assert.Equal(vcpus, counted);
    }

    /// <summary>
    /// monitor and pooled-VM control requests: a claim whose store root holds a NUL made
    /// ContainerStore throw ArgumentException (Path.GetFullPath); a relative root is refused too.
    /// </summary>
    [Theory]
    [Trait("Category", "Reliability")]
    [Trait("Category", "Fuzz")]
    [InlineData("Y2xhaW0gNDI0MiBjMSAAL3RtcC92bXNiLWN0bGZ1enotMzNHQVZrL3N0b3JlIHJvb3QK")] // "claim 4242 c1 \0/tmp/…/store root\n"
    [InlineData("Y2xhaW0gNDI0MiBjMSAvdG1wL3Ztc2ItY3RsZnV6ei0zM0dBVmsvc3RvcgABcm9vdAo=")] // "claim 4242 c1 /tmp/…/stor\0\x01root\n"
    [InlineData("Y2xhaW0gNDI0MiBjMSBzdG9yZQo=")] // "claim 4242 c1 store\n"
    public void A_claim_whose_store_root_is_not_an_absolute_path_is_refused(string base64)
    {
        // MonitorControl hands the handler the line without its '\n', decoded as ASCII.
        string verb = Encoding.ASCII.GetString(Convert.FromBase64String(base64)).TrimEnd('\n');
        var e = Assert.Throws<VmSandboxException>(() => PoolClaimRequest.Parse(verb));
        Assert.Equal(ErrorCode.InvalidArgument, e.Code);
        Assert.Equal(new PoolClaimRequest(4242, "c1", "/run/x y"), PoolClaimRequest.Parse(new PoolClaimRequest(4242, "c1", "/run/x y").Format()));
    }

    /// <summary>
    /// state.json: a record without "created" (or "bundle") was read with null in a string the
    /// record type says is never null; now "" as the type's initializer says. A record of another
    /// ID or with a null cgroup is corrupt.
    /// </summary>
    [Theory]
    [Trait("Category", "Reliability")]
    [Trait("Category", "Fuzz")]
    [InlineData("eyJpZCI6ImMxIiwiYnVuZGxlIjoiL2IiLCJyb290ZnMiOiIvYi9yb290ZnMiLCIwLTIxNDc0ODM2NDciOiIyMDI2LTAxLTAxVDAwOjAwOjAwWiIsIm1vbml0b3JQaWQiOjEsIm1vbml0b3JTdGFydFRpbWUiOjIsInJ1bkRpciI6Ii9yIiwic3RhcnRlZCI6dHJ1ZSwib3duZXIiOiJyb290In0=", true)] // "created" renamed
    [InlineData("eyJpZCI6ImMxIiwifWJ1bmRsZSI6Ii9iIiwicm9vdGZzIjoiL2Ivcm9vdGZzIiwiY3JlYXRlZCI6IjIwMjYtMDEtMDFUMDA6MDA6MDBaIiwibW9uaXRvclBpZCI6MSwibW9uaXRvclN0YXJ0VGltZSI6MiwicnVuRGlyIjoiL3IiLCJzdGFydGVkIjp0cnVlLCJvd25lciI6InJvb3QifQ==", true)] // "bundle" renamed
    [InlineData("eyJpZCI6bnVsbCwicnVuRGlyIjpudWxsfQ==", false)] // {"id":null,"runDir":null}
    [InlineData("eyJpZCI6ImMyIn0=", false)] // {"id":"c2"}
    [InlineData("eyJpZCI6ImMxIiwiaG9zdENncm91cHMiOltudWxsXX0=", false)] // {"id":"c1","hostCgroups":[null]}
    public void A_record_read_back_has_its_own_id_and_no_nulls(string base64, bool usable)
    {
        string root = Directory.CreateTempSubdirectory("vmsb-fuzzreg-").FullName;
        try
        {
            var store = new ContainerStore(root, root);
            Directory.CreateDirectory(store.DirOf("c1"));
            File.WriteAllBytes(Path.Combine(store.DirOf("c1"), ContainerStore.RecordFile), Convert.FromBase64String(base64));
            if (!usable)
            {
                Assert.Contains("is corrupt", Assert.Throws<VmSandboxException>(() => store.Load("c1")).Message, StringComparison.Ordinal);
                return;
            }
            ContainerRecord r = store.Load("c1");
            Assert.Equal("c1", r.Id);
            Assert.All([r.Bundle, r.Rootfs, r.Created, r.RunDir, r.Owner], Assert.NotNull);
            StateRecordFuzzTests.ReadAsVerbsDo(store, "c1");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>
    /// config.json: a bind mount source with a NUL ("a\u0000b", relative) passed validation and
    /// made SandboxPlan.Create throw ArgumentException (Path.GetFullPath); root.path likewise.
    /// </summary>
    [Theory]
    [Trait("Category", "Reliability")]
    [Trait("Category", "Fuzz")]
    [InlineData("eyJvY2lWZXJzaW9uIjoiMS4wLjIiLCJyb290Ijp7InBhdGgiOiJyb290ZnMifSwicHJvY2VzcyI6eyJhcmdzIjpbInNoIl0sImN3ZCI6Ii8ifSwibW91bnRzIjpbeyJkZXN0aW5hdGlvbiI6Ii9kYXRhIiwidHlwZSI6ImJpbmQiLCJzb3VyY2UiOiIvc3J2L2EgYiIsIm9wdGlvbnMiOlsicmJpbmQiLCJybyJdfSx7ImRlc3RpbmF0aW9uIjoiL2V0Yy9ob3N0cyIsInR5cGUiOiJiaW5kIiwic291cmNlIjoiYVx1MDAwMGIiLCJvcHRpb25zIjpbImJpbmQiXX1dLCJsaW51eCI6eyJuYW1lc3BhY2VzIjpbeyJ0eXBlIjoibmV0d29yayJ9XSwicmVzb3VyY2VzIjp7Im1lbW9yeSI6eyJsaW1pdCI6NTM2ODcwOTEyfSwiY3B1Ijp7InF1b3RhIjoyMDAwMDAsInBlcmlvZCI6MTAwMDAwLCJjcHVzIjoiMC0xIn19fSwiYW5ub3RhdGlvbnMiOnsiaW8ua3ViZXJuZXRlcy5jcmkuY29udGFpbmVyLXR5cGUiOiJzYW5kYm94IiwiaW8ua3ViZXJuZXRlcy5jcmkuc2FuZGJveC1tZW1vcnkiOiIxMDczNzQxODI0IiwiaW8ua3ViZXJuZXRlcy5jcmkuc2FuZGJveC1jcHUtcXVvdGEiOiIzMDAwMDAiLCJpby5rdWJlcm5ldGVzLmNyaS5zYW5kYm94LWNwdS1wZXJpb2QiOiIxMDAwMDAifX0=", "config.json: mounts[1]: source contains a NUL byte")]
    [InlineData("eyJvY2lWZXJzaW9uIjoiMS4wLjIiLCJyb290Ijp7InBhdGgiOiJyb290XHUwMDAwZnMifX0=", "config.json: root.path: contains a NUL byte")] // {"ociVersion":"1.0.2","root":{"path":"root\u0000fs"}}
    public void A_path_with_a_nul_is_refused_by_the_validator(string base64, string message)
    {
        byte[] input = Convert.FromBase64String(base64);
        Assert.Equal(message, Assert.Throws<VmSandboxException>(() => OciJsonFuzzTests.ConfigJson(input)).Message);
    }

    /// <summary>guest console lines: "ready_ms=Infinity" (or NaN) made a readiness line with meaningless boot timings.</summary>
    [Theory]
    [Trait("Category", "Reliability")]
    [Trait("Category", "Fuzz")]
    [InlineData("WyAgICAwLjAwMDAwMF0gTGludXggdmVyc2lvbiA2LjEuMC12bXNhbmRib3ggKGdjYyAxMi4yLjApICMxIFNNUCBQUkVFTVBUX0RZTkFNSUMKWyAgICAxLjIzNDU2N10gUnVuIC9pbml0IGFzIGluaXQgcHJvY2Vzcwp2bXNhbmRib3gtYWdlbnQ6IHJlYWR5IHZlcnNpb249MC4xLjAgc3RhcnRlZF9tcz0xNzIwIHJlYWR5X21zPUluZmluaXR5IG1vZHVsZXM9MTU=")]
    [InlineData("dm1zYW5kYm94LWFnZW50OiByZWFkeSB2ZXJzaW9uPTEgc3RhcnRlZF9tcz1OYU4gcmVhZHlfbXM9MSBtb2R1bGVzPTA=")] // started_ms=NaN
    [InlineData("dm1zYW5kYm94LWFnZW50OiByZWFkeSB2ZXJzaW9uPTEgc3RhcnRlZF9tcz0xZTMwOSByZWFkeV9tcz0xZTMwOSBtb2R1bGVzPTA=")] // 1e309: infinite once parsed
    public void A_readiness_line_with_figures_that_are_not_finite_is_refused(string base64)
    {
        string[] lines = Encoding.UTF8.GetString(Convert.FromBase64String(base64)).Split('\n');
        Assert.Contains(lines, l => l.Contains(AgentReadiness.Prefix, StringComparison.Ordinal));
        Assert.All(lines, l => Assert.Null(AgentReadiness.TryParse(l)));
    }
}
