#!/usr/bin/env bash
# Runs test suites that others wrote — runc's integration tests (bats) and crun's Python tests,
# both from Debian's source packages — against vmsandbox and, for comparison, against runc on
# the same machine. Nothing of theirs is committed: `apt-get source runc crun` fetches them at
# test time into a cache outside the clone, and the harness works on copies there.
# See docs/conformance.md.
#
#   packaging/scripts/conformance.sh          (or: make test-conformance)
#
# Environment:
#   CONFORMANCE_RUNTIMES      runtimes to test, default "runc vmsandbox"
#   CONFORMANCE_SUITES        suites to run, default "runc crun"
#   CONFORMANCE_FILTER        regex selecting tests (bats: the test name; crun: file/name)
#   CONFORMANCE_TEST_TIMEOUT  seconds per test, default 120
#   CONFORMANCE_TIMEOUT       seconds for all suites and runtimes together, default 5400
#   VMSANDBOX_BIN             the vmsandbox to test, default out/bin/vmsandbox
#   VMSANDBOX_CACHE           cache root, default ~/.cache/vmsandbox (sources go in conformance/)
# Results: out/conformance/<runtime>/{runc-bats,crun-suite}.tap, logs beside them, and
# out/conformance/summary.txt with one line per runtime. Exits 0 when the suites ran, whatever
# their results (the comparison is the product), and non-zero when the harness itself failed.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
runtimes="${CONFORMANCE_RUNTIMES:-runc vmsandbox}"
suites="${CONFORMANCE_SUITES:-runc crun}"
filter="${CONFORMANCE_FILTER:-}"
test_timeout="${CONFORMANCE_TEST_TIMEOUT:-120}"
total_timeout="${CONFORMANCE_TIMEOUT:-5400}"
vmsandbox_bin="${VMSANDBOX_BIN:-$root/out/bin/vmsandbox}"
cache="${VMSANDBOX_CACHE:-$HOME/.cache/vmsandbox}/conformance"
results="$root/out/conformance"
skip_file="$root/tests/conformance/skip-vmsandbox.txt"
deadline=$(($(date +%s) + total_timeout))

log() { echo "conformance: $*"; }
die() { echo "conformance: $*" >&2; exit 1; }

[[ $(id -u) == 0 ]] || die "needs root: it installs packages and runs containers (fix: sudo make test-conformance)"

# --- 1. Debian source lines, packages -----------------------------------------------------------

# apt-get source needs a deb-src entry for bookworm. Add one file of ours only when no source
# list (one-line or deb822) has one already; running again changes nothing.
# This machine's deb entries as deb-src (same archive, suites, components and keys), so no
# archive host is written down here: deb822 stanzas on stdout, one-line entries into a .list.
deb_src_from_sources() {
    local src
    for src in /etc/apt/sources.list.d/*.sources; do
        [[ -f $src && $src != */vmsandbox-conformance-src.sources ]] || continue
        awk 'BEGIN { RS = ""; ORS = "\n\n" } /Types:[^\n]*deb/ { sub(/Types:[^\n]*/, "Types: deb-src"); print }' "$src"
    done
    grep -hsE '^\s*deb\s' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
        sed -E 's/^\s*deb\s/deb-src /' >/etc/apt/sources.list.d/vmsandbox-conformance-src.list || true
    [[ -s /etc/apt/sources.list.d/vmsandbox-conformance-src.list ]] || rm -f /etc/apt/sources.list.d/vmsandbox-conformance-src.list
}

ensure_deb_src() {
    local f=/etc/apt/sources.list.d/vmsandbox-conformance-src.sources
    if grep -qsE '^\s*deb-src\s.*\sbookworm\s' /etc/apt/sources.list /etc/apt/sources.list.d/*.list ||
        grep -qsE '^\s*Types:.*\bdeb-src\b' /etc/apt/sources.list.d/*.sources; then
        return 0
    fi
    log "adding $f (deb-src for bookworm, from this machine's own deb entries)"
    {
        echo "# Added by VmSandbox (packaging/scripts/conformance.sh) for \`apt-get source runc crun\`:"
        echo "# the deb entries of this machine's sources, as deb-src."
        deb_src_from_sources
    } >"$f"
    if ! grep -q '^Types: deb-src' "$f" && [[ ! -f /etc/apt/sources.list.d/vmsandbox-conformance-src.list ]]; then
        rm -f "$f"
        die "no deb entry in /etc/apt/sources.list{,.d} to derive a deb-src entry from (add a deb-src line for bookworm)"
    fi
    apt-get update -qq
}

packages=(
    bats jq gawk busybox-static runc crun dpkg-dev python3 util-linux kmod iproute2
    gcc libc6-dev libseccomp-dev pkgconf   # crun's tests/init (static), runc's hooks test
    # runc's test helpers recvtty and seccompagent, built from the fetched runc source with
    # Debian's Go packages (GOPATH mode; the +ds source carries no vendor/ tree)
    golang-go golang-github-containerd-console-dev golang-github-urfave-cli-dev
    golang-golang-x-sys-dev golang-github-cyphar-filepath-securejoin-dev
    golang-github-opencontainers-specs-dev golang-github-seccomp-libseccomp-golang-dev
    golang-github-sirupsen-logrus-dev
)

ensure_packages() {
    local missing=() p
    for p in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    ((${#missing[@]})) || return 0
    log "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 ||
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
}

# --- 2. Upstream sources and what they need, cached outside the clone ---------------------------

fetch_sources() {
    mkdir -p "$cache/src"
    local pkg
    for pkg in runc crun; do
        if ! compgen -G "$cache/src/$pkg-[0-9]*/" >/dev/null; then
            log "apt-get source $pkg"
            (cd "$cache/src" && apt-get source -qq "$pkg" >/dev/null 2>&1) ||
                die "apt-get source $pkg failed (is Debian's archive reachable?)"
        fi
    done
    runc_src=$(compgen -G "$cache/src/runc-[0-9]*/" | sort -V | tail -1)
    crun_src=$(compgen -G "$cache/src/crun-[0-9]*/" | sort -V | tail -1)
    runc_src=${runc_src%/} crun_src=${crun_src%/}
}

build_helpers() {
    local bin="$cache/bin"
    mkdir -p "$bin"
    local stamp="$bin/.built-from-$(basename "$runc_src")-$(basename "$crun_src")"
    [[ -e $stamp ]] && return 0
    log "building runc's recvtty and seccompagent, crun's tests/init"
    local gopath="$cache/gopath"
    rm -rf "$gopath" && mkdir -p "$gopath/src/github.com/opencontainers"
    ln -s "$runc_src" "$gopath/src/github.com/opencontainers/runc"
    (
        cd "$gopath/src/github.com/opencontainers/runc"
        export GO111MODULE=off GOPATH="$gopath:/usr/share/gocode" GOCACHE="$cache/gocache" GOFLAGS=
        nice go build -o "$bin/recvtty" ./contrib/cmd/recvtty
        nice go build -tags seccomp -o "$bin/seccompagent" ./contrib/cmd/seccompagent
    )
    # crun builds tests/init with its autoconf config.h; these are the two macros init.c reads.
    mkdir -p "$cache/crun-init"
    printf '#define HAVE_ERROR_H 1\n#define HAVE_SECCOMP 1\n' >"$cache/crun-init/config.h"
    gcc -static -O2 -I"$cache/crun-init" -o "$bin/crun-init" "$crun_src/tests/init.c" -lseccomp
    rm -f "$bin"/.built-from-* && touch "$stamp"
}

# runc's tests untar an image per test: BUSYBOX_IMAGE (busybox-static from Debian, built here)
# and DEBIAN_IMAGE (one test, hooks.bats, runs ldconfig: the same rootfs plus Debian's static
# /sbin/ldconfig).
build_images() {
    local images="$cache/images" rootfs
    busybox_tar="$images/busybox.tar" debian_tar="$images/debian-ldconfig.tar"
    [[ -s $busybox_tar && -s $debian_tar && $busybox_tar -nt /bin/busybox &&
        $busybox_tar -nt $root/packaging/scripts/make-busybox-rootfs.sh ]] && return 0
    log "building the busybox rootfs images"
    rm -rf "$images" && mkdir -p "$images"
    rootfs="$images/rootfs"
    "$root/packaging/scripts/make-busybox-rootfs.sh" "$rootfs"
    tar -C "$rootfs" -cf "$busybox_tar" .
    install -D -m 0755 /sbin/ldconfig "$rootfs/sbin/ldconfig"
    mkdir -p "$rootfs/lib" "$rootfs/etc/ld.so.conf.d"
    echo "include /etc/ld.so.conf.d/*.conf" >"$rootfs/etc/ld.so.conf"
    tar -C "$rootfs" -cf "$debian_tar" .
    rm -rf "$rootfs"
}

# --- 3. Running the suites ----------------------------------------------------------------------

runtime_bin() {
    case "$1" in
        runc) command -v runc ;;
        vmsandbox) echo "$vmsandbox_bin" ;;
        *) command -v "$1" || die "unknown runtime $1" ;;
    esac
}

# Skip list lines: `suite | file | test name or * | reason`; applied to vmsandbox only.
skips_for() { # runtime suite
    [[ $1 == vmsandbox && -f $skip_file ]] || return 0
    grep -vE '^\s*(#|$)' "$skip_file" | awk -F'|' -v s="$2" '{ k = $1; gsub(/^ +| +$/, "", k); if (k == s) print }'
}

# Inserts `skip "<reason>"` as the first line of each listed test in the work copy.
apply_bats_skips() { # runtime dir
    local line file name reason n
    while IFS= read -r line; do
        IFS='|' read -r _ file name reason <<<"$line"
        file=$(xargs <<<"$file") name=$(sed -E 's/^ +| +$//g' <<<"$name") reason=$(sed -E 's/^ +| +$//g; s/["$`\\]/'"'"'/g' <<<"$reason")
        [[ -f $2/$file ]] || { log "skip list: no file $file"; continue; }
        n=$(awk -v name="$name" -v reason="vmsandbox: $reason" '
            BEGIN { n = 0 }
            { print > (FILENAME ".new") }
            /^@test / {
                t = $0; sub(/^@test "/, "", t); sub(/" *\{ *$/, "", t)
                if (name == "*" || t == name) { print "\tskip \"" reason "\"" > (FILENAME ".new"); n++ }
            }
            END { print n }' "$2/$file")
        mv "$2/$file.new" "$2/$file"
        ((n > 0)) || log "skip list: no test \"$name\" in $file"
    done < <(skips_for "$1" runc)
}

# Appends one TAP stream to a combined one, prefixing names with the file and counting the
# tests the plan promised but the run never reported (killed by a timeout) as failures.
tap_append() { # in out label expected
    awk -v label="$3" -v expected="$4" '
        /^1\.\.[0-9]+/ { expected = substr($0, 4) + 0; next }
        /^(not )?ok [0-9]+/ {
            seen++
            res = ($1 == "not") ? "not ok" : "ok"
            rest = $0; sub(/^(not )?ok [0-9]+ (- )?/, "", rest)
            print res " " label ": " rest
        }
        END { for (i = seen; i < expected; i++) print "not ok " label ": [not run #" i + 1 "] # killed by a timeout" }
    ' "$1" >>"$2"
}

# Renumbers a combined stream and adds its plan.
tap_finish() { # file
    awk '{ sub(/^ok /, "ok " NR " "); sub(/^not ok /, "not ok " NR " "); print } END { }' "$1" >"$1.tmp"
    { echo "1..$(wc -l <"$1.tmp")"; cat "$1.tmp"; } >"$1"
    rm -f "$1.tmp"
}

# "P/T passed (F failed, S skipped)" from a TAP file.
tap_count() {
    awk '/^ok .*# [Ss][Kk][Ii][Pp]/ { s++; next } /^ok / { p++ } /^not ok / { f++ }
         END { printf "%d/%d passed (%d failed, %d skipped)", p, p + f + s, f, s }' "$1"
}

left() { echo $((deadline - $(date +%s))); }

run_runc_bats() { # runtime bin outdir
    local work="$cache/work/$1/runc" tap="$3/runc-bats.tap" tmp="$scratch/bats" f expected rc cmd
    rm -rf "$work" && mkdir -p "$work/tests" "$work/contrib/cmd"/{recvtty,seccompagent,sd-helper} "$tmp"
    chmod 0755 "$tmp"
    cp -a "$runc_src/tests/integration" "$work/tests/"
    cp -a "$runc_src/contrib/cmd/seccompagent/." "$work/contrib/cmd/seccompagent/"
    cp "$cache/bin/recvtty" "$work/contrib/cmd/recvtty/"
    cp "$cache/bin/seccompagent" "$work/contrib/cmd/seccompagent/"
    # get-images.sh downloads from GitHub (and asks `go env` for the arch): answer it locally.
    printf '#!/bin/sh\necho BUSYBOX_IMAGE=%s\necho DEBIAN_IMAGE=%s\n' "$busybox_tar" "$debian_tar" \
        >"$work/tests/integration/get-images.sh"
    apply_bats_skips "$1" "$work/tests/integration"

    : >"$tap"
    mkdir -p "$3/runc-bats"
    for f in "$work"/tests/integration/*.bats; do
        local name out
        name=$(basename "$f")
        out="$3/runc-bats/${name%.bats}"
        expected=$(cd "$work/tests/integration" && bats --count ${filter:+--filter "$filter"} "$name" 2>/dev/null || echo 0)
        ((expected > 0)) || continue
        if (($(left) <= 5)); then
            echo "1..$expected" >"$out.tap"
        else
            # Under a pseudo-terminal, as Debian's autopkgtest runs them (`script -e -c 'bats …'`):
            # runc's default spec has terminal: true, and foreground `runc run` needs a tty.
            rc=0
            rm -rf "$out.d" && mkdir -p "$out.d"
            printf -v cmd 'bats --tap --report-formatter tap -o %q' "$out.d"
            [[ -z $filter ]] || printf -v cmd '%s --filter %q' "$cmd" "$filter"
            printf -v cmd '%s %q' "$cmd" "$name"
            reap_after_last_result "$out.log" "$expected" "$tmp" &
            local reaper=$!
            (cd "$work/tests/integration" &&
                RUNC="$2" TMPDIR="$tmp" BATS_TEST_TIMEOUT="$test_timeout" \
                    timeout -k 10 "$(left)" script -qefc "$cmd" /dev/null) \
                </dev/null >"$out.log" 2>&1 || rc=$?
            kill "$reaper" 2>/dev/null || true
            wait "$reaper" 2>/dev/null || true
            ((rc != 124 && rc != 137)) || echo "# $name: killed by the overall time limit" >>"$out.log"
            cat "$out.d"/*.tap >"$out.tap" 2>/dev/null || : >"$out.tap"
            rm -rf "$out.d"
        fi
        tap_append "$out.tap" "$tap" "$name" "$expected"
        cleanup_bats "$2" "$tmp"
        log "$1 runc-bats $name: $(tap_count "$out.tap")"
    done
    tap_finish "$tap"
}

# A test that fails before its own cleanup leaves the recvtty it started running (update.bats
# starts one outside the helpers), holding bats' output open, and bats never ends. Once the file
# has reported all its results, kill those recvtty processes by the pids their pid files hold.
reap_after_last_result() { # log expected tmpdir
    local n
    while sleep 5; do
        n=$(grep -cE '(not )?ok [0-9]+ ' "$1" 2>/dev/null) || n=${n:-0}
        ((n >= $2)) || continue
        sleep 10
        local f
        for f in "$3"/bats-run-*/runc-tmp-recvtty.*/recvtty.pid "$3"/bats-run-*/runc.*/tty/pid; do
            [[ -f $f ]] && kill -9 "$(<"$f")" 2>/dev/null
        done
        return 0
    done
}

# Deletes containers that a killed test left in the state dirs of runc's helpers.
cleanup_bats() { # bin tmpdir
    local state ct
    for state in "$2"/*/runc.*/state; do
        [[ -d $state ]] || continue
        for ct in $("$1" --root "$state" list -q 2>/dev/null); do
            timeout 60 "$1" --root "$state" delete -f "$ct" >/dev/null 2>&1 || true
        done
    done
    rm -rf "${2:?}"/* 2>/dev/null || true
}

run_crun_suite() { # runtime bin outdir
    local work="$cache/work/$1/crun" skips=""
    rm -rf "$work" && mkdir -p "$work"
    cp -a "$crun_src/tests" "$work/"
    if [[ $1 == vmsandbox && -f $skip_file ]]; then skips="$skip_file"; fi
    if (($(left) <= 5)); then
        echo "1..0" >"$3/crun-suite.tap"
        log "$1 crun-suite: not run, overall time limit reached"
        return 0
    fi
    # From the top of crun's tree, as its make check runs them (some tests call ./tests/init).
    cp "$cache/bin/crun-init" "$work/tests/init"
    (cd "$work" &&
        INIT="$cache/bin/crun-init" OCI_RUNTIME="$root/tests/conformance/crun-cli-shim.sh" \
            CONFORMANCE_RUNTIME="$2" TMPDIR="$work" \
            timeout -k 10 "$(($(left) + 30))" python3 "$root/tests/conformance/crun_runner.py" \
            --tests "$work/tests" --runtime "$2" --state "$scratch/state" \
            --tap "$3/crun-suite.tap" --log "$3/crun-suite.log" ${skips:+--skip "$skips"} \
            ${filter:+--filter "$filter"} --timeout "$test_timeout" --deadline "$deadline") || true
    log "$1 crun-suite: $(tap_count "$3/crun-suite.tap")"
}

# --- main ---------------------------------------------------------------------------------------

ensure_deb_src
ensure_packages
fetch_sources
build_helpers
build_images
log "runc tests from $(basename "$runc_src"), crun tests from $(basename "$crun_src"), cache $cache"

mkdir -p "$results"
# Sockets live under state and temporary directories: keep their paths short (sun_path: 108).
# mktemp makes it 0700; tests in a user namespace (userns.bats) must traverse it as another uid.
scratch=$(mktemp -d /tmp/vmsb-conf.XXXXXX)
chmod 0755 "$scratch"
trap 'rm -rf "$scratch"' EXIT
trap 'exit 130' INT TERM
summary=()
for rt in $runtimes; do
    bin=$(runtime_bin "$rt")
    [[ -x $bin ]] || die "$rt: $bin is not executable (vmsandbox: make build)"
    out="$results/$rt"
    rm -rf "$out" && mkdir -p "$out"
    "$bin" --version >"$out/version.txt" 2>&1 || true
    line="conformance $rt:"
    for suite in $suites; do
        case "$suite" in
            runc) run_runc_bats "$rt" "$bin" "$out"; line+=" runc-bats $(tap_count "$out/runc-bats.tap" | cut -d' ' -f1) passed," ;;
            crun) run_crun_suite "$rt" "$bin" "$out"; line+=" crun-suite $(tap_count "$out/crun-suite.tap" | cut -d' ' -f1) passed," ;;
            *) die "unknown suite $suite (runc, crun)" ;;
        esac
    done
    summary+=("${line%,}")
    {
        echo "${line%,}"
        for suite in $suites; do
            f="$out/$([[ $suite == runc ]] && echo runc-bats || echo crun-suite).tap"
            echo "  $(basename "$f" .tap): $(tap_count "$f")"
        done
    } >"$out/summary.txt"
done

# One section per runtime that has results, from this run or an earlier one.
for rt in $runtimes; do
    sed -i "1i # $(date -u +%FT%TZ) $(basename "$runc_src") $(basename "$crun_src") filter=${filter:-none}" "$results/$rt/summary.txt"
done
cat "$results"/*/summary.txt >"$results/summary.txt"
echo
printf '%s\n' "${summary[@]}"
echo "conformance: TAP results and logs under out/conformance/"
