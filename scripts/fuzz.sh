#!/usr/bin/env bash
# Runs every fuzz target of the module for a short time each (default 5s).
# Usage: scripts/fuzz.sh [DURATION]
#
# Go 1.26's fuzz coordinator can report "context deadline exceeded" at the
# end of a duration-bounded run when a starved worker has not acknowledged
# the stop in time (golang/go#75804, fixed in Go 1.27). That is not a
# finding: a real one writes its reproducer to testdata/fuzz/<target>/. So a
# failed run counts only if it wrote a reproducer or failed for any other
# reason; the known shutdown race is reported and the run goes on.
set -euo pipefail
cd "$(dirname "$0")/.."
dur=${1:-5s}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for pkg in $(go list ./...); do
    dir=$(go list -f '{{.Dir}}' "$pkg")
    for f in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
        echo "-- $pkg $f ($dur)"
        corpus="$dir/testdata/fuzz/$f"
        before=$( (ls "$corpus" 2>/dev/null || true) | sort | md5sum)
        if go test -run '^$' -fuzz "^${f}\$" -fuzztime "$dur" "$pkg" >"$log" 2>&1; then
            continue
        fi
        after=$( (ls "$corpus" 2>/dev/null || true) | sort | md5sum)
        if [ "$before" = "$after" ] && grep -q '^    context deadline exceeded$' "$log" &&
            [ "$(grep -c -- '^--- FAIL' "$log")" = 1 ]; then
            echo "   (fuzz coordinator shutdown race, golang/go#75804: no reproducer written, not a finding)"
            continue
        fi
        cat "$log"
        exit 1
    done
done
