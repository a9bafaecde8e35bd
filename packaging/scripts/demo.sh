#!/usr/bin/env bash
# `make demo`, after setup, build and install: makes sure a dockerd is running (starts one in the
# background if not, logging to /var/log/vmsandbox-demo-dockerd.log), builds a small busybox image
# locally (no registry needed), and runs it with `docker run --runtime=vmsandbox`, so the guest
# kernel's `uname -a` is printed from inside the VM next to the host's.
set -euo pipefail
cd "$(dirname "$0")/../.."

docker=/usr/bin/docker   # Debian's client, matching Debian's dockerd
image=vmsandbox-demo:latest

if ! "$docker" info >/dev/null 2>&1; then
    echo "demo: starting dockerd (log: /var/log/vmsandbox-demo-dockerd.log)"
    nohup /usr/sbin/dockerd >/var/log/vmsandbox-demo-dockerd.log 2>&1 &
    for _ in $(seq 1 120); do
        "$docker" info >/dev/null 2>&1 && break
        sleep 0.5
    done
    "$docker" info >/dev/null 2>&1 || { echo "demo: dockerd did not start; see /var/log/vmsandbox-demo-dockerd.log" >&2; exit 1; }
fi
if ! "$docker" info --format '{{json .Runtimes}}' | grep -q '"vmsandbox"'; then
    echo "demo: dockerd does not list the vmsandbox runtime (fix: make install, which registers it)" >&2
    exit 1
fi

if ! "$docker" image inspect "$image" >/dev/null 2>&1; then
    echo "demo: building $image from Debian's busybox-static"
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    packaging/scripts/make-busybox-rootfs.sh "$work/rootfs"
    tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
    "$docker" import --change 'CMD ["sh"]' "$work/rootfs.tar" "$image" >/dev/null
fi

echo "host:    $(uname -a)"
echo "\$ docker run --rm --runtime=vmsandbox $image uname -a"
"$docker" run --rm --runtime=vmsandbox "$image" uname -a
