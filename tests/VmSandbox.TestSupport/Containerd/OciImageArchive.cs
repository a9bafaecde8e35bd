using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace VmSandbox.TestSupport.Containerd;

/// <summary>
/// Writes an OCI image layout (image-spec v1.0: `oci-layout`, `index.json`, `blobs/sha256/…`) as
/// one tar archive, from a root filesystem directory: one gzip layer, a config that runs `sh`
/// with the usual PATH, a manifest, and an index whose manifest is named by the
/// `org.opencontainers.image.ref.name` annotation, which `ctr images import` takes as the image
/// name. No registry and no Docker: this machine has neither a network nor a daemon to build with.
/// </summary>
internal static class OciImageArchive
{
    private const string ManifestType = "application/vnd.oci.image.manifest.v1+json";
    private const string ConfigType = "application/vnd.oci.image.config.v1+json";
    private const string LayerType = "application/vnd.oci.image.layer.v1.tar+gzip";
    private const string IndexType = "application/vnd.oci.image.index.v1+json";
    private const string RefNameAnnotation = "org.opencontainers.image.ref.name";

    /// <summary>
    /// Writes the archive; returns the manifest's digest (what `ctr images ls` shows). The image
    /// runs <paramref name="entrypoint"/> (none by default) with <paramref name="cmd"/> (default `sh`).
    /// </summary>
    public static string Write(string rootfs, string reference, string archivePath, string[]? entrypoint = null, string[]? cmd = null)
    {
        byte[] layerTar = TarDirectory(rootfs);
        // image-spec config.md: diff_ids are digests of the uncompressed layers.
        string diffId = Digest(layerTar);
        byte[] layer = Gzip(layerTar);

        byte[] config = Json(new JsonObject
        {
            ["architecture"] = "amd64",
            ["os"] = "linux",
            ["config"] = ImageConfig(entrypoint, cmd ?? ["sh"]),
            ["rootfs"] = new JsonObject { ["type"] = "layers", ["diff_ids"] = new JsonArray(diffId) },
        });
        byte[] manifest = Json(new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = ManifestType,
            ["config"] = Descriptor(ConfigType, config),
            ["layers"] = new JsonArray(Descriptor(LayerType, layer)),
        });
        JsonObject manifestDescriptor = Descriptor(ManifestType, manifest);
        manifestDescriptor["platform"] = new JsonObject { ["architecture"] = "amd64", ["os"] = "linux" };
        manifestDescriptor["annotations"] = new JsonObject { [RefNameAnnotation] = reference };
        byte[] index = Json(new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = IndexType,
            ["manifests"] = new JsonArray(manifestDescriptor),
        });

        using FileStream file = File.Create(archivePath);
        using var tar = new TarWriter(file, TarEntryFormat.Pax);
        AddFile(tar, "oci-layout", Json(new JsonObject { ["imageLayoutVersion"] = "1.0.0" }));
        AddFile(tar, "index.json", index);
        tar.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "blobs/") { Mode = DirectoryMode });
        tar.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "blobs/sha256/") { Mode = DirectoryMode });
        foreach (byte[] blob in (byte[][])[layer, config, manifest])
        {
            AddFile(tar, "blobs/sha256/" + Digest(blob)["sha256:".Length..], blob);
        }
        return Digest(manifest);
    }

    private static JsonObject ImageConfig(string[]? entrypoint, string[] cmd)
    {
        var config = new JsonObject
        {
            ["Env"] = new JsonArray("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
            ["Cmd"] = new JsonArray([.. cmd.Select(a => JsonValue.Create(a))]),
        };
        if (entrypoint is not null)
        {
            config["Entrypoint"] = new JsonArray([.. entrypoint.Select(a => JsonValue.Create(a))]);
        }
        return config;
    }

    private const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
        | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    /// <summary>The directory's tree as a tar stream: names relative to it, symlinks kept as links, parents before children.</summary>
    private static byte[] TarDirectory(string root)
    {
        using var ms = new MemoryStream();
        using (var tar = new TarWriter(ms, TarEntryFormat.Pax, leaveOpen: true))
        {
            var pending = new Stack<string>();
            pending.Push(root);
            while (pending.Count > 0)
            {
                string dir = pending.Pop();
                // Reverse order onto the stack, so the archive lists each directory's entries sorted.
                foreach (string path in Directory.GetFileSystemEntries(dir).OrderByDescending(p => p, StringComparer.Ordinal))
                {
                    string name = Path.GetRelativePath(root, path);
                    var info = new FileInfo(path);
                    bool isDir = info.Attributes.HasFlag(FileAttributes.Directory) && info.LinkTarget is null;
                    tar.WriteEntry(path, isDir ? name + "/" : name);
                    if (isDir)
                    {
                        pending.Push(path);
                    }
                }
            }
        }
        return ms.ToArray();
    }

    private static void AddFile(TarWriter tar, string name, byte[] data) =>
        tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name)
        {
            Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead,
            DataStream = new MemoryStream(data),
        });

    private static JsonObject Descriptor(string mediaType, byte[] blob) => new()
    {
        ["mediaType"] = mediaType,
        ["digest"] = Digest(blob),
        ["size"] = blob.Length,
    };

    private static byte[] Gzip(byte[] data)
    {
        using var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Optimal, leaveOpen: true))
        {
            gz.Write(data);
        }
        return ms.ToArray();
    }

    private static byte[] Json(JsonObject o) => Encoding.UTF8.GetBytes(o.ToJsonString());

    private static string Digest(byte[] data) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(data));
}
