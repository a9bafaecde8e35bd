#!/usr/bin/env bash
# Builds VmSandbox's minimal guest kernel from Debian's linux-source package: `make tinyconfig`,
# then kernel.fragment merged with scripts/kconfig/merge_config.sh, then olddefconfig, and a check
# that every line of the fragment is in the final .config (Kconfig drops options whose
# dependencies are missing without a word). Everything is built in; no modules.
#
#   build-kernel.sh OUT_DIR      writes OUT_DIR/vmlinux-minimal (the uncompressed, stripped ELF kernel
#                                that QEMU enters through its PVH note), OUT_DIR/vmlinux-minimal.config
#                                and OUT_DIR/vmlinux-minimal.json
#
# The result is cached outside the clone (VMSANDBOX_CACHE, default ~/.cache/vmsandbox) under a
# key hashed from its inputs: the fragment, this script, the linux-source package version and
# the compiler. A warm cache makes this a copy; a cold one compiles for about 15 minutes on two
# cores, at nice 19 so that it does not starve the machine.
set -euo pipefail

out=${1:?usage: build-kernel.sh OUT_DIR}
cache=${VMSANDBOX_CACHE:-${HOME:-/var/tmp}/.cache/vmsandbox}
here=$(cd "$(dirname "$0")" && pwd)
fragment=$here/kernel.fragment

die() { echo "build-kernel: $*" >&2; exit 1; }

for tool in cmp dpkg-query make gcc bc bison flex flock sha256sum tar xz lz4; do
    command -v "$tool" >/dev/null || die "$tool is missing (fix: make setup)"
done
[[ -f /usr/include/libelf.h ]] || die "libelf-dev is missing (fix: make setup)"

# Debian's linux-source package ships one tarball; the newest installed one is the source.
tarballs=(/usr/src/linux-source-*.tar.xz)
[[ -f ${tarballs[0]} ]] || die "no /usr/src/linux-source-*.tar.xz (fix: make setup, or apt-get install linux-source)"
tarball=$(printf '%s\n' "${tarballs[@]}" | sort -V | tail -n 1)
srcpkg=$(basename "$tarball" .tar.xz)
srcver=$(dpkg-query -W -f='${Version}' "$srcpkg" 2>/dev/null) || die "$tarball belongs to no installed package $srcpkg"

key=$( { sha256sum "$fragment" "$here/build-kernel.sh" | cut -d' ' -f1; echo "$srcpkg $srcver"; gcc --version | head -n 1; } \
    | sha256sum | cut -c1-16)
kdir=$cache/kernel-$key

mkdir -p "$cache"
# One build per key at a time, across clones and worktrees: the second waits, then copies.
exec 9>"$cache/kernel-$key.lock"
flock 9

if [[ ! -f $kdir/.built ]]; then
    src=$cache/$srcpkg-$srcver
    if [[ ! -f $src/.unpacked ]]; then
        echo "build-kernel: unpacking $srcpkg $srcver"
        rm -rf "$src" && mkdir -p "$src"
        tar -xJf "$tarball" -C "$src" --strip-components=1
        touch "$src/.unpacked"
    fi
    rm -rf "$kdir" && mkdir -p "$kdir"
    build=$kdir/build
    started=$(date +%s)
    echo "build-kernel: configuring $srcpkg $srcver (tinyconfig + kernel.fragment) in $build"
    make -s -C "$src" O="$build" tinyconfig >/dev/null
    (cd "$src" && scripts/kconfig/merge_config.sh -m -O "$build" "$build/.config" "$fragment" >/dev/null)
    make -s -C "$src" O="$build" olddefconfig >/dev/null

    # Every fragment line must have landed: "CONFIG_X=v" verbatim, "# CONFIG_X is not set" as not set.
    missing=()
    while IFS= read -r line; do
        if [[ $line =~ ^(CONFIG_[A-Za-z0-9_]+)=(.*)$ ]]; then
            grep -qxF -- "$line" "$build/.config" || missing+=("$line (got: $(grep -E "^(# )?${BASH_REMATCH[1]}[= ]" "$build/.config" || echo absent))")
        elif [[ $line =~ ^#\ (CONFIG_[A-Za-z0-9_]+)\ is\ not\ set$ ]]; then
            ! grep -qE "^${BASH_REMATCH[1]}=" "$build/.config" || missing+=("$line (got: $(grep -E "^${BASH_REMATCH[1]}=" "$build/.config"))")
        fi
    done < "$fragment"
    if ((${#missing[@]})); then
        printf 'build-kernel: not in the final .config:\n' >&2
        printf '  %s\n' "${missing[@]}" >&2
        die "kernel.fragment asks for options Kconfig dropped (a dependency is missing; see $build/.config)"
    fi

    echo "build-kernel: compiling with $(nproc) jobs at nice 19 (about 15 minutes on 2 cores)"
    nice -n 19 make -s -C "$src" O="$build" -j"$(nproc)" vmlinux >"$kdir/build.log" 2>&1 \
        || { tail -n 40 "$kdir/build.log" >&2; die "kernel build failed (log: $kdir/build.log)"; }
    seconds=$(($(date +%s) - started))
    release=$(cat "$build/include/config/kernel.release")
    # Booted as is (PVH, ADR 0016): no decompressor to run under emulation; no symbols to load.
    strip -o "$kdir/vmlinux" "$build/vmlinux"
    cp "$build/.config" "$kdir/config"
    cat > "$kdir/manifest.json" <<JSON
{
  "kind": "minimal",
  "sourcePackage": "$srcpkg",
  "sourceVersion": "$srcver",
  "kernelRelease": "$release",
  "cacheKey": "$key",
  "buildSeconds": $seconds,
  "jobs": $(nproc)
}
JSON
    rm -rf "$build"
    touch "$kdir/.built"
    echo "build-kernel: built $release in ${seconds}s"
fi

# Copied only when changed, so that make sees a new kernel only when there is one.
mkdir -p "$out"
for f in vmlinux:vmlinux-minimal config:vmlinux-minimal.config manifest.json:vmlinux-minimal.json; do
    if ! cmp -s "$kdir/${f%%:*}" "$out/${f#*:}"; then
        cp "$kdir/${f%%:*}" "$out/.${f#*:}.tmp" && mv "$out/.${f#*:}.tmp" "$out/${f#*:}"
    fi
done
rm -f "$out"/vmlinuz-minimal*  # the compressed kernel of earlier builds
echo "build-kernel: $out/vmlinux-minimal ($(du -k "$out/vmlinux-minimal" | cut -f1) KiB, cache $kdir)"
