using VmSandbox.Common;
using VmSandbox.Oci.Spec;
using VmSandbox.Runtime.Containers;
using Xunit;

namespace VmSandbox.Tests.Unit.Runtime;

/// <summary>runc exec's flags over the container's process (utils_linux.go's getProcess).</summary>
public sealed class ExecFlagsTests
{
    private static readonly ProcessSpec s_container = new()
    {
        Args = ["sleep", "1000"],
        Cwd = "/",
        Env = ["PATH=/bin"],
        User = new User { Uid = 5, Gid = 6 },
        Capabilities = new LinuxCapabilities { Bounding = ["CAP_CHOWN"], Effective = ["CAP_CHOWN"], Permitted = ["CAP_CHOWN"] },
    };

    [Fact]
    public void Flags_override_the_containers_process()
    {
        ProcessSpec p = ExecSession.FromFlags(s_container, new ExecFlags(["sh", "-c", "x"])
        {
            Cwd = "/tmp",
            Env = ["A=1"],
            Tty = true,
            User = "7:8",
            AdditionalGids = ["9"],
        });
        Assert.Equal(["sh", "-c", "x"], p.Args);
        Assert.Equal("/tmp", p.Cwd);
        Assert.Equal(["PATH=/bin", "A=1"], p.Env);
        Assert.True(p.Terminal);
        Assert.Equal((7u, 8u), (p.User.Uid, p.User.Gid));
        Assert.Equal([9u], p.User.AdditionalGids);
        Assert.False(p.NoNewPrivileges);
    }

    [Fact]
    public void Cap_adds_to_bounding_effective_and_permitted_and_ambient_only_with_inheritable()
    {
        ProcessSpec p = ExecSession.FromFlags(s_container, new ExecFlags(["true"]) { Caps = ["CAP_KILL"], NoNewPrivileges = true });
        Assert.Equal(["CAP_CHOWN", "CAP_KILL"], p.Capabilities!.Bounding);
        Assert.Equal(["CAP_CHOWN", "CAP_KILL"], p.Capabilities.Effective);
        Assert.Equal(["CAP_CHOWN", "CAP_KILL"], p.Capabilities.Permitted);
        Assert.Null(p.Capabilities.Ambient);
        Assert.True(p.NoNewPrivileges);

        ProcessSpec inheriting = ExecSession.FromFlags(s_container with { Capabilities = new LinuxCapabilities { Inheritable = ["CAP_KILL"] } },
            new ExecFlags(["true"]) { Caps = ["CAP_KILL"] });
        Assert.Equal(["CAP_KILL"], inheriting.Capabilities!.Ambient);

        ProcessSpec none = ExecSession.FromFlags(s_container with { Capabilities = null }, new ExecFlags(["true"]) { Caps = ["CAP_SYS_ADMIN"] });
        Assert.Equal(["CAP_SYS_ADMIN"], none.Capabilities!.Bounding);
    }

    [Theory]
    [InlineData("x")]
    [InlineData("1:y")]
    public void A_bad_user_is_one_error(string user) =>
        Assert.Throws<VmSandboxException>(() => ExecSession.FromFlags(s_container, new ExecFlags(["true"]) { User = user }));

    [Fact]
    public void A_bad_group_and_no_args_are_errors()
    {
        Assert.Throws<VmSandboxException>(() => ExecSession.FromFlags(s_container, new ExecFlags(["true"]) { AdditionalGids = ["g"] }));
        Assert.Throws<VmSandboxException>(() => ExecSession.FromFlags(s_container, new ExecFlags([])));
    }
}
