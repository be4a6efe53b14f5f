#!/usr/bin/env bash
# Instructions per message of libzmq's local_thr (receiver) and remote_thr (sender), under
# callgrind, for one library: each side runs under valgrind in turn, at two message counts, and
# the difference divided by the difference in messages leaves out start-up and tear-down.
#
#   oxmq-ffi/perf/callgrind.sh [oxmq|libzmq] [tcp|ipc] [size]
#
# Needs valgrind and the tools `oxmq-ffi/perf/run.py` builds (target/perf-tools/<library>/bin).
# The figures move little from run to run (a few Ir): use them to compare builds of the same
# library; the wall-clock comparison is run.py's.
set -euo pipefail

library=${1:-oxmq}
transport=${2:-tcp}
size=${3:-64}
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=$root/target/perf-tools/$library/bin
small=200000
large=400000

if [ ! -x "$bin/local_thr" ]; then
    echo "no $bin/local_thr: run oxmq-ffi/perf/run.py once to build the tools" >&2
    exit 1
fi
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

endpoint() {
    if [ "$transport" = tcp ]; then
        echo "tcp://127.0.0.1:$((20000 + RANDOM % 20000))"
    else
        echo "ipc://$work/thr-$RANDOM"
    fi
}

total() { # callgrind output file -> total instructions
    callgrind_annotate "$1" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}'
}

# run <count> <side>: side "receiver" runs local_thr under callgrind, "sender" remote_thr.
run() {
    local count=$1 side=$2 ep
    ep=$(endpoint)
    if [ "$side" = receiver ]; then
        valgrind --tool=callgrind --callgrind-out-file="$work/out" "$bin/local_thr" "$ep" "$size" "$count" >/dev/null 2>&1 &
        local waiter=$!
        sleep 1.5
        "$bin/remote_thr" "$ep" "$size" "$count" >/dev/null 2>&1
        wait "$waiter"
    else
        "$bin/local_thr" "$ep" "$size" "$count" >/dev/null 2>&1 &
        local waiter=$!
        sleep 0.3
        valgrind --tool=callgrind --callgrind-out-file="$work/out" "$bin/remote_thr" "$ep" "$size" "$count" >/dev/null 2>&1
        wait "$waiter"
    fi
    total "$work/out"
}

for side in receiver sender; do
    a=$(run $small $side)
    b=$(run $large $side)
    echo "$library $transport $size B $side: $(( (b - a) / (large - small) )) Ir/msg"
done
