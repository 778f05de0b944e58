#!/usr/bin/env bash
# The packet path's scale figures from `go test -bench`, measured in
# interleaved rounds so that the VM's drift hits both sides of each ratio
# alike: each round runs, for every pair, the small case and its large
# counterpart back to back (one test process each, the order alternating
# from round to round); the table shows each case's
# median ns/op over the rounds, and each ratio as the median of the
# per-round ratios (a pair measured seconds apart) with its range.
#
#   forward   BenchmarkForward routes=1 vs routes=1000000 (IPv4, 64-byte UDP)    target <= 1.5
#   encap     BenchmarkVXLANEncap endpoints=1 vs endpoints=100000/active=64     target <= 1.1
#   decap     BenchmarkVXLANDecap vnis=1 vs vnis=100000                          target <= 1.1
#
# Usage: bench/pathbench.sh        env: ROUNDS=8  BENCHTIME=1s  RAW=/tmp/bench-raw/pathbench
#        PAIRS="forward encap decap"
# No root needed; nothing else should run on the machine meanwhile.
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
: "${ROUNDS:=8}" "${BENCHTIME:=1s}" "${RAW:=/tmp/bench-raw/pathbench}" "${PAIRS:=forward encap decap}"
command -v go >/dev/null || { echo "missing tools: go" >&2; exit 1; }
mkdir -p "$RAW"

# pair NAME: the benchmark, the small case, the large case (sub-benchmark
# names as go test prints them), the target.
pair() {
    case $1 in
        forward) echo "BenchmarkForward routes=1 routes=1000000 1.5" ;;
        encap) echo "BenchmarkVXLANEncap endpoints=1 endpoints=100000/active=64 1.1" ;;
        decap) echo "BenchmarkVXLANDecap vnis=1 vnis=100000 1.1" ;;
        *) echo "unknown pair $1" >&2; return 1 ;;
    esac
}

bin=$(mktemp -d /tmp/pathbench.XXXXXX)
trap 'rm -rf "$bin"' EXIT
echo "== building the dataplane benchmarks"
(cd "$repo" && go test -c -o "$bin/dataplane.test" ./internal/dataplane) || exit 1

median() { sort -g | awk '{a[NR]=$1} END{ if (NR==0) print "nan"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2 }'; }

: >"$RAW/results.txt"
for r in $(seq 1 "$ROUNDS"); do
    for p in $PAIRS; do
        read -r bench small large _ < <(pair "$p") || exit 2
        # One process per case, the order alternating by round: a case
        # never only runs first (or second) in a pair.
        cases="$small $large"
        [ $((r % 2)) = 0 ] && cases="$large $small"
        for c in $cases; do
            pat="^$bench\$"
            for lvl in ${c//\// }; do pat="$pat/^$lvl\$"; done
            out=$("$bin/dataplane.test" -test.run '^$' -test.bench "$pat" -test.benchtime "$BENCHTIME" 2>&1)
            echo "$out" >"$RAW/$p-$r-${c//\//_}.txt"
            ns=$(echo "$out" | awk -v n="$bench/$c" '$1 ~ "^"n"-[0-9]+$" {print $3}')
            [ -n "$ns" ] || { echo "round $r: $bench/$c did not run:"; echo "$out" | tail -5; exit 1; }
            echo "$p $r $c $ns" >>"$RAW/results.txt"
        done
        printf '  round %d %-8s %s %s ns, %s %s ns\n' "$r" "$p" "$small" \
            "$(awk -v p="$p" -v r="$r" -v c="$small" '$1==p && $2==r && $3==c {print $4}' "$RAW/results.txt")" \
            "$large" "$(awk -v p="$p" -v r="$r" -v c="$large" '$1==p && $2==r && $3==c {print $4}' "$RAW/results.txt")"
    done
done

echo
echo "== packet path: ns per packet, median of $ROUNDS interleaved rounds ($(uname -r), $(nproc) CPUs, $(date -u +%FT%TZ))"
printf '%-8s %-26s %10s %-28s %10s %10s %14s %8s\n' pair small "ns/op" large "ns/op" ratio "range" target
for p in $PAIRS; do
    read -r bench small large target < <(pair "$p")
    ms=$(awk -v p="$p" -v c="$small" '$1==p && $3==c {print $4}' "$RAW/results.txt" | median)
    ml=$(awk -v p="$p" -v c="$large" '$1==p && $3==c {print $4}' "$RAW/results.txt" | median)
    ratios=$(awk -v p="$p" -v s="$small" -v l="$large" '$1==p && $3==s {a[$2]=$4} $1==p && $3==l {b[$2]=$4}
        END {for (r in a) if (r in b) printf "%.3f\n", b[r]/a[r]}' "$RAW/results.txt")
    rm=$(echo "$ratios" | median)
    lo=$(echo "$ratios" | sort -g | head -1) hi=$(echo "$ratios" | sort -g | tail -1)
    printf '%-8s %-26s %10s %-28s %10s %10.3f %14s %8s\n' "$p" "$small" "$ms" "$large" "$ml" "$rm" "$lo-$hi" "<= $target"
done
echo "raw go test output per round: $RAW"
