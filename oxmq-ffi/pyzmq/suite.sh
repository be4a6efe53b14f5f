#!/usr/bin/env bash
# pyzmq 27.3.0's own test suite (the tests/ folder of its sdist) on
#   oxmq:   pyzmq built from its sdist against oxmq's libzmq.so (installed from target/release), and
#   libzmq: the official pyzmq 27.3.0 wheel from PyPI, which bundles libzmq 4.3.5,
# with the same test files, options and test dependencies (test-requirements.txt plus gevent and
# pytest-timeout, pinned by suite-constraints.txt). Then compares them (compare.py).
#
# Usage (from anywhere; needs `cargo build --release -p oxmq-ffi` first):
#   oxmq-ffi/pyzmq/suite.sh [oxmq|libzmq|both] [--only FILE...]
# Results: target/pyzmq-suite/results-{oxmq,libzmq}/ (junit/*.xml, logs/*.log, crashes.tsv) and
# target/pyzmq-suite/compare.md.
#
# Each test file runs in a pytest process of its own, so a crash or a hang costs one file, not the
# run. Per test, pytest-timeout (--timeout=60) and pyzmq's own BaseZMQTestCase (alarm(60)) raise in
# the test from a SIGALRM handler, which needs the blocking libzmq call to return EINTR; a hang that a
# signal cannot interrupt is ended by an outer 5-minute timeout per file, with SIGABRT so that
# faulthandler (-X faulthandler) writes the Python stacks into the file's log. A file whose pytest
# process did not end normally (a signal, the outer timeout, an internal error) is then run again one
# test per process (outer timeout 2 minutes each), to find the test that crashes or hangs and still
# count the others; those are listed in crashes.tsv (exit status 124: hung).
set -euo pipefail

PYZMQ_VERSION=27.3.0
PER_TEST_TIMEOUT=60
PER_FILE_TIMEOUT=300

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$(dirname "$here")")"
target="${CARGO_TARGET_DIR:-$root/target}"
mkdir -p "$target"
target="$(cd "$target" && pwd)"
work="$target/pyzmq-suite"
prefix="$work/prefix"
python="${PYTHON:-python3}"
constraints="$here/suite-constraints.txt"

which="${1:-both}"
[ $# -gt 0 ] && shift
only=()
if [ "${1:-}" = "--only" ]; then shift; only=("$@"); fi
case "$which" in oxmq|libzmq|both) ;; *) echo "usage: $0 [oxmq|libzmq|both] [--only FILE...]" >&2; exit 2 ;; esac

step() { echo "== pyzmq suite: $*"; }
mkdir -p "$work"

# The sdist, and a copy of it to run the tests from, without its zmq/ source package (which would
# shadow the installed one).
sdist="$target/pyzmq-sdist/pyzmq-$PYZMQ_VERSION.tar.gz"
if [ ! -f "$sdist" ]; then
    step "downloading pyzmq $PYZMQ_VERSION's sdist"
    "$python" -m pip download -q "pyzmq==$PYZMQ_VERSION" --no-binary pyzmq --no-deps -d "$target/pyzmq-sdist"
fi
src="$work/src"
rm -rf "$src"
mkdir -p "$src"
tar xzf "$sdist" -C "$src" --strip-components=1
rm -rf "$src/zmq"

install_test_deps() {
    "$1/bin/python" -m pip install -q -c "$constraints" -r "$src/test-requirements.txt" gevent pytest-timeout
}

setup_prefix() {
    [ -f "$target/release/libzmq.so" ] || { echo "build first: cargo build --release -p oxmq-ffi" >&2; exit 1; }
    step "installing oxmq's libzmq into $prefix"
    "$root/oxmq-ffi/install.sh" --prefix "$prefix" --no-build
}

setup_oxmq() {
    local venv="$work/venv-oxmq"
    if [ ! -f "$venv/.built" ]; then
        step "building pyzmq $PYZMQ_VERSION from its sdist against $prefix (venv $venv)"
        rm -rf "$venv"
        "$python" -m venv "$venv"
        ZMQ_PREFIX="$prefix" PYZMQ_NO_BUNDLE=1 CMAKE_BUILD_PARALLEL_LEVEL=1 \
            "$venv/bin/python" -m pip install -q --no-cache-dir --no-deps "$sdist"
        touch "$venv/.built"
    fi
    install_test_deps "$venv"
    local mod
    mod="$(find "$venv/lib" -path '*/site-packages/zmq/backend/cython/_zmq*.so')"
    if [ "$(readlink -f "$(env -u LD_LIBRARY_PATH ldd "$mod" | awk '$1 == "libzmq.so.5" {print $3}')")" \
        != "$(readlink -f "$prefix/lib/libzmq.so.5")" ]; then
        echo "$mod does not link $prefix/lib/libzmq.so.5" >&2
        exit 1
    fi
}

setup_libzmq() {
    local venv="$work/venv-libzmq"
    if [ ! -f "$venv/.built" ]; then
        step "installing the pyzmq $PYZMQ_VERSION wheel (bundled libzmq 4.3.5) in $venv"
        rm -rf "$venv"
        "$python" -m venv "$venv"
        "$venv/bin/python" -m pip install -q --only-binary pyzmq "pyzmq==$PYZMQ_VERSION"
        touch "$venv/.built"
    fi
    install_test_deps "$venv"
}

# run_suite NAME: every test file of tests/ (or the --only ones) in a pytest process of its own.
run_suite() {
    local name="$1" venv="$work/venv-$1" out="$work/results-$1" f base rc id i
    local pytest=("$venv/bin/python" -X faulthandler -m pytest -p no:cacheprovider -rA
        "--timeout=$PER_TEST_TIMEOUT")
    rm -rf "$out"
    mkdir -p "$out/junit" "$out/logs"
    : > "$out/crashes.tsv"
    "$venv/bin/python" -c 'import zmq; print("pyzmq", zmq.pyzmq_version(), "libzmq", zmq.zmq_version(), zmq.backend.cython._zmq.__file__)' \
        | tee "$out/version.txt"
    local files=()
    if [ ${#only[@]} -gt 0 ]; then files=("${only[@]}"); else
        for f in "$src"/tests/test_*.py; do files+=("tests/$(basename "$f")"); done
    fi
    cd "$src"
    local t0=$SECONDS
    for f in "${files[@]}"; do
        base="$(basename "$f" .py)"
        rc=0
        timeout -s ABRT -k 10 "$PER_FILE_TIMEOUT" "${pytest[@]}" --junitxml="$out/junit/$base.xml" "$f" \
            > "$out/logs/$base.log" 2>&1 || rc=$?
        echo "$name $f: rc=$rc $(tail -n 1 "$out/logs/$base.log")"
        case "$rc" in 0|1|5) continue ;; esac
        # The file's process crashed or hung: one process per test.
        rm -f "$out/junit/$base.xml"
        echo "$name $f: rc=$rc, running its tests one per process"
        i=0
        while IFS= read -r id; do
            case "$id" in *::*) ;; *) continue ;; esac
            i=$((i + 1))
            rc=0
            timeout -s ABRT -k 10 $((PER_TEST_TIMEOUT * 2)) "${pytest[@]}" --junitxml="$out/junit/$base.$i.xml" "$id" \
                > "$out/logs/$base.$i.log" 2>&1 || rc=$?
            case "$rc" in
                0|1|5) ;;
                *) printf '%s\t%s\t%s\n' "$id" "$rc" "$out/logs/$base.$i.log" >> "$out/crashes.tsv"
                   rm -f "$out/junit/$base.$i.xml"
                   echo "$name $id: rc=$rc (crash or hang)" ;;
            esac
        done < <("$venv/bin/python" -m pytest -p no:cacheprovider --collect-only -q "$f" 2>/dev/null)
    done
    echo "$name: $((SECONDS - t0)) s"
    cd - >/dev/null
}

# tests/test_cython.py compiles a Cython extension that includes zmq.h: the wheel ships none, so
# both runs get the prefix's (libzmq 4.3.5's API) on the C include path.
setup_prefix
export C_INCLUDE_PATH="$prefix/include${C_INCLUDE_PATH:+:$C_INCLUDE_PATH}"
if [ "$which" = oxmq ] || [ "$which" = both ]; then setup_oxmq; fi
if [ "$which" = libzmq ] || [ "$which" = both ]; then setup_libzmq; fi
if [ "$which" = libzmq ] || [ "$which" = both ]; then step "running on libzmq (wheel)"; run_suite libzmq; fi
if [ "$which" = oxmq ] || [ "$which" = both ]; then step "running on oxmq"; run_suite oxmq; fi
if [ -d "$work/results-libzmq" ] && [ -d "$work/results-oxmq" ]; then
    "$python" "$here/compare.py" "$work/results-libzmq" "$work/results-oxmq" | tee "$work/compare.md"
fi
