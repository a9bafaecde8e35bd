#!/usr/bin/env python3
"""Runs crun's Python test suite (tests/test_*.py from `apt-get source crun`) one test per process.

crun's own runner runs a whole file in one process; this one lists each file's tests (the
`all_tests` dict each file hands to tests_utils.tests_main), then runs them one by one with
RUN_TESTS=<name> under a timeout, from the top of crun's tree as crun's `make check` does (some
tests call ./tests/init), so that one hung test costs only its own time. After every
test it deletes the containers left in the shim's state root (see crun-cli-shim.sh). It writes
one TAP stream, test ids `<file stem>/<name>` (e.g. `test_exec/exec_env`), and a log with each
test's output.

    crun_runner.py --tests DIR --runtime BIN --state DIR --tap FILE --log FILE
                   [--skip FILE] [--filter REGEX] [--timeout S] [--deadline EPOCH]
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

LIST_TESTS = (
    "import os, sys, runpy\n"
    "sys.path.insert(0, os.path.dirname(os.path.abspath(sys.argv[1])))\n"
    "import tests_utils\n"
    "tests_utils.tests_main = lambda t: print('\\n'.join(t))\n"
    "sys.argv = [sys.argv[1]]\n"
    "runpy.run_path(sys.argv[0], run_name='__main__')\n"
)


def read_skips(path):
    """skip file lines `suite | file | test | reason`; returns {(file, test): reason} for crun."""
    skips = {}
    if not path:
        return skips
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = [p.strip() for p in line.split("|", 3)]
            if len(parts) == 4 and parts[0] == "crun":
                skips[(parts[1], parts[2])] = parts[3]
    return skips


def list_tests(tests_dir, path):
    out = subprocess.run([sys.executable, "-c", LIST_TESTS, os.path.join("tests", path)],
                         cwd=os.path.dirname(tests_dir),
                         capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise RuntimeError("list tests of %s: %s" % (path, out.stderr.strip()[-300:]))
    names = [n for n in out.stdout.split("\n") if n]
    # A file that cannot run here (test_mounts.py without python3-libmount) prints "1..0".
    return [] if names == ["1..0"] else names


# crun's test_delete freezes the container in this cgroup v1 freezer group to check that
# `delete -f` still works, and leaves it frozen (and undeletable) when that fails.
FROZEN = "/sys/fs/cgroup/freezer/frozen"


def thaw_frozen():
    try:
        with open(os.path.join(FROZEN, "freezer.state"), "w") as f:
            f.write("THAWED")
    except OSError:
        pass


def cleanup(runtime, state):
    """Delete every container the test left in the shim's state root."""
    if os.path.isdir(FROZEN):
        thaw_frozen()
    if not os.path.isdir(state):
        return
    try:
        out = subprocess.run([runtime, "--root", state, "list", "--format", "json"],
                             capture_output=True, text=True, timeout=60)
        ids = [c["id"] for c in json.loads(out.stdout or "null") or []]
    except (subprocess.SubprocessError, ValueError, KeyError, TypeError):
        ids = [d for d in os.listdir(state) if os.path.isdir(os.path.join(state, d))]
    for cid in ids:
        try:
            subprocess.run([runtime, "--root", state, "delete", "--force", cid],
                           capture_output=True, timeout=60)
        except subprocess.SubprocessError:
            pass
    shutil.rmtree(state, ignore_errors=True)
    if os.path.isdir(FROZEN):
        try:
            os.rmdir(FROZEN)
        except OSError as e:
            print("crun-runner: cannot remove %s: %s" % (FROZEN, e), file=sys.stderr)


def run_one(tests_dir, path, name, env, timeout):
    """Returns (result, detail, output): result is ok, not ok or skip."""
    env = dict(env, RUN_TESTS=name)
    proc = subprocess.Popen([sys.executable, os.path.join("tests", path)],
                            cwd=os.path.dirname(tests_dir), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        return "not ok", "timeout after %ds" % timeout, out.decode(errors="replace")
    text = out.decode(errors="replace")
    for line in text.split("\n"):
        m = re.match(r"^(not ok|ok) \d+ - (.*?)( #SKIP)?$", line)
        if m and m.group(2) == name:
            if m.group(3):
                return "skip", "skipped by the test", text
            return m.group(1), "", text
    return "not ok", "no result (exit %d)" % proc.returncode, text


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tests", required=True, help="the tests/ directory of crun's tree")
    ap.add_argument("--runtime", required=True, help="the real runtime, for cleanup")
    ap.add_argument("--state", required=True)
    ap.add_argument("--tap", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--skip")
    ap.add_argument("--filter")
    ap.add_argument("--timeout", type=int, default=120)
    ap.add_argument("--deadline", type=float, default=0)
    a = ap.parse_args()

    skips = read_skips(a.skip)
    used_skips = set()
    flt = re.compile(a.filter) if a.filter else None
    env = dict(os.environ, CONFORMANCE_STATE=a.state)

    plan = []
    for path in sorted(f for f in os.listdir(a.tests) if re.match(r"test_.*\.py$", f)):
        try:
            names = list_tests(a.tests, path)
        except (RuntimeError, subprocess.SubprocessError) as e:
            print("crun-runner: %s" % e, file=sys.stderr)
            names = ["(list tests)"]
        if not names:
            print("crun-runner: %s has no tests to run here (it printed 1..0)" % path, file=sys.stderr)
        for name in names:
            tid = "%s/%s" % (path[:-3], name)
            if flt is None or flt.search(tid):
                plan.append((path, name, tid))

    with open(a.tap, "w") as tap, open(a.log, "w") as log:
        tap.write("1..%d\n" % len(plan))
        for n, (path, name, tid) in enumerate(plan, 1):
            reason = skips.get((path, name)) or skips.get((path, "*"))
            if reason:
                used_skips.add((path, name) if (path, name) in skips else (path, "*"))
                tap.write("ok %d %s # skip %s\n" % (n, tid, reason))
                continue
            left = a.deadline - time.time() if a.deadline else a.timeout
            if left <= 1 or name == "(list tests)":
                why = "not run: overall time limit reached" if left <= 1 else "could not list tests"
                tap.write("not ok %d %s # %s\n" % (n, tid, why))
                continue
            started = time.time()
            result, detail, output = run_one(a.tests, path, name, env, int(min(a.timeout, left)))
            cleanup(a.runtime, a.state)
            log.write("=== %s: %s %s (%.1fs)\n%s\n" % (tid, result, detail, time.time() - started, output))
            log.flush()
            if result == "skip":
                tap.write("ok %d %s # skip %s\n" % (n, tid, detail))
            else:
                tap.write("%s %d %s%s\n" % (result, n, tid, " # " + detail if detail else ""))
            tap.flush()
    for key in sorted(set(skips) - used_skips):
        if flt is None:
            print("crun-runner: skip entry matches no test: %s | %s" % key, file=sys.stderr)


if __name__ == "__main__":
    main()
