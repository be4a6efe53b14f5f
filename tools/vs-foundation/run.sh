#!/usr/bin/env bash
# Runs the foundation's benchmarks (push-pull and pair-rtt, every transport and size) on the
# foundation (6a56473), on this checkout and on libzmq, interleaved in one process, for each
# thread placement given (default: os one paired split), and prints one table per placement.
#
#   tools/vs-foundation/run.sh [PLACEMENT...]      env: REPS (default 5), TRANSPORT, SIZE, ONLY
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
foundation="$repo/target/vs-foundation/foundation"
if [ ! -d "$foundation" ]; then
    git -C "$repo" worktree prune
    mkdir -p "$(dirname "$foundation")"
    git -C "$repo" worktree add --detach "$foundation" 6a56473 >/dev/null
    # Two packages named oxmq can share a lockfile only with different versions.
    sed -i 's/^version = "0.1.0"/version = "0.0.6"/' "$foundation/Cargo.toml"
    sed -i 's/version = "0.1.0" }/version = "0.0.6" }/' "$foundation/oxmq/Cargo.toml"
fi
# The same dependency versions as the workspace (libzmq included); cargo adds what is missing.
[ -f "$here/Cargo.lock" ] || cp "$repo/Cargo.lock" "$here/Cargo.lock"
cargo build --release --quiet --manifest-path "$here/Cargo.toml" --target-dir "$repo/target/vs-foundation"
placements=("$@")
[ ${#placements[@]} -eq 0 ] && placements=(os one paired split)
for placement in "${placements[@]}"; do
    PLACEMENT="$placement" "$repo/target/vs-foundation/release/vs-foundation"
done
