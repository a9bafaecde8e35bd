#!/usr/bin/env bash
# Installs with apt-get everything VmSandbox needs on Debian 12. Idempotent: packages already
# installed are left alone, and apt-get runs only when something is missing.
set -euo pipefail

packages=(
    qemu-system-x86   # the VMM, and /usr/lib/qemu/virtiofsd
    busybox-static    # the rootfs of the VM container tests (tests/fixtures/make-rootfs.sh)
    runc runsc        # the runtimes `make bench` compares against
    crun              # a second runc-compatible runtime to compare behaviour and start-up with
    docker.io         # the end-to-end client: `vmsandbox install --docker`, `docker run --runtime=vmsandbox`
    containerd        # containerd 1.6 with CRI and `ctr`: the shim v2 end-to-end tests (tests/VmSandbox.Tests.Containerd)
    containernetworking-plugins  # CNI plugins in /usr/lib/cni for containerd's CRI (the pod network of the CRI test)
    podman            # podman 4.3 and conmon: the podman end-to-end test (`podman --runtime`, docs/podman.md)
    netavark aardvark-dns iptables  # podman's network stack (only recommended or suggested by it): bridge, names, -p
    busybox-static    # one static binary that makes the test images' rootfs (`docker import`, no registry)
    iproute2          # `ip`: the Docker end-to-end tests make (and remove) their own bridge
    procps            # `ps`: `vmsandbox ps` picks its rows out of it, as runc (and `docker top`) do
    git               # the CI-job end-to-end test: a git daemon on the test bridge, git copied into the job's image
    iperf3            # `make bench`'s network section: server in the container, client on the host
    gnuplot-nox       # `make bench`'s plots (docs/performance/*.png)
    cpio kmod         # initramfs builder: cpio archive, depmod
    linux-source      # the minimal guest kernel's source (`make kernel`, packaging/guest/build-kernel.sh)
    build-essential bc bison flex libelf-dev lz4 xz-utils  # what that kernel build runs: gcc and make, Kconfig's parsers, objtool, LZ4 compression
    ca-certificates
)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
    [[ $(id -u) == 0 ]] || { echo "setup: installing ${missing[*]} needs root (fix: sudo make setup)" >&2; exit 1; }
    echo "setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
    echo "setup: all packages present"
fi

command -v dotnet >/dev/null || { echo "setup: the .NET 10 SDK is required (see README.md)" >&2; exit 1; }
# apt-get download (guest kernel) needs current package lists.
if ! apt-cache depends linux-image-cloud-amd64 2>/dev/null | grep -q 'Depends: linux-image-[0-9]'; then
    apt-get update -qq
fi
dotnet restore VmSandbox.sln --nologo -v quiet
