#!/usr/bin/env bash
# Builds the guest image VmSandbox boots: Debian's cloud kernel and an initramfs whose /init
# is the NativeAOT agent, plus the shared libraries it links and the kernel modules it loads.
# When the minimal kernel has been built (`make kernel`, build-kernel.sh), it goes beside them
# with an initramfs of its own that has no modules (everything is built in): vmlinux-minimal
# and initramfs-minimal.img. The runtime prefers that pair (docs/adr/0014-minimal-guest-kernel.md).
#
#   build-guest.sh AGENT_BINARY OUT_DIR [MINIMAL_KERNEL_DIR]
#
# Inputs come only from Debian's archive (apt-get download + dpkg -x). The kernel package is
# cached outside the clone (VMSANDBOX_CACHE, default ~/.cache/vmsandbox) so that a rebuild of
# the agent does not download it again.
set -euo pipefail

agent=${1:?usage: build-guest.sh AGENT_BINARY OUT_DIR}
out=${2:?usage: build-guest.sh AGENT_BINARY OUT_DIR}
cache=${VMSANDBOX_CACHE:-${HOME:-/var/tmp}/.cache/vmsandbox}
meta_pkg=${VMSANDBOX_KERNEL_PACKAGE:-linux-image-cloud-amd64}
here=$(cd "$(dirname "$0")" && pwd)
minimal=${3:+$3/vmlinux-minimal}

die() { echo "build-guest: $*" >&2; exit 1; }

[[ -x $agent ]] || die "agent binary $agent is missing (fix: make build)"
for tool in apt-get dpkg depmod cpio ldd; do
    command -v "$tool" >/dev/null || die "$tool is missing (fix: make setup)"
done

# The meta package depends on exactly one versioned image package: that is the kernel we use.
kpkg=$(apt-cache depends "$meta_pkg" 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
[[ -n $kpkg ]] || die "cannot resolve $meta_pkg to a kernel package (fix: apt-get update)"
kver=${kpkg#linux-image-}

kdir=$cache/$kpkg
if [[ ! -f $kdir/.unpacked ]]; then
    echo "build-guest: fetching $kpkg from Debian's archive"
    rm -rf "$kdir" && mkdir -p "$kdir/deb"
    (cd "$kdir/deb" && apt-get download -o APT::Sandbox::User=root "$kpkg" >/dev/null)
    dpkg -x "$kdir"/deb/*.deb "$kdir/root"
    depmod -b "$kdir/root" "$kver"
    touch "$kdir/.unpacked"
fi
moddir=$kdir/root/lib/modules/$kver
[[ -f $kdir/root/boot/vmlinuz-$kver ]] || die "kernel image missing in $kpkg"

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{dev,proc,sys,run,tmp,lib/modules,lib64,lib/x86_64-linux-gnu}

install -m 0755 "$agent" "$stage/init"

# The shared libraries the agent links (ldd prints "name => path (addr)" or "path (addr)").
ldd "$agent" | awk '{for (i = 1; i <= NF; i++) if ($i ~ /^\//) print $i}' | while read -r lib; do
    mkdir -p "$stage$(dirname "$lib")"
    cp -L "$lib" "$stage$lib"
done

mkdir -p "$out"
# newc cpio of the staging tree, reproducible, written beside the target and renamed into place.
write_cpio() {
    local tmp=$out/.$1.tmp
    (cd "$stage" && find . -mindepth 1 -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --reproducible -R 0:0 --quiet) > "$tmp"
    mv "$tmp" "$out/$1"
}

# The minimal kernel's initramfs: the same tree before any module is added (no vmsandbox.load:
# the agent loads nothing).
minimal_release=null
rm -f "$out/vmlinuz-minimal"  # the compressed minimal kernel of builds before ADR 0016
if [[ -n $minimal && -f $minimal ]]; then
    write_cpio initramfs-minimal.img
    cp "$minimal" "$out/.vmlinux-minimal.tmp" && mv "$out/.vmlinux-minimal.tmp" "$out/vmlinux-minimal"
    minimal_release=\"$(sed -n 's/.*"kernelRelease": "\(.*\)".*/\1/p' "$minimal.json" 2>/dev/null)\"
else
    # No minimal kernel built: leave none behind from an earlier build, or the runtime would boot it.
    rm -f "$out/vmlinux-minimal" "$out/initramfs-minimal.img"
fi

# Modules in dependency order (modprobe's order: a module's dependencies, last listed first).
declare -A seen=()
order=()
add_module() {
    local rel=$1 i
    [[ -n ${seen[$rel]:-} ]] && return
    seen[$rel]=1
    local deps
    deps=$(awk -v m="$rel:" '$1 == m { $1 = ""; print; exit }' "$moddir/modules.dep")
    local arr=($deps)
    for ((i = ${#arr[@]} - 1; i >= 0; i--)); do add_module "${arr[$i]}"; done
    order+=("$rel")
}
while read -r name; do
    [[ -z $name || $name == \#* ]] && continue
    rel=$(awk -v n="/$name.ko" -F: 'index($1, n) && substr($1, length($1) - length(n) + 1) == n { print $1; exit }' "$moddir/modules.dep")
    if [[ -z $rel ]]; then
        grep -q "/$name.ko" "$moddir/modules.builtin" && continue
        die "module $name not found in $kpkg"
    fi
    add_module "$rel"
done < "$here/modules.list"

: > "$stage/lib/modules/vmsandbox.load"
for rel in "${order[@]}"; do
    dest=/lib/modules/$(basename "$rel")
    cp "$moddir/$rel" "$stage$dest"
    echo "$dest" >> "$stage/lib/modules/vmsandbox.load"
done

write_cpio initramfs.img
cp "$kdir/root/boot/vmlinuz-$kver" "$out/vmlinuz"
cat > "$out/manifest.json" <<JSON
{
  "kernelPackage": "$kpkg",
  "kernelRelease": "$kver",
  "agentSha256": "$(sha256sum "$agent" | cut -d' ' -f1)",
  "modules": ${#order[@]},
  "minimalKernelRelease": $minimal_release
}
JSON
echo "build-guest: $out (kernel $kver, ${#order[@]} modules, initramfs $(du -k "$out/initramfs.img" | cut -f1) KiB)"
if [[ -f $out/vmlinux-minimal ]]; then
    echo "build-guest: $out/vmlinux-minimal (${minimal_release//\"/}, initramfs-minimal $(du -k "$out/initramfs-minimal.img" | cut -f1) KiB)"
fi
