#!/usr/bin/env bash
# Builds oxmq's libzmq.so and installs it where programs built for libzmq find it:
#   PREFIX/lib/libzmq.so.5.2.5, with the links libzmq.so.5 and libzmq.so
#   PREFIX/include/zmq.h, zmq_utils.h
#   PREFIX/lib/pkgconfig/libzmq.pc
# Usage: oxmq-ffi/install.sh [--prefix DIR] [--no-build]   (default prefix /usr/local)
set -euo pipefail

prefix=/usr/local
build=1
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) prefix="$2"; shift 2 ;;
        --prefix=*) prefix="${1#--prefix=}"; shift ;;
        --no-build) build=0; shift ;;
        *) echo "usage: $0 [--prefix DIR] [--no-build]" >&2; exit 2 ;;
    esac
done

here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
target="${CARGO_TARGET_DIR:-$root/target}"
if [ "$build" = 1 ]; then
    (cd "$root" && cargo build --release -p oxmq-ffi)
fi

# libzmq 4.3.5 installs libzmq.so.5.2.5; the same name keeps package managers' links working.
install -d "$prefix/lib/pkgconfig" "$prefix/include"
install -m 755 "$target/release/libzmq.so" "$prefix/lib/libzmq.so.5.2.5"
ln -sf libzmq.so.5.2.5 "$prefix/lib/libzmq.so.5"
ln -sf libzmq.so.5 "$prefix/lib/libzmq.so"
install -m 644 "$here/include/zmq.h" "$here/include/zmq_utils.h" "$prefix/include/"
sed "s|@PREFIX@|$prefix|" "$here/libzmq.pc.in" > "$prefix/lib/pkgconfig/libzmq.pc"
echo "installed oxmq's libzmq into $prefix"
