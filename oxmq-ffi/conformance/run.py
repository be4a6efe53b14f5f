#!/usr/bin/env python3
"""Build libzmq 4.3.4's own test suite against a libzmq shared library + zmq.h and run it.

The tests come from the `zeromq-src` crate in the cargo registry (vendor/tests, vendor/external/unity);
nothing of libzmq is committed to this repository. Everything is copied into a build directory
(default: target/conformance under the repository root):

    BUILD/tests/              test_*.cpp and testutil*.{cpp,hpp} copied from libzmq
    BUILD/include/zmq.h       the header under test (and zmq_utils.h if there is one)
    BUILD/src/platform.hpp    written here: the configuration the tests are compiled for
    BUILD/src/stdint.hpp      written here: #include <stdint.h>
    BUILD/external/unity/     Unity, copied from libzmq
    BUILD/obj/                Unity + testutil objects, libtestutil.a
    BUILD/bin/                one executable per test
    BUILD/logs/TEST.log       what a test printed (stdout + stderr), TEST.build.log the compiler's

Tests are compiled in parallel (--jobs, default 2) but run one at a time: they bind fixed ports
(tcp 5555-5558, udp 5559-5560, 5561). Each runs in a fresh temporary working directory, with a time
limit (--timeout, default 20 s; longer for the few tests that take longer with libzmq itself,
see SLOW_TESTS).

Every test_*.cpp gets one row: passed / failed / not built / not applicable, with a reason.
Run with --help for the options; see README.md beside this file.

Standard library only (Python 3.11).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import fnmatch
import glob
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LIBZMQ_VERSION = "4.3.4"

PASSED = "passed"
FAILED = "failed"
NOT_BUILT = "not built"
NOT_APPLICABLE = "not applicable"
RESULTS = (PASSED, FAILED, NOT_BUILT, NOT_APPLICABLE)

TESTUTIL_SOURCES = [
    "testutil.cpp",
    "testutil_monitoring.cpp",
    "testutil_security.cpp",
    "testutil_unity.cpp",
]

# ---------------------------------------------------------------------------------------------
# Which tests apply. This mirrors libzmq 4.3.4's tests/CMakeLists.txt for a Linux build configured
# like the release tarball (no .git, so ENABLE_DRAFTS=OFF, hence ENABLE_WS=OFF), with
# ENABLE_CURVE=OFF (oxmq has no CURVE; --curve turns it on), no TIPC, no VMCI, no GSSAPI, no
# fuzzing engine. A test listed here is "not applicable", with the reason given; any other
# test_*.cpp is built and run.
# ---------------------------------------------------------------------------------------------

# if(ENABLE_DRAFTS) list(APPEND tests ...): they use API that zmq.h declares only under
# ZMQ_BUILD_DRAFT_API, so they do not even compile without it.
DRAFT_TESTS = {
    "test_poller": "zmq_poller_* API",
    "test_thread_safe": "thread-safe CLIENT/SERVER sockets",
    "test_client_server": "CLIENT/SERVER sockets",
    "test_timers": "zmq_timers_* API",
    "test_radio_dish": "RADIO/DISH sockets and udp://",
    "test_scatter_gather": "SCATTER/GATHER sockets",
    "test_dgram": "DGRAM socket (udp://)",
    "test_app_meta": "ZMQ_METADATA application metadata",
    "test_router_notify": "ZMQ_ROUTER_NOTIFY",
    "test_xpub_manual_last_value": "ZMQ_XPUB_MANUAL_LAST_VALUE",
    "test_peer": "PEER socket",
    "test_msg_init": "zmq_msg_init_buffer",
    "test_channel": "CHANNEL socket",
    "test_hello_msg": "ZMQ_HELLO_MSG",
    "test_disconnect_msg": "ZMQ_DISCONNECT_MSG",
}

# if(ZMQ_HAVE_TIPC) (Linux only, and only when the TIPC kernel module answers).
TIPC_TESTS = [
    "test_address_tipc",
    "test_pair_tipc",
    "test_reqrep_device_tipc",
    "test_reqrep_tipc",
    "test_router_mandatory_tipc",
    "test_sub_forward_tipc",
    "test_connect_delay_tipc",
    "test_shutdown_stress_tipc",
    "test_term_endpoint_tipc",
]

# if(WITH_VMCI)
VMCI_TESTS = ["test_pair_vmci", "test_reqrep_vmci"]

# Fuzz targets. Built by Makefile.am only with --with-fuzzing-engine; tests/CMakeLists.txt builds
# some of them on non-Windows, where (without ZMQ_USE_FUZZING_ENGINE) they replay the seed corpus in
# tests/libzmq-fuzz-corpora, which the release does not ship, and exit 77 (ctest: skipped).
FUZZER_EXTRA = {
    "test_bind_curve_fuzzer": "; needs CURVE too",
    "test_connect_curve_fuzzer": "; needs CURVE too",
    "test_z85_decode_fuzzer": "; CMake builds it only with CURVE",
    "test_bind_ws_fuzzer": "; needs the WebSocket transport too",
    "test_connect_ws_fuzzer": "; needs the WebSocket transport too",
    "test_bind_stream_fuzzer": "; only in Makefile.am's fuzzer_apps",
    "test_connect_stream_fuzzer": "; only in Makefile.am's fuzzer_apps",
    "test_socket_options_fuzzer": "; only in Makefile.am's fuzzer_apps",
}

# Tests that exist only for Windows builds: none in 4.3.4 (kept for the logic's sake).
WINDOWS_ONLY_TESTS: dict[str, str] = {}

CAP_NET_ADMIN_BIT = 12


def have_cap_net_admin() -> bool:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("CapEff:"):
                return bool(int(line.split()[1], 16) >> CAP_NET_ADMIN_BIT & 1)
    except OSError:
        pass
    return os.geteuid() == 0


def not_applicable_reason(test: str, cfg: argparse.Namespace) -> str | None:
    """Why `test` is not built in this configuration, or None when it is built and run."""
    if test.endswith("_fuzzer"):
        return (
            "fuzz target: needs a fuzzing engine (ZMQ_USE_FUZZING_ENGINE) or the "
            "libzmq-fuzz-corpora seed corpus, which the release lacks (exits 77 without it)"
            + FUZZER_EXTRA.get(test, "")
        )
    if test in DRAFT_TESTS:
        if cfg.draft:
            return None
        return (
            f"draft API ({DRAFT_TESTS[test]}): CMake builds it only with ENABLE_DRAFTS "
            "(ZMQ_BUILD_DRAFT_API); --draft runs it"
        )
    if test in TIPC_TESTS:
        return "TIPC transport: CMake builds it only if ZMQ_HAVE_TIPC; not in oxmq's scope"
    if test in VMCI_TESTS:
        return "VMware VMCI transport: CMake builds it only WITH_VMCI; not in oxmq's scope"
    if test == "test_ws_transport":
        return "WebSocket transport: CMake builds it only with ENABLE_WS (on only with drafts)"
    if test == "test_wss_transport":
        return "secure WebSocket transport: CMake builds it only with ENABLE_WS and GnuTLS (WSS)"
    if test == "test_security_gssapi":
        return (
            "GSSAPI/Kerberos: needs libgssapi_krb5, a KDC and KRB5_KTNAME keytabs "
            "(upstream builds it and it ignores itself without them); not in oxmq's scope"
        )
    if test == "test_security_curve" and not cfg.curve:
        return "CURVE security: CMake builds it only if ZMQ_HAVE_CURVE; --curve runs it"
    if test == "test_pair_tcp_cap_net_admin" and not have_cap_net_admin():
        return (
            "needs CAP_NET_ADMIN (SO_BINDTODEVICE); CMake runs it only with ENABLE_CAPSH, "
            "through sudo capsh"
        )
    if test in WINDOWS_ONLY_TESTS:
        return "Windows only: " + WINDOWS_ONLY_TESTS[test]
    return None


# ---------------------------------------------------------------------------------------------
# platform.hpp: what libzmq 4.3.4's CMake writes on Linux (builds/cmake/platform.hpp.in, checked
# against a cmake run on Debian 12), minus TIPC, CURVE and the draft API. Only some of these
# change what the tests compile (marked "tests:"); the rest are there so the file reads like the
# real one.
# ---------------------------------------------------------------------------------------------


def platform_hpp(cfg: argparse.Namespace) -> str:
    lines = [
        "// Written by oxmq-ffi/conformance/run.py: the libzmq configuration that libzmq "
        f"{LIBZMQ_VERSION}'s",
        "// test suite is compiled for (libzmq's CMake output on Linux, without TIPC, CURVE and",
        "// the draft API unless asked for).",
        "#ifndef __ZMQ_PLATFORM_HPP_INCLUDED__",
        "#define __ZMQ_PLATFORM_HPP_INCLUDED__",
        "",
        "#define ZMQ_USE_CV_IMPL_STL11",
        "#define ZMQ_IOTHREAD_POLLER_USE_EPOLL",
        "#define ZMQ_IOTHREAD_POLLER_USE_EPOLL_CLOEXEC",
        "#define ZMQ_POLL_BASED_ON_POLL",
        "// Not ZMQ_USE_EPOLL: 4.3 renamed it ZMQ_IOTHREAD_POLLER_USE_EPOLL, CMake never writes it,",
        "// and the code test_ctx_options guards with it does not compile (it uses an undeclared",
        "// `ctx`), so upstream's own build never compiles that check either.",
        "#define ZMQ_CACHELINE_SIZE 64",
        "#define HAVE_FORK",
        "#define HAVE_CLOCK_GETTIME",
        "// tests: testutil makes ipc:// wildcard directories with mkdtemp",
        "#define HAVE_MKDTEMP",
        "// tests: test_iov",
        "#define ZMQ_HAVE_UIO",
        "#define ZMQ_HAVE_NOEXCEPT",
        "#define ZMQ_HAVE_EVENTFD",
        "#define ZMQ_HAVE_EVENTFD_CLOEXEC",
        "#define ZMQ_HAVE_IFADDRS",
        "#define ZMQ_HAVE_SO_BINDTODEVICE",
        "// tests: test_filter_ipc checks ZMQ_IPC_FILTER_UID/GID/PID",
        "#define ZMQ_HAVE_SO_PEERCRED",
        "#define ZMQ_HAVE_O_CLOEXEC",
        "#define ZMQ_HAVE_SOCK_CLOEXEC",
        "#define ZMQ_HAVE_SO_KEEPALIVE",
        "// tests: test_setsockopt (ZMQ_PRIORITY; the option itself is draft in 4.3.4)",
        "#define ZMQ_HAVE_SO_PRIORITY",
        "#define ZMQ_HAVE_TCP_KEEPCNT",
        "#define ZMQ_HAVE_TCP_KEEPIDLE",
        "#define ZMQ_HAVE_TCP_KEEPINTVL",
        "#define ZMQ_HAVE_PTHREAD_SETNAME_2",
        "#define ZMQ_HAVE_PTHREAD_SET_AFFINITY",
        "#define HAVE_ACCEPT4",
        "#define HAVE_STRNLEN",
        "// tests: test_capabilities expects zmq_has(\"ipc\"); testutil and several tests use ipc://",
        "#define ZMQ_HAVE_IPC",
        "#define ZMQ_USE_BUILTIN_SHA1",
        "#define HAVE_IF_NAMETOINDEX",
        "",
        "// Left out on purpose (test_capabilities expects zmq_has() to say no to each):",
        "// ZMQ_HAVE_TIPC, ZMQ_HAVE_VMCI, ZMQ_HAVE_OPENPGM, ZMQ_HAVE_NORM, HAVE_LIBGSSAPI_KRB5,",
        "// and (CMake's default without .git) ZMQ_HAVE_WS, ZMQ_HAVE_WSS.",
    ]
    if cfg.curve:
        lines += [
            "// --curve: CURVE with libzmq's bundled tweetnacl (test_capabilities, test_sodium,",
            "// test_security_curve)",
            "#define ZMQ_HAVE_CURVE",
            "#define ZMQ_USE_TWEETNACL",
        ]
    else:
        lines += ["// ZMQ_HAVE_CURVE: off (--curve turns it on)"]
    if cfg.draft:
        lines += ["// --draft: the draft API (zmq.h declares it only with this)", "#define ZMQ_BUILD_DRAFT_API"]
    else:
        lines += ["// ZMQ_BUILD_DRAFT_API: off (--draft turns it on)"]
    lines += [
        "",
        "#if defined __linux__",
        "#define ZMQ_HAVE_LINUX",
        "#endif",
        "",
        "#endif",
        "",
    ]
    return "\n".join(lines)


STDINT_HPP = "// Written by oxmq-ffi/conformance/run.py.\n#include <stdint.h>\n"


# ---------------------------------------------------------------------------------------------
# Finding things
# ---------------------------------------------------------------------------------------------


class SetupError(Exception):
    pass


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def vendor_dir_of(path: Path) -> Path | None:
    for cand in (path, path / "vendor"):
        if (cand / "tests" / "testutil.hpp").is_file() and (cand / "external" / "unity" / "unity.c").is_file():
            return cand
    return None


def locked_zeromq_src_version() -> str | None:
    try:
        text = (REPO / "Cargo.lock").read_text()
    except OSError:
        return None
    m = re.search(r'name = "zeromq-src"\nversion = "([^"]+)"', text)
    return m.group(1) if m else None


def glob_registry() -> Path | None:
    cargo_home = Path(os.environ.get("CARGO_HOME") or Path.home() / ".cargo")
    locked = locked_zeromq_src_version()
    patterns = []
    if locked:
        patterns.append(f"zeromq-src-{locked}")
    patterns.append(f"zeromq-src-*+{LIBZMQ_VERSION}")
    for pat in patterns:
        hits = sorted(glob.glob(str(cargo_home / "registry" / "src" / "*" / pat)), reverse=True)
        for hit in hits:
            vendor = vendor_dir_of(Path(hit))
            if vendor:
                return vendor
    return None


def find_source(args: argparse.Namespace) -> Path:
    if args.source:
        vendor = vendor_dir_of(Path(args.source).resolve())
        if not vendor:
            raise SetupError(
                f"--source {args.source}: no tests/testutil.hpp and external/unity/unity.c there "
                "(give libzmq's source tree, or the zeromq-src crate's folder)"
            )
        return vendor
    vendor = glob_registry()
    if vendor:
        return vendor
    log("zeromq-src is not in the cargo registry yet: running `cargo fetch` in " + str(REPO))
    rc = subprocess.run(["cargo", "fetch"], cwd=REPO).returncode
    if rc != 0:
        raise SetupError("`cargo fetch` failed; pass --source DIR (libzmq 4.3.4's source tree)")
    vendor = glob_registry()
    if not vendor:
        raise SetupError(
            f"no zeromq-src-*+{LIBZMQ_VERSION}/vendor in the cargo registry even after `cargo fetch`; "
            "pass --source DIR"
        )
    return vendor


@dataclasses.dataclass
class Library:
    path: Path  # the library file itself
    static: bool  # a libzmq.a, linked into each test
    link_args: list[str] = dataclasses.field(default_factory=list)  # set by stage_library
    lib_dir: Path | None = None  # for rpath / LD_LIBRARY_PATH (None for a static archive)


def find_library(spec: str) -> Library:
    path = Path(spec).resolve()
    if path.is_dir():
        for name in ("libzmq.so", "libzmq.so.5", *sorted(p.name for p in path.glob("libzmq.so.5.*"))):
            if (path / name).exists():
                return Library(path / name, static=False)
        hint = ""
        if (path / "libzmq.a").exists():
            hint = f" (there is a libzmq.a: pass --lib {path / 'libzmq.a'} to link it statically)"
        raise SetupError(
            f"--lib {spec}: no libzmq.so or libzmq.so.5 in that directory{hint}; "
            "build it first (cargo build --release -p oxmq-ffi) or point --lib at one"
        )
    if path.is_file():
        if path.name.endswith(".a"):
            return Library(path, static=True)
        if ".so" in path.name:
            return Library(path, static=False)
        raise SetupError(f"--lib {spec}: neither a directory, a .so nor a .a")
    raise SetupError(f"--lib {spec}: no such file or directory")


def soname_of(lib: Path) -> str | None:
    for tool in (["objdump", "-p"], ["readelf", "-d"]):
        try:
            out = subprocess.run(tool + [str(lib)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                 text=True, timeout=30).stdout
        except (OSError, subprocess.SubprocessError):
            continue
        m = re.search(r"SONAME\)?\s+(?:Library soname: \[)?([^\s\]]+)", out)
        if m:
            return m.group(1)
    return None


def stage_library(lib: Library, build: Path) -> None:
    """Link and run against BUILD/lib, which holds symlinks to the library under test.

    The tests link with -lzmq, which needs a file named libzmq.so, and at run time the loader
    looks for the library's SONAME (libzmq.so.5 for libzmq), which a cargo build does not
    necessarily put beside it. Both names point at the file under test; rpath and
    LD_LIBRARY_PATH point at BUILD/lib, so no other libzmq on the machine gets in the way.
    """
    if lib.static:
        lib.link_args = [str(lib.path), "-lpthread"]
        return
    stage = build / "lib"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    names = {"libzmq.so"}
    soname = soname_of(lib.path)
    if soname:
        names.add(soname)
    for name in names:
        (stage / name).symlink_to(lib.path)
    lib.link_args = [f"-L{stage}", "-lzmq", f"-Wl,-rpath,{stage}"]
    lib.lib_dir = stage


# ---------------------------------------------------------------------------------------------
# Building
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Row:
    test: str
    result: str
    reason: str = ""
    seconds: float | None = None
    log: str | None = None
    # The Unity cases that failed, when the test ran to its Unity summary (None otherwise: a
    # crash or a time-out, which no "except" in an --expected file excuses).
    failed_cases: list[str] | None = None


def compiler(env_names: tuple[str, ...], fallbacks: tuple[str, ...]) -> list[str]:
    for name in env_names:
        if os.environ.get(name):
            return shlex.split(os.environ[name])
    for cand in fallbacks:
        if shutil.which(cand):
            return [cand]
    raise SetupError(f"no compiler found (tried ${'/$'.join(env_names)}, {', '.join(fallbacks)})")


def common_flags(build: Path) -> list[str]:
    # What libzmq's CMake gives the tests on Linux (add_definitions at the top level, unity's
    # PUBLIC definitions), plus flushing Unity's output after each test so that a crash does
    # not swallow the results before it. -w: the tests' warnings are not our business.
    return [
        "-g",
        "-O0",
        "-pthread",
        "-w",
        "-D_GNU_SOURCE",
        "-D_REENTRANT",
        "-D_THREAD_SAFE",
        "-DUNITY_USE_COMMAND_LINE_ARGS",
        "-DUNITY_EXCLUDE_FLOAT",
        "-DUNITY_USE_FLUSH_STDOUT",
        f"-I{build / 'external' / 'unity'}",
    ]


def first_error(output: str) -> str:
    """The line that says best why a compile or link failed."""
    lines = [l.strip() for l in output.splitlines() if l.strip()]
    undefined = []
    for l in lines:
        m = re.search(r"undefined reference to [`'](.+?)'", l)
        if m and m.group(1) not in undefined:
            undefined.append(m.group(1))
    if undefined:
        shown = ", ".join(f"`{u}'" for u in undefined[:4])
        more = f" (+{len(undefined) - 4} more)" if len(undefined) > 4 else ""
        return f"undefined reference to {shown}{more}"
    for pat in (r"\berror\b:", r"fatal error", r"\berror\b"):
        for l in lines:
            if re.search(pat, l) and not l.startswith("collect2"):
                # keep "file:line:col: error: ..." but drop the build dir from the path
                return re.sub(r"^\S*/", "", l)
    return lines[-1] if lines else "compiler failed without a message"


def run_compiler(cmd: list[str], log_path: Path, cwd: Path) -> tuple[bool, str]:
    env = dict(os.environ, LC_ALL="C")  # plain ASCII quotes in the messages
    proc = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          errors="replace", env=env)
    log_path.write_text("$ " + shlex.join(cmd) + "\n" + proc.stdout)
    if proc.returncode != 0:
        return False, first_error(proc.stdout)
    return True, ""


MARKER = ".oxmq-conformance"


def claim_build_dir(build: Path) -> None:
    """Refuse to clear out a directory that run.py did not make (say --build-dir /usr)."""
    if build.exists() and any(build.iterdir()) and not (build / MARKER).exists():
        raise SetupError(
            f"--build-dir {build}: exists, is not empty and was not made by run.py "
            f"(no {MARKER} in it); give a new or empty directory"
        )
    build.mkdir(parents=True, exist_ok=True)
    (build / MARKER).write_text("made by oxmq-ffi/conformance/run.py; its subfolders are rewritten on each run\n")


def prepare_tree(vendor: Path, include: Path, build: Path, cfg: argparse.Namespace,
                 tests: list[str]) -> None:
    for sub in ("tests", "include", "src", "external", "obj", "bin"):
        shutil.rmtree(build / sub, ignore_errors=True)
    for sub in ("tests", "include", "src", "obj", "bin", "logs"):
        (build / sub).mkdir(parents=True, exist_ok=True)
    for name in TESTUTIL_SOURCES + sorted(p.name for p in (vendor / "tests").glob("testutil*.hpp")):
        shutil.copy2(vendor / "tests" / name, build / "tests" / name)
    for t in tests:
        shutil.copy2(vendor / "tests" / f"{t}.cpp", build / "tests" / f"{t}.cpp")
    shutil.copytree(vendor / "external" / "unity", build / "external" / "unity")
    for name in ("zmq.h", "zmq_utils.h"):
        if (include / name).is_file():
            shutil.copy2(include / name, build / "include" / name)
    if cfg.curve and "test_security_curve" in tests:
        # test_security_curve includes libzmq internals (tweetnacl.h, curve_client_tools.hpp,
        # random.hpp) and links tweetnacl.c, err.cpp, random.cpp, clock.cpp, as CMake does.
        for p in (vendor / "src").iterdir():
            if p.suffix in (".hpp", ".h", ".c", ".cpp") and p.name not in ("platform.hpp", "stdint.hpp"):
                shutil.copy2(p, build / "src" / p.name)
    (build / "src" / "platform.hpp").write_text(platform_hpp(cfg))
    (build / "src" / "stdint.hpp").write_text(STDINT_HPP)


def build_all(build: Path, lib: Library, cfg: argparse.Namespace, tests: list[str],
              jobs: int) -> dict[str, str]:
    """Compile everything; returns {test: reason} for the tests that did not build."""
    cc = compiler(("CC",), ("cc", "gcc", "clang"))
    cxx = compiler(("CXX",), ("c++", "g++", "clang++"))
    flags = common_flags(build)
    cxxflags = ["-std=gnu++11"] + flags
    logs = build / "logs"
    obj = build / "obj"

    # 1. Unity and testutil, once.
    steps = [("unity", cc + flags + ["-c", str(build / "external/unity/unity.c"), "-o", str(obj / "unity.o")])]
    for src in TESTUTIL_SOURCES:
        o = obj / (Path(src).stem + ".o")
        steps.append((Path(src).stem, cxx + cxxflags + ["-c", src, "-o", str(o)]))
    failures = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futs = {pool.submit(run_compiler, cmd, logs / f"_{name}.build.log", build / "tests"): name
                for name, cmd in steps}
        for fut in concurrent.futures.as_completed(futs):
            ok, why = fut.result()
            if not ok:
                failures.append(f"{futs[fut]}: {why}")
    if failures:
        why = "support code did not build: " + sorted(failures)[0]
        log(why)
        return {t: why for t in tests}
    archive = obj / "libtestutil.a"
    subprocess.run(["ar", "rcs", str(archive)] + [str(obj / (Path(s).stem + ".o")) for s in TESTUTIL_SOURCES]
                   + [str(obj / "unity.o")], check=True)

    # 2. Extra objects for test_security_curve (--curve).
    extra: dict[str, list[str]] = {}
    if cfg.curve and "test_security_curve" in tests:
        objs, errs = [], []
        for src in ("tweetnacl.c", "err.cpp", "random.cpp", "clock.cpp"):
            o = obj / ("zmqsrc_" + Path(src).stem + ".o")
            comp = (cc + flags) if src.endswith(".c") else (cxx + cxxflags)
            ok, why = run_compiler(comp + ["-DZMQ_USE_TWEETNACL", "-c", str(build / "src" / src), "-o", str(o)],
                                   logs / f"_zmqsrc_{Path(src).stem}.build.log", build / "src")
            objs.append(str(o))
            if not ok:
                errs.append(f"{src}: {why}")
        extra["test_security_curve"] = objs if not errs else ["!" + errs[0]]

    # 3. One executable per test.
    def build_one(t: str) -> tuple[str, bool, str]:
        more = extra.get(t, [])
        if more and more[0].startswith("!"):
            return t, False, "libzmq source for the test did not build: " + more[0][1:]
        defs = ["-DZMQ_USE_TWEETNACL"] if t == "test_security_curve" else []
        if t == "test_sodium" and not cfg.curve and has_curve_keys(lib):
            # test_sodium checks the key utilities: without CURVE it expects ENOTSUP from them,
            # with CURVE a key pair. A library that has the utilities without the mechanism
            # (oxmq) is tested for what it has.
            defs = ["-DZMQ_HAVE_CURVE=1"]
        cmd = (cxx + cxxflags + defs + [f"{t}.cpp", "-o", str(build / "bin" / t)] + more
               + [str(archive)] + lib.link_args + ["-lpthread"])
        ok, why = run_compiler(cmd, logs / f"{t}.build.log", build / "tests")
        return t, ok, why

    not_built = {}
    done = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        for fut in concurrent.futures.as_completed([pool.submit(build_one, t) for t in tests]):
            t, ok, why = fut.result()
            done += 1
            if not ok:
                not_built[t] = shorten(why)
            log(f"  built {done}/{len(tests)} {t}" + ("" if ok else f": NOT BUILT: {why}"))
    return not_built


def has_curve_keys(lib: Library) -> bool:
    """Whether the library makes CURVE key pairs (zmq_curve_keypair succeeds)."""
    if lib.static:
        return False
    import ctypes

    try:
        zmq = ctypes.CDLL(str(lib.path))
        public, secret = ctypes.create_string_buffer(41), ctypes.create_string_buffer(41)
        return zmq.zmq_curve_keypair(public, secret) == 0
    except (OSError, AttributeError):
        return False


# ---------------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------------

UNITY_SUMMARY = re.compile(r"(\d+) Tests (\d+) Failures (\d+) Ignored")
UNITY_RESULT = re.compile(r"(?P<loc>[\w./+-]+:\d+):(?P<name>\w+):(?P<kind>PASS|FAIL|IGNORE)(?::\s?(?P<msg>.*))?")
CRASH_HINT = re.compile(r"(Assertion failed.*|assertion .*failed.*|panicked at.*|terminate called.*|"
                        r"thread '.*' panicked.*|fatal runtime error.*|Bad address.*|Invalid argument \(.*)")


def shorten(text: str, limit: int = 240) -> str:
    """One line, absolute paths cut to their last two parts, at most `limit` characters."""
    text = " ".join(text.split())
    text = re.sub(r"(?<![\w.:/])/(?:[^\s/():]+/)+([^\s/():]+/[^\s/():]+)", r"\1", text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def classify(output: str, rc: int | None, timed_out: bool, timeout: float,
             uses_unity: bool = True) -> tuple[str, str]:
    results = [m for m in (UNITY_RESULT.search(l) for l in output.splitlines()) if m]
    fails = [m for m in results if m.group("kind") == "FAIL"]
    ignores = [m for m in results if m.group("kind") == "IGNORE"]
    summary = UNITY_SUMMARY.findall(output)

    def fail_line(m: re.Match) -> str:
        return f"{m.group('loc')}:{m.group('name')}:FAIL" + (f": {m.group('msg')}" if m.group("msg") else "")

    def progress() -> str:
        if not results:
            return "before any test finished"
        return f"after {len(results)} finished test(s), the last {results[-1].group('name')}"

    if timed_out:
        why = f"timed out after {timeout:g} s ({progress()})"
        if fails:
            why += "; first " + fail_line(fails[0])
        return FAILED, why
    if rc is not None and rc < 0:
        try:
            name = signal.Signals(-rc).name
        except ValueError:
            name = f"signal {-rc}"
        if name == "SIGALRM":
            why = f"killed by SIGALRM: the test's own alarm() ran out ({progress()})"
        else:
            why = f"killed by signal {name} ({progress()})"
        hint = CRASH_HINT.search(output)
        if hint:
            why += ": " + hint.group(1)
        elif fails:
            why += "; first " + fail_line(fails[0])
        return FAILED, why
    if rc == 77:
        return NOT_APPLICABLE, "the test skipped itself (exit status 77)"
    if fails:
        return FAILED, fail_line(fails[0])
    if rc != 0:
        tail = [l for l in output.splitlines() if l.strip()]
        return FAILED, f"exit status {rc}" + (f": {tail[-1]}" if tail else "")
    if not summary:
        if not uses_unity:
            # test_proxy_hwm: plain assert()s in main, no UNITY_BEGIN/UNITY_END.
            return PASSED, "exit status 0 (the test does not use Unity)"
        tail = [l for l in output.splitlines() if l.strip()]
        return FAILED, "exit status 0 but no Unity summary" + (f": {tail[-1]}" if tail else "")
    tests_n, failures_n, ignored_n = (int(x) for x in summary[-1])
    if failures_n:
        return FAILED, f"Unity reports {failures_n} failure(s) of {tests_n}"
    if ignored_n:
        why = f"{ignored_n} of {tests_n} ignored"
        if ignores:
            why += f" ({ignores[0].group('name')}" + (f": {ignores[0].group('msg')}" if ignores[0].group("msg") else "") + ")"
        return PASSED, why
    return PASSED, ""


# Tests that take longer than the default limit with libzmq itself (seconds on this machine
# kind, with libzmq 4.3.4): they get this much instead, as upstream's ctest gives them more.
SLOW_TESTS = {
    "test_heartbeats": 90.0,  # 36 s with libzmq
    "test_security_zap": 60.0,  # 22 s with libzmq
    "test_reconnect_ivl": 30.0,
}


def time_limit(test: str, default: float) -> float:
    """The time limit of one test: the default, or more for the known slow ones."""
    return max(default, SLOW_TESTS.get(test, 0.0))


def run_one(t: str, build: Path, lib: Library, timeout: float) -> Row:
    exe = build / "bin" / t
    log_path = build / "logs" / f"{t}.log"
    env = dict(os.environ)
    if lib.lib_dir:
        env["LD_LIBRARY_PATH"] = str(lib.lib_dir) + (":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
    timed_out = False
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"zmqconf-{t[5:25]}-") as cwd, open(log_path, "wb") as out:
        proc = subprocess.Popen([str(exe)], cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, env=env, start_new_session=True)
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(proc.pid, signal.SIGKILL)
            rc = proc.wait()
        # Whatever the test forked and left behind in its session goes too.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    elapsed = time.monotonic() - start
    output = log_path.read_text(errors="replace")
    with open(log_path, "a") as out:
        status = "timed out" if timed_out else (f"signal {-rc}" if rc < 0 else f"exit status {rc}")
        out.write(f"\n# run.py: {status} after {elapsed:.2f} s\n")
    uses_unity = "UNITY_BEGIN" in (build / "tests" / f"{t}.cpp").read_text(errors="replace")
    result, reason = classify(output, rc, timed_out, timeout, uses_unity)
    failed_cases = None
    if not timed_out and rc is not None and rc >= 0 and UNITY_SUMMARY.search(output):
        failed_cases = [m.group("name") for m in (UNITY_RESULT.search(l) for l in output.splitlines())
                        if m and m.group("kind") == "FAIL"]
        if len(failed_cases) > 1:
            reason += f" (failed cases: {', '.join(failed_cases)})"
    return Row(t, result, shorten(reason, 400), round(elapsed, 2), str(log_path), failed_cases)


def resolved_libzmq(exe: Path) -> str | None:
    try:
        out = subprocess.run(["ldd", str(exe)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for line in out.splitlines():
        if "libzmq" in line:
            return line.strip()
    return "no libzmq among its shared libraries (statically linked)"


# ---------------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------------


def totals_line(rows: list[Row]) -> str:
    counts = {r: sum(1 for row in rows if row.result == r) for r in RESULTS}
    return ", ".join(f"{r} {counts[r]}" for r in RESULTS) + f", of {len(rows)}"


def render_table(rows: list[Row], markdown: bool) -> str:
    header = ("test", "result", "reason")
    body = [(r.test, r.result, r.reason) for r in rows]
    if markdown:
        esc = lambda s: s.replace("|", "\\|")
        out = ["| test | result | reason |", "| --- | --- | --- |"]
        out += [f"| {esc(a)} | {esc(b)} | {esc(c)} |" for a, b, c in body]
        return "\n".join(out)
    w0 = max(len(header[0]), *(len(a) for a, _, _ in body)) if body else len(header[0])
    w1 = max(len(header[1]), *(len(b) for _, b, _ in body)) if body else len(header[1])
    out = [f"{header[0]:<{w0}}  {header[1]:<{w1}}  {header[2]}", f"{'-' * w0}  {'-' * w1}  {'-' * 6}"]
    out += [f"{a:<{w0}}  {b:<{w1}}  {c}".rstrip() for a, b, c in body]
    return "\n".join(out)


def read_expected(path: Path) -> dict[str, set[str]]:
    """The tests an --expected file names, each with the Unity cases it may fail.

    A line is a test name, optionally followed by `except CASE...`: the test must then pass,
    or fail only in those cases (having run to its Unity summary); `#` starts a comment."""
    expected: dict[str, set[str]] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if len(words) > 1 and (words[1] != "except" or len(words) == 2):
            raise SetupError(f"{path}:{number}: expected 'TEST' or 'TEST except CASE...'")
        expected[words[0]] = set(words[2:])
    return expected


def meets_expectation(row: Row, excused: set[str]) -> bool:
    """Whether `row` passed, or failed only in the `excused` Unity cases."""
    if row.result == PASSED:
        return True
    return (row.result == FAILED and bool(excused) and row.failed_cases is not None
            and bool(row.failed_cases) and set(row.failed_cases) <= excused)


def fmt_duration(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    return f"{m}m{s:02d}s" if m else f"{s}s"


# ---------------------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Build libzmq 4.3.4's own test suite against a libzmq shared library and "
        "zmq.h, run it, and print one row per test.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="exit status: 0, even when tests fail, unless --expected names a test that did not "
        "pass (1); 2 for a usage or setup error.",
    )
    p.add_argument("--lib", default=str(REPO / "target" / "release"), metavar="PATH",
                   help="directory holding libzmq.so (or libzmq.so.5), or the library file itself; "
                   "a libzmq.a is linked statically (default: target/release)")
    p.add_argument("--include", default=str(REPO / "oxmq-ffi" / "include"), metavar="DIR",
                   help="directory holding the zmq.h to compile the tests with (default: oxmq-ffi/include)")
    p.add_argument("--source", metavar="DIR",
                   help="libzmq 4.3.4 source tree (or the zeromq-src crate's folder); default: found "
                   "in the cargo registry ($CARGO_HOME or ~/.cargo), after `cargo fetch` if need be")
    p.add_argument("--build-dir", default=str(REPO / "target" / "conformance"), metavar="DIR",
                   help="where to copy, build, and log (default: target/conformance)")
    p.add_argument("--only", action="append", default=[], metavar="PATTERN",
                   help="only tests matching this fnmatch pattern (repeatable), e.g. 'test_spec_*'")
    p.add_argument("--timeout", type=float, default=20.0, metavar="SECONDS",
                   help="time limit per test (default: 20; the tests in SLOW_TESTS get more)")
    p.add_argument("--jobs", "-j", type=int, default=2, metavar="N",
                   help="parallel compiler processes (default: 2); tests always run one at a time")
    p.add_argument("--markdown", action="store_true", help="print the table as markdown")
    p.add_argument("--json", metavar="FILE", help="also write the rows to FILE as JSON")
    p.add_argument("--expected", metavar="FILE",
                   help="test names that must pass, one a line (# comments), each optionally followed by "
                        "'except CASE...' (Unity cases it may fail); exit 1 if one did not")
    p.add_argument("--write-expected", metavar="FILE", help="write the names of the passing tests to FILE")
    p.add_argument("--curve", action="store_true",
                   help="configure the tests for a library with CURVE (ZMQ_HAVE_CURVE, tweetnacl)")
    p.add_argument("--draft", action="store_true",
                   help="configure the tests for the draft API (ZMQ_BUILD_DRAFT_API) and run the draft tests")
    p.add_argument("--list", action="store_true",
                   help="only list the tests and which apply; build and run nothing")
    args = p.parse_args(argv)
    if args.jobs < 1:
        p.error("--jobs must be at least 1")
    if args.timeout <= 0:
        p.error("--timeout must be positive")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    wall_start = time.monotonic()
    try:
        vendor = find_source(args)
        all_tests = sorted(p.stem for p in (vendor / "tests").glob("test_*.cpp"))
        selected = [t for t in all_tests if not args.only or any(fnmatch.fnmatch(t, pat) for pat in args.only)]
        if not selected:
            raise SetupError(f"--only {' '.join(args.only)}: no test matches")
        na = {t: not_applicable_reason(t, args) for t in selected}
        to_build = [t for t in selected if na[t] is None]

        if args.list:
            rows = [Row(t, NOT_APPLICABLE if na[t] else "applies", na[t] or "") for t in selected]
            print(render_table(rows, args.markdown))
            print(f"\n{len(to_build)} of {len(selected)} apply (libzmq source: {vendor})")
            return 0

        include = Path(args.include).resolve()
        if not (include / "zmq.h").is_file():
            raise SetupError(f"--include {args.include}: no zmq.h there")
        lib = find_library(args.lib)
        build = Path(args.build_dir).resolve()
        claim_build_dir(build)
        expected = read_expected(Path(args.expected)) if args.expected else None
        if expected is not None:
            unknown = [n for n in expected if n not in all_tests]
            if unknown:
                raise SetupError(f"--expected {args.expected}: not libzmq tests: {', '.join(unknown)}")
    except SetupError as e:
        log(f"run.py: {e}")
        return 2

    log(f"libzmq tests: {vendor / 'tests'}")
    log(f"zmq.h:        {include / 'zmq.h'}")
    log(f"library:      {lib.path}" + (" (static archive)" if lib.static else ""))
    log(f"build dir:    {build}")
    log(f"{len(selected)} tests selected, {len(to_build)} apply; compiling with {args.jobs} job(s)")

    prepare_tree(vendor, include, build, args, to_build)
    stage_library(lib, build)
    build_start = time.monotonic()
    not_built = build_all(build, lib, args, to_build, args.jobs)
    build_secs = time.monotonic() - build_start
    log(f"built {len(to_build) - len(not_built)} of {len(to_build)} in {fmt_duration(build_secs)}")

    runnable = [t for t in to_build if t not in not_built]
    if runnable:
        log("the tests load " + (resolved_libzmq(build / "bin" / runnable[0]) or "(ldd failed)"))

    rows_by_test: dict[str, Row] = {}
    for t in selected:
        if na[t]:
            rows_by_test[t] = Row(t, NOT_APPLICABLE, na[t])
        elif t in not_built:
            rows_by_test[t] = Row(t, NOT_BUILT, not_built[t], log=str(build / "logs" / f"{t}.build.log"))

    run_start = time.monotonic()
    for i, t in enumerate(runnable, 1):
        row = run_one(t, build, lib, time_limit(t, args.timeout))
        rows_by_test[t] = row
        log(f"  [{i}/{len(runnable)}] {t}: {row.result} ({row.seconds:.1f} s)" + (f" {row.reason}" if row.reason else ""))
    run_secs = time.monotonic() - run_start

    rows = [rows_by_test[t] for t in selected]
    print(render_table(rows, args.markdown))
    print()
    print(totals_line(rows))
    wall = time.monotonic() - wall_start
    print(f"wall time {fmt_duration(wall)} (build {fmt_duration(build_secs)}, run {fmt_duration(run_secs)}); "
          f"logs in {build / 'logs'}")
    slow = sorted((r for r in rows if r.seconds is not None and r.seconds >= 10), key=lambda r: -r.seconds)
    if slow:
        print("slowest: " + ", ".join(f"{r.test} {r.seconds:.0f} s" for r in slow[:8]))

    if args.json:
        Path(args.json).write_text(json.dumps([dataclasses.asdict(r) for r in rows], indent=2) + "\n")
    if args.write_expected:
        passing = sorted(r.test for r in rows if r.result == PASSED)
        Path(args.write_expected).write_text(
            "# libzmq 4.3.4 tests that must pass (written by oxmq-ffi/conformance/run.py "
            "--write-expected)\n" + "".join(f"{t}\n" for t in passing))
    if expected is not None:
        missing = [n for n in expected if n not in rows_by_test]
        if missing:
            shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
            print(f"--expected: {len(missing)} listed test(s) not selected by --only: {shown}")
        bad = [rows_by_test[n] for n, excused in expected.items()
               if n in rows_by_test and not meets_expectation(rows_by_test[n], excused)]
        if bad:
            print(f"--expected: {len(bad)} test(s) that must pass did not:")
            for r in bad:
                print(f"  {r.test}: {r.result}" + (f": {r.reason}" if r.reason else ""))
            return 1
        excused = [f"{n} ({', '.join(sorted(rows_by_test[n].failed_cases or []))})"
                   for n in expected if n in rows_by_test and rows_by_test[n].result != PASSED]
        print(f"--expected: all {len(expected) - len(missing)} expected tests passed"
              + (f", but for the excused cases that failed: {'; '.join(excused)}" if excused else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
