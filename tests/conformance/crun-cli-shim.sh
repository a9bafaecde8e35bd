#!/usr/bin/env bash
# crun's test suite calls its runtime with crun's command-line dialect; runc and vmsandbox speak
# runc's. This shim, which crun's tests get as OCI_RUNTIME, maps the two crun-only flags they
# pass on every call and runs CONFORMANCE_RUNTIME with everything else unchanged:
#   --cgroup-manager cgroupfs|systemd (global)  -> nothing | --systemd-cgroup
#   --config config.json (create, run)          -> nothing: the bundle is the working directory,
#                                                  as for runc (any other path passes through)
# and keeps every container's state under CONFORMANCE_STATE (in place of the --root a test
# passes, which the suite deletes without deleting its containers) so that the harness can
# delete whatever a test leaves behind.
set -euo pipefail

runtime="${CONFORMANCE_RUNTIME:?crun-cli-shim: CONFORMANCE_RUNTIME is not set}"
state="${CONFORMANCE_STATE:?crun-cli-shim: CONFORMANCE_STATE is not set}"

args=(--root "$state")
# Global options come before the command.
while (($#)); do
    case "$1" in
        --cgroup-manager) [[ ${2:-} == systemd ]] && args+=(--systemd-cgroup); shift 2 ;;
        --cgroup-manager=*) [[ ${1#*=} == systemd ]] && args+=(--systemd-cgroup); shift ;;
        --root) shift 2 ;;
        --root=*) shift ;;
        --*) args+=("$1"); shift ;;
        *) break ;;
    esac
done
(($#)) || exec "$runtime" "${args[@]}"

command="$1"
shift
args+=("$command")
if [[ $command == create || $command == run ]]; then
    while (($#)); do
        case "$1" in
            --config | --config=*)
                if [[ $1 == --config ]]; then config="${2:-}"; shift 2; else config="${1#*=}"; shift; fi
                [[ $config == config.json || $config == ./config.json ]] || args+=(--config "$config")
                ;;
            *) args+=("$1"); shift ;;
        esac
    done
fi
exec "$runtime" "${args[@]}" "$@"
