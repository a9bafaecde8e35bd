using VmSandbox.Oci;
using VmSandbox.Oci.Spec;
using Xunit;

namespace VmSandbox.Tests.Unit.Oci;

public sealed class IdMapFileTests
{
    private static LinuxIdMapping M(uint containerId, uint hostId, uint size) => new() { ContainerId = containerId, HostId = hostId, Size = size };

    [Fact]
    [Trait("Category", "Reliability")]
    public void Formats_one_line_per_mapping_in_the_specs_order()
    {
        Assert.Equal("0 100000 65536\n65536 1000 1\n", IdMapFile.Format([M(0, 100000, 65536), M(65536, 1000, 1)]));
        Assert.Equal("", IdMapFile.Format([]));
    }

    [Theory]
    [Trait("Category", "Reliability")]
    [InlineData(0u, 100000u, 65536u, 65536u, 165536u, 1u, null)] // adjacent on both sides
    [InlineData(0u, 100000u, 65536u, 100u, 300000u, 1u, "m[1]: containerID range overlaps m[0]")]
    [InlineData(0u, 100000u, 65536u, 70000u, 165535u, 1u, "m[1]: hostID range overlaps m[0]")]
    [InlineData(0u, 0u, 4294967295u, 0u, 0u, 0u, null)] // the whole id space, as the initial namespace has
    public void Finds_what_the_kernel_refuses(uint c0, uint h0, uint s0, uint c1, uint h1, uint s1, string? problem)
    {
        LinuxIdMapping[] maps = s1 == 0 ? [M(c0, h0, s0)] : [M(c0, h0, s0), M(c1, h1, s1)];
        Assert.Equal(problem, IdMapFile.Problem(maps, "m"));
    }

    [Fact]
    [Trait("Category", "Reliability")]
    public void Refuses_ranges_past_the_last_id_and_maps_the_kernel_cannot_take()
    {
        Assert.Equal("m[0]: containerID 1 + size 4294967295 is past the last id 4294967294", IdMapFile.Problem([M(1, 0, uint.MaxValue)], "m"));
        Assert.Equal("m[0]: hostID 4294967000 + size 65536 is past the last id 4294967294", IdMapFile.Problem([M(0, 4294967000, 65536)], "m"));
        LinuxIdMapping[] many = [.. Enumerable.Range(0, IdMapFile.MaxLines + 1).Select(i => M((uint)i, (uint)i, 1))];
        Assert.Equal($"m: {IdMapFile.MaxLines + 1} mappings, the kernel takes at most {IdMapFile.MaxLines}", IdMapFile.Problem(many, "m"));
        LinuxIdMapping[] wide = [.. Enumerable.Range(0, 200).Select(i => M(1_000_000_000u + ((uint)i * 10), 2_000_000_000u + ((uint)i * 10), 10))];
        Assert.Equal("m: the mappings take more than 4095 bytes, the kernel's limit", IdMapFile.Problem(wide, "m"));
    }
}
