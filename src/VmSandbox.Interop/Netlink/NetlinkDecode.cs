namespace VmSandbox.Interop.Netlink;

/// <summary>Decodes one dump message into a value, or null to skip it.</summary>
public delegate T? NetlinkDecode<T>(NetlinkMessage message)
    where T : class;
