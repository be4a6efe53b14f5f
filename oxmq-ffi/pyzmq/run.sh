#!/usr/bin/env bash
# pyzmq, built from its source distribution against oxmq's libzmq.so, in CI.
#
# Installs oxmq's libzmq (already built by `cargo build --release -p oxmq-ffi`) into a prefix under
# target/, builds pyzmq's sdist against that prefix in a venv under target/, checks with ldd that the
# extension module resolves libzmq.so.5 into the prefix, then runs test_pyzmq_on_oxmq.py with pytest.
#
# Needs python3 (>= 3.9, with venv and pip), a C compiler, and PyPI (pyzmq's build backend brings
# scikit-build-core, cython and, if the machine has none, cmake).
#
# Cache: the venv keeps the built pyzmq. It is rebuilt only when something it was compiled or linked
# against changes: pyzmq's version, the Python, the prefix, oxmq's zmq.h, or the set of symbols that
# libzmq.so exports. The extension module links libzmq.so.5 by its soname through an RPATH into the
# prefix, so a rebuilt libzmq.so (installed here on every run) is what the tests load either way.
# The tests always run. Set OXMQ_PYZMQ_REBUILD=1 to rebuild regardless.
set -euo pipefail

PYZMQ_VERSION=27.3.0
PYTEST_VERSION=9.2.0
PYTEST_TIMEOUT_VERSION=2.4.0

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$(dirname "$here")")"
target="${CARGO_TARGET_DIR:-$root/target}"
mkdir -p "$target"
target="$(cd "$target" && pwd)"
prefix="$target/pyzmq-prefix"
venv="$target/pyzmq-venv"
sdist_dir="$target/pyzmq-sdist"
python="${PYTHON:-python3}"

step() { echo "== pyzmq on oxmq: $*"; }
fail() { echo "pyzmq on oxmq: FAILED: $*" >&2; exit 1; }

[ -f "$target/release/libzmq.so" ] || fail "$target/release/libzmq.so is missing: run 'cargo build --release -p oxmq-ffi' first"

step "installing oxmq's libzmq into $prefix"
"$root/oxmq-ffi/install.sh" --prefix "$prefix" --no-build

# What the built extension depends on.
lib="$prefix/lib/libzmq.so.5.2.5"
if command -v nm >/dev/null 2>&1; then
    symbols="$(nm -D --defined-only "$lib" | awk '{print $NF}' | sort | sha256sum | cut -d' ' -f1)"
else
    symbols="$(sha256sum "$lib" | cut -d' ' -f1)"
fi
key="pyzmq=$PYZMQ_VERSION pytest=$PYTEST_VERSION python=$("$python" -c 'import sys; print(sys.executable + "-" + sys.version.split()[0])')
prefix=$prefix zmq.h=$(sha256sum "$prefix/include/zmq.h" | cut -d' ' -f1) symbols=$symbols"
stamp="$venv/.oxmq-build-key"

# The extension module(s) of the installed pyzmq that link libzmq, and a check that each resolves
# libzmq.so.5 into the prefix.
check_links() {
    local mods found=0 m resolved
    mods="$(find "$venv/lib" -path '*/site-packages/zmq/*' -name '*.so' 2>/dev/null || true)"
    [ -n "$mods" ] || { echo "no pyzmq extension module under $venv" >&2; return 1; }
    for m in $mods; do
        if ! readelf -d "$m" 2>/dev/null | grep -q 'NEEDED.*libzmq\.so'; then
            continue
        fi
        found=1
        resolved="$(env -u LD_LIBRARY_PATH -u LD_PRELOAD ldd "$m" | awk '$1 == "libzmq.so.5" {print $3}')"
        echo "  $m: libzmq.so.5 => ${resolved:-not found}"
        if [ -z "$resolved" ] || [ ! -e "$resolved" ] \
            || [ "$(readlink -f "$resolved")" != "$(readlink -f "$lib")" ]; then
            echo "$m does not link oxmq's libzmq ($lib)" >&2
            return 1
        fi
    done
    [ "$found" = 1 ] || { echo "no pyzmq extension module links libzmq.so.5 (bundled libzmq?)" >&2; return 1; }
}

if [ "${OXMQ_PYZMQ_REBUILD:-0}" != 1 ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$key" ] \
    && [ -x "$venv/bin/python" ] && check_links >/dev/null 2>&1; then
    step "reusing $venv (pyzmq $PYZMQ_VERSION already built against this libzmq)"
else
    step "creating $venv"
    rm -rf "$venv"
    "$python" -m venv "$venv"
    sdist="$sdist_dir/pyzmq-$PYZMQ_VERSION.tar.gz"
    if [ ! -f "$sdist" ]; then
        step "downloading pyzmq $PYZMQ_VERSION's sdist"
        "$venv/bin/python" -m pip download -q "pyzmq==$PYZMQ_VERSION" --no-binary pyzmq --no-deps -d "$sdist_dir"
    fi
    [ -f "$sdist" ] || fail "pip download gave no $sdist"
    step "building pyzmq $PYZMQ_VERSION from its sdist against $prefix"
    # --no-cache-dir: never install a wheel pip built earlier against some other libzmq.
    # Build with one job (CMAKE_BUILD_PARALLEL_LEVEL): the machine is shared with cargo.
    ZMQ_PREFIX="$prefix" PYZMQ_NO_BUNDLE=1 CMAKE_BUILD_PARALLEL_LEVEL=1 \
        "$venv/bin/python" -m pip install --no-cache-dir --no-deps --force-reinstall "$sdist" \
        > "$venv/pyzmq-build.log" 2>&1 \
        || { tail -n 60 "$venv/pyzmq-build.log" >&2; fail "building pyzmq (log: $venv/pyzmq-build.log)"; }
    "$venv/bin/python" -m pip install -q "pytest==$PYTEST_VERSION" "pytest-timeout==$PYTEST_TIMEOUT_VERSION"
fi

step "checking that pyzmq links oxmq's libzmq"
check_links || fail "pyzmq is not linked against $lib"
rm -f "$stamp"
printf '%s' "$key" > "$stamp"

step "pytest test_pyzmq_on_oxmq.py"
cd "$here"
# Every socket in the tests has send/receive timeouts. pytest-timeout cannot interrupt a call blocked
# in oxmq (no EINTR, see test_signal_interrupts_blocking_recv), so an outer timeout ends a hung run,
# with SIGABRT: faulthandler then prints where each thread was.
OXMQ_PREFIX="$prefix" timeout -s ABRT -k 10 600 "$venv/bin/python" -X faulthandler -m pytest \
    -p no:cacheprovider -v --timeout=60 test_pyzmq_on_oxmq.py
