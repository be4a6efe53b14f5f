#!/usr/bin/env bash
# Instructions per message of oxmq's hot paths, counted by callgrind: a figure that a noisy
# machine cannot move, for CI to hold steady (the wall-clock comparisons are vs-libzmq's).
#
#   oxmq-bench/instructions.sh                      print the figures
#   oxmq-bench/instructions.sh --write FILE         print them and write them to FILE
#   oxmq-bench/instructions.sh --check FILE         fail when one grew more than 10 % past FILE's
#
# Each workload is `vs-libzmq --library oxmq --pattern push-pull` at 64 B, sender and receiver
# in one process, so callgrind counts both sides (and their I/O threads). It runs at two message
# counts; the difference divided by the difference in messages leaves out start-up and
# tear-down. Valgrind runs one thread at a time, so the batches repeat from run to run, except
# where the interleaving of the threads decides whether a fast sender starts writing its own
# stream (tcp: 831-962 instructions per message over single pairs of runs): each figure is the
# median of three pairs.
# Needs valgrind, and `cargo build --release -p oxmq-bench` (or VS_LIBZMQ=path).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bench=${VS_LIBZMQ:-${CARGO_TARGET_DIR:-$root/target}/release/vs-libzmq}
limit_percent=10
small=100000
large=300000
workloads=("push-pull inproc 64" "push-pull tcp 64")

mode=print
file=
case "${1:-}" in
    --write | --check)
        mode=${1#--}
        file=${2:?"$1 needs a file"}
        ;;
    "") ;;
    *)
        echo "usage: $0 [--write FILE | --check FILE]" >&2
        exit 2
        ;;
esac

command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 1; }
[ -x "$bench" ] || { echo "no $bench: cargo build --release -p oxmq-bench" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# instructions <pattern> <transport> <size> <count>: the whole run's instructions.
instructions() {
    valgrind --tool=callgrind --callgrind-out-file="$work/out" "$bench" --library oxmq \
        --pattern "$1" --transport "$2" --size "$3" --count "$4" --reps 1 >/dev/null 2>"$work/err" || {
        cat "$work/err" >&2
        return 1
    }
    callgrind_annotate "$work/out" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }'
}

results=()
for workload in "${workloads[@]}"; do
    read -r pattern transport size <<<"$workload"
    pers=()
    for _ in 1 2 3; do
        a=$(instructions "$pattern" "$transport" "$size" "$small")
        b=$(instructions "$pattern" "$transport" "$size" "$large")
        pers+=($(((b - a) / (large - small))))
    done
    per=$(printf '%s\n' "${pers[@]}" | sort -n | sed -n 2p)
    results+=("$pattern $transport $size $per")
    echo "$pattern $transport $size B: $per instructions per message (median of ${pers[*]})"
done

case $mode in
    write)
        {
            echo "# Instructions per message (sender and receiver), from oxmq-bench/instructions.sh."
            echo "# CI fails when one grows more than $limit_percent % past this; rewrite with --write."
            echo "# pattern transport size instructions"
            printf '%s\n' "${results[@]}"
        } >"$file"
        echo "wrote $file"
        ;;
    check)
        failed=0
        for result in "${results[@]}"; do
            read -r pattern transport size per <<<"$result"
            kept=$(awk -v p="$pattern" -v t="$transport" -v s="$size" \
                '$1 == p && $2 == t && $3 == s { print $4 }' "$file")
            if [ -z "$kept" ]; then
                echo "$pattern $transport $size B: not in $file" >&2
                failed=1
                continue
            fi
            if ((per * 100 > kept * (100 + limit_percent))); then
                echo "$pattern $transport $size B: $per instructions per message, more than $limit_percent % over the $kept kept in $file" >&2
                failed=1
            else
                echo "$pattern $transport $size B: $per against $kept kept: within $limit_percent %"
            fi
        done
        exit $failed
        ;;
esac
