#!/usr/bin/env bash
# Runs the given test projects one after the other and prints one closing line
# "test summary: N passed, N failed, N skipped". Skipped tests are listed with their reason.
# Failed tests are listed with the first line of their message just above that line, so the
# tail of a CI log names them. Counts come from each run's TRX file. Exits non-zero when a test failed or a project did not run.
# TEST_FILTER, when set, is passed to dotnet test as --filter (e.g. 'Runtime!=vmsandbox').
set -uo pipefail

passed=0 failed=0 skipped=0 status=0 failures=""
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT

# One line per failed (or errored) test of a TRX file: "  project: Test.Name: first message line".
failed_tests() {
    awk -v project="$2" '
        function unescape(t) { gsub(/&quot;/, "\"", t); gsub(/&apos;/, "\047", t); gsub(/&lt;/, "<", t); gsub(/&gt;/, ">", t); gsub(/&amp;/, "\\&", t); return t }
        function show() { if (name != "") print "  " project ": " name (msg != "" ? ": " substr(msg, 1, 240) : ""); name = ""; msg = "" }
        /<UnitTestResult / {
            show()
            if ($0 ~ /outcome="(Failed|Error)"/ && match($0, /testName="[^"]*"/)) name = unescape(substr($0, RSTART + 10, RLENGTH - 11))
        }
        name != "" && msg == "" && /<Message>/ {
            line = $0; sub(/.*<Message>/, "", line); sub(/<\/Message>.*/, "", line)
            line = unescape(line); gsub(/^[ \t]+/, "", line); msg = (line == "" ? " " : line)
        }
        END { show() }' "$1"
}

for project in "$@"; do
    name=$(basename "$project")
    echo "== $name"
    dotnet test "$project" -c "${CONFIGURATION:-Release}" --nologo ${TEST_FILTER:+--filter "$TEST_FILTER"} \
        --logger "console;verbosity=normal" --logger "trx;LogFileName=$name.trx" --results-directory "$results" 2>&1 |
        grep -vE '^\s*(Passed |Build started|Test run for|VSTest version|Starting test execution|A total of|Results File:)' || true
    rc=${PIPESTATUS[0]}
    trx=$results/$name.trx
    if [[ ! -f $trx ]]; then
        echo "run-tests: $name produced no results (exit $rc)" >&2
        status=1
        continue
    fi
    counters=$(grep -o '<Counters [^>]*>' "$trx")
    get() { sed -nE "s/.* $1=\"([0-9]+)\".*/\1/p" <<<"$counters"; }
    p=$(get passed) f=$(get failed) e=$(get error) t=$(get total) x=$(get executed)
    s=$((t - x))
    passed=$((passed + p)) failed=$((failed + f + e)) skipped=$((skipped + s))
    if ((s > 0)); then
        echo "skipped in $name:"
        # Each skipped result carries its reason as a StdOut/message; print test name and reason.
        grep -oE 'testName="[^"]+"[^>]*outcome="NotExecuted"' "$trx" | sed -E 's/testName="([^"]+)".*/  \1/'
    fi
    if ((f + e > 0)); then
        failures+=$(failed_tests "$trx" "$name")$'\n'
    fi
    ((rc == 0)) || status=1
done

echo
if [[ -n $failures ]]; then
    echo "failed:"
    printf '%s' "$failures"
fi
echo "test summary: $passed passed, $failed failed, $skipped skipped"
((failed == 0)) || status=1
exit $status
