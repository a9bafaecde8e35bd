#!/usr/bin/env bash
# Builds a small busybox root filesystem in DIR from Debian's busybox-static package: the static
# /bin/busybox, one symlink per applet at the path busybox lists for it, and the /etc files,
# users and directories that the docker-library busybox image has (root, daemon, nobody, …;
# /tmp 1777, /root 0700). Tests use it wherever upstream suites would download an image.
# Nothing on the host is touched: the links are made here, not with `busybox --install`.
#
#   packaging/scripts/make-busybox-rootfs.sh DIR     (DIR must not exist or be empty)
set -euo pipefail

dir="${1:?usage: make-busybox-rootfs.sh DIR}"
busybox=/bin/busybox
if [[ ! -x $busybox ]] || ldd "$busybox" >/dev/null 2>&1; then
    echo "make-busybox-rootfs: $busybox is missing or not static (fix: apt-get install busybox-static)" >&2
    exit 1
fi
if [[ -e $dir ]] && [[ -n "$(ls -A "$dir")" ]]; then
    echo "make-busybox-rootfs: $dir is not empty" >&2
    exit 1
fi

# No proc/ or sys/, like the image: the runtime makes mount points (and runc's mask.bats replaces
# them with symlinks to check that runc refuses those).
mkdir -p "$dir"/{bin,sbin,usr/bin,usr/sbin,dev,etc,home,tmp,var/spool/mail,var/www,root}
chmod 1777 "$dir/tmp"
chmod 0700 "$dir/root"
install -m 0755 "$busybox" "$dir/bin/busybox"

# --list-full prints each applet with its directory (bin/sh, usr/bin/env, …).
while read -r applet; do
    [[ $applet == */* && $applet != linuxrc ]] || continue
    [[ -e $dir/$applet || -L $dir/$applet ]] || ln -s /bin/busybox "$dir/$applet"
done < <("$busybox" --list-full)

# The docker-library busybox image's accounts (upstream tests look some of them up).
cat >"$dir/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
EOF
cat >"$dir/etc/group" <<'EOF'
root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
lp:x:7:
mail:x:8:
kmem:x:9:
wheel:x:10:root
cdrom:x:11:
dialout:x:18:
floppy:x:19:
video:x:28:
audio:x:29:
tape:x:32:
www-data:x:33:
operator:x:37:
utmp:x:43:
plugdev:x:46:
staff:x:50:
lock:x:54:
netdev:x:82:
users:x:100:
nogroup:x:65534:
EOF
echo 'root:*::0:::::' >"$dir/etc/shadow"
chmod 0600 "$dir/etc/shadow"
: >"$dir/etc/hostname"
echo "127.0.0.1 localhost" >"$dir/etc/hosts"
