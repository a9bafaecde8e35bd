#!/usr/bin/env bash
# Builds the guest image VmSandbox boots: Debian's cloud kernel and an initramfs whose /init
# is the NativeAOT agent, plus the shared libraries it links and the kernel modules it loads.
#
#   build-guest.sh AGENT_BINARY OUT_DIR
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

mkdir -p "$out"
tmp_img=$out/.initramfs.img.tmp
(cd "$stage" && find . -mindepth 1 -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --reproducible -R 0:0 --quiet) > "$tmp_img"
mv "$tmp_img" "$out/initramfs.img"
cp "$kdir/root/boot/vmlinuz-$kver" "$out/vmlinuz"
cat > "$out/manifest.json" <<JSON
{
  "kernelPackage": "$kpkg",
  "kernelRelease": "$kver",
  "agentSha256": "$(sha256sum "$agent" | cut -d' ' -f1)",
  "modules": ${#order[@]}
}
JSON
echo "build-guest: $out (kernel $kver, ${#order[@]} modules, initramfs $(du -k "$out/initramfs.img" | cut -f1) KiB)"
