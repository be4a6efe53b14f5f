#!/usr/bin/env python3
"""libzmq's perf tools, built twice and run side by side: against libzmq and against oxmq.

libzmq ships six small benchmark programs (perf/local_thr.cpp, remote_thr.cpp, local_lat.cpp,
remote_lat.cpp, inproc_thr.cpp, inproc_lat.cpp). This script builds each of them twice from the
same source: once against a real libzmq, once against oxmq's libzmq.so (oxmq-ffi). It then runs
every case (message size x transport) on both, alternating which library goes first in each
repetition, and prints the median of each and their ratio:

    throughput: oxmq / libzmq, higher is better (the bar: at least 1.0)
    latency:    oxmq / libzmq, lower is better  (the bar: at most 1.1)

tcp and ipc cases run the local_* tool and the remote_* tool as two processes, as libzmq's
documentation does; inproc cases run the inproc_* tool, one process with two threads.

The perf tools' sources come from the zeromq-src crate in the cargo registry, found the same way
as by ../conformance/run.py; nothing of libzmq is committed. The reference libzmq is, by default,
libzmq 4.3.4 from that source built with its own CMake in Release mode (needs `cmake`; pass
--libzmq DIR to use another libzmq.so).

Usage:
    cargo build --release -p oxmq-ffi
    python3 oxmq-ffi/perf/run.py [--reps 5] [--sizes 1,64,1024] [--transports tcp,ipc,inproc]
                                 [--count N] [--roundtrips N] [--markdown] [--json FILE]
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
TOOLS = ["local_thr", "remote_thr", "local_lat", "remote_lat", "inproc_thr", "inproc_lat"]


def load_conformance():
    """The conformance runner, for its way of finding libzmq's source and staging a library."""
    spec = importlib.util.spec_from_file_location("conformance", HERE.parent / "conformance" / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["conformance"] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


conformance = load_conformance()


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Building
# ---------------------------------------------------------------------------------------------


def build_reference_libzmq(vendor: Path, build: Path) -> Path:
    """libzmq from `vendor`, built with its CMake in Release mode, once; returns its lib dir."""
    prefix = build / "libzmq-ref"
    lib = prefix / "lib"
    if (lib / "libzmq.so").exists():
        return lib
    if not shutil.which("cmake"):
        raise SystemExit(
            "cmake is needed to build the reference libzmq (apt-get install cmake), "
            "or pass --libzmq DIR with a libzmq.so"
        )
    work = build / "libzmq-cmake"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    log(f"building libzmq from {vendor} with CMake (Release) ...")
    configure = [
        "cmake", str(vendor), f"-DCMAKE_INSTALL_PREFIX={prefix}", "-DCMAKE_BUILD_TYPE=Release",
        "-DBUILD_TESTS=OFF", "-DBUILD_STATIC=OFF", "-DENABLE_CURVE=OFF", "-DWITH_PERF_TOOL=OFF",
        "-DWITH_DOCS=OFF", "-DENABLE_DRAFTS=OFF", "-DZMQ_HAVE_TIPC=OFF",
    ]
    for cmd in (configure, ["cmake", "--build", ".", "-j2"], ["cmake", "--install", "."]):
        done = subprocess.run(cmd, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stdout[-3000:]}")
    for cand in (prefix / "lib", prefix / "lib64"):
        if (cand / "libzmq.so").exists():
            return cand
    raise SystemExit(f"CMake installed no libzmq.so under {prefix}")


@dataclasses.dataclass
class Build:
    name: str  # "libzmq" or "oxmq"
    bin_dir: Path
    lib_dir: Path


def build_tools(name: str, vendor: Path, include: Path, lib_spec: Path, build: Path) -> Build:
    """Compiles the six perf tools against one library (its header, its .so)."""
    tree = build / name
    shutil.rmtree(tree, ignore_errors=True)
    (tree / "perf").mkdir(parents=True)
    (tree / "include").mkdir()
    (tree / "src").mkdir()
    for tool in TOOLS:
        shutil.copy2(vendor / "perf" / f"{tool}.cpp", tree / "perf")
    for header in ("zmq.h", "zmq_utils.h"):
        if (include / header).exists():
            shutil.copy2(include / header, tree / "include")
    cfg = argparse.Namespace(curve=False, draft=False)
    (tree / "src" / "platform.hpp").write_text(conformance.platform_hpp(cfg))
    (tree / "src" / "stdint.hpp").write_text(conformance.STDINT_HPP)
    library = conformance.find_library(str(lib_spec))
    conformance.stage_library(library, tree)
    cxx = conformance.compiler(("CXX",), ("c++", "g++", "clang++"))
    bin_dir = tree / "bin"
    bin_dir.mkdir()
    procs = []
    for tool in TOOLS:
        cmd = cxx + ["-O2", "-std=c++11", f"-I{tree / 'src'}", f"-I{tree / 'include'}",
                     str(tree / "perf" / f"{tool}.cpp"), "-o", str(bin_dir / tool),
                     *library.link_args, "-lpthread"]
        procs.append((tool, subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                             text=True)))
        if len(procs) >= 2:
            wait_compile(*procs.pop(0))
    for tool, proc in procs:
        wait_compile(tool, proc)
    return Build(name, bin_dir, library.lib_dir or bin_dir)


def wait_compile(tool: str, proc: subprocess.Popen) -> None:
    out, _ = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"compiling {tool} failed:\n{out[-3000:]}")


# ---------------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------------

THROUGHPUT = re.compile(r"mean throughput: (\d+) \[msg/s\]")
LATENCY = re.compile(r"average latency: ([\d.]+) \[us\]")


@dataclasses.dataclass(frozen=True)
class Case:
    kind: str  # "thr" or "lat"
    transport: str  # "tcp", "ipc" or "inproc"
    size: int

    def label(self) -> str:
        what = "throughput" if self.kind == "thr" else "latency"
        return f"{what} {self.transport} {self.size} B"


def free_tcp_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RunHung(Exception):
    """A run that did not finish: libzmq 4.3 can lose the tail of an ipc stream when the sender
    closes (libzmq issue 4660), and local_thr then waits for ever for the last messages."""


def run_case(build: Build, case: Case, count: int, roundtrips: int, timeout: float) -> float:
    """Runs one case once; returns msg/s (throughput) or microseconds (latency)."""
    env = dict(os.environ, LD_LIBRARY_PATH=str(build.lib_dir))
    n = str(count if case.kind == "thr" else roundtrips)
    pattern = THROUGHPUT if case.kind == "thr" else LATENCY
    if case.transport == "inproc":
        tool = build.bin_dir / f"inproc_{case.kind}"
        done = subprocess.run([str(tool), str(case.size), n], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=timeout)
        output = done.stdout
    else:
        if case.transport == "tcp":
            endpoint = f"tcp://127.0.0.1:{free_tcp_port()}"
        else:
            endpoint = f"ipc://{tempfile.gettempdir()}/oxmq-perf-{os.getpid()}-{time.monotonic_ns()}.ipc"
        local = subprocess.Popen([str(build.bin_dir / f"local_{case.kind}"), endpoint, str(case.size), n],
                                 env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        time.sleep(0.2)  # let it bind
        # libzmq 4.3 can lose the tail of an ipc stream when the sender closes (libzmq issue
        # 4660): its local_thr then waits for ever. The sender sends 1 % more than the receiver
        # counts (both libraries alike), so that the receiver's count arrives whatever happens
        # to the tail; the receiver times the messages it counts.
        sent = str(count + max(count // 100, 1000)) if case.kind == "thr" else n
        remote = subprocess.Popen([str(build.bin_dir / f"remote_{case.kind}"), endpoint, str(case.size), sent],
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        # The figure comes from local_thr (the receiver) or remote_lat (the requester); the other
        # side may still be sending its extra messages to a peer that is gone (thr), so it is
        # given a moment and then stopped.
        measuring, other = (local, remote) if case.kind == "thr" else (remote, local)
        try:
            output, _ = measuring.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            for proc in (local, remote):
                proc.kill()
                proc.communicate()
            raise RunHung(f"{build.name}: {case.label()} did not finish within {timeout:g} s")
        try:
            other.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            other.kill()
            other.communicate()
    m = pattern.search(output)
    if not m:
        raise SystemExit(f"{build.name}: {case.label()}: no result in its output:\n{output[-2000:]}")
    return float(m.group(1))


@dataclasses.dataclass
class Result:
    case: Case
    libzmq: list[float]
    oxmq: list[float]

    def ratio(self) -> float | None:
        if not self.oxmq or not self.libzmq:
            return None
        return statistics.median(self.oxmq) / statistics.median(self.libzmq)

    def meets_bar(self) -> bool:
        ratio = self.ratio()
        if ratio is None:
            # No libzmq figure (its runs hung): oxmq's own runs must have finished.
            return bool(self.oxmq)
        return ratio >= 1.0 if self.case.kind == "thr" else ratio <= 1.1


def fmt_value(case: Case, values: list[float]) -> str:
    if not values:
        return "hung (no run finished)"
    med = statistics.median(values)
    if case.kind == "thr":
        return f"{med / 1e6:.2f} M ({min(values) / 1e6:.2f}–{max(values) / 1e6:.2f})"
    return f"{med:.1f} ({min(values):.1f}–{max(values):.1f})"


def render(results: list[Result], markdown: bool) -> str:
    header = ["case", "libzmq", "oxmq", "oxmq / libzmq", "bar"]
    rows = []
    for r in results:
        unit = "msg/s" if r.case.kind == "thr" else "µs"
        bar = ("≥ 1.0" if r.case.kind == "thr" else "≤ 1.1") + (" met" if r.meets_bar() else " MISSED")
        ratio = r.ratio()
        rows.append([f"{r.case.label()} ({unit})", fmt_value(r.case, r.libzmq),
                     fmt_value(r.case, r.oxmq), "—" if ratio is None else f"{ratio:.2f}", bar])
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * 3 + ["---"]) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths))]
    out += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in rows]
    return "\n".join(out)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--oxmq", default=str(REPO / "target" / "release"),
                   help="directory with oxmq's libzmq.so (default: target/release)")
    p.add_argument("--libzmq", help="directory with the reference libzmq.so "
                                    "(default: libzmq 4.3.4 built here with CMake)")
    p.add_argument("--source", help="libzmq's source tree (default: the zeromq-src crate)")
    p.add_argument("--build-dir", default=str(REPO / "target" / "perf-tools"))
    p.add_argument("--reps", type=int, default=5, help="repetitions per case and library (default 5)")
    p.add_argument("--sizes", default="1,64,1024", help="message sizes in bytes (default 1,64,1024)")
    p.add_argument("--transports", default="tcp,ipc,inproc")
    p.add_argument("--kinds", default="thr,lat", help="thr, lat or both (default)")
    p.add_argument("--count", type=int, default=1_000_000, help="messages per throughput run")
    p.add_argument("--roundtrips", type=int, default=20_000, help="round trips per latency run")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per run (a run that "
                   "takes longer is killed and run again, up to three times)")
    p.add_argument("--markdown", action="store_true")
    p.add_argument("--json", metavar="FILE")
    args = p.parse_args(argv)

    build = Path(args.build_dir)
    build.mkdir(parents=True, exist_ok=True)
    vendor = conformance.find_source(argparse.Namespace(source=args.source))
    ref_lib = Path(args.libzmq) if args.libzmq else build_reference_libzmq(vendor, build)
    builds = [
        build_tools("libzmq", vendor, vendor / "include", ref_lib, build),
        build_tools("oxmq", vendor, REPO / "oxmq-ffi" / "include", Path(args.oxmq), build),
    ]
    cases = [Case(kind, transport, int(size))
             for kind in args.kinds.split(",")
             for transport in args.transports.split(",")
             for size in args.sizes.split(",")]
    results = []
    hangs: list[str] = []
    for case in cases:
        values: dict[str, list[float]] = {"libzmq": [], "oxmq": []}
        for rep in range(args.reps):
            # Alternate which library goes first, so that neither always runs on a warmer machine.
            order = builds if rep % 2 == 0 else builds[::-1]
            for b in order:
                for attempt in range(1, 4):
                    try:
                        values[b.name].append(
                            run_case(b, case, args.count, args.roundtrips, args.timeout))
                        break
                    except RunHung as hung:
                        hangs.append(str(hung))
                        log(f"{hung} (attempt {attempt} of 3)")
                else:
                    log(f"{b.name}: {case.label()} hung three times in a row: no figure")
        result = Result(case, values["libzmq"], values["oxmq"])
        log(f"{case.label()}: libzmq {fmt_value(case, result.libzmq)}, "
            f"oxmq {fmt_value(case, result.oxmq)}, ratio {result.ratio()}")
        results.append(result)

    print(f"libzmq's perf tools, medians of {args.reps} interleaved runs "
          f"({args.count} messages per throughput run, {args.roundtrips} round trips per latency run)")
    print(render(results, args.markdown))
    met = sum(r.meets_bar() for r in results)
    print(f"\n{met} of {len(results)} rows meet the bar")
    if hangs:
        print(f"\n{len(hangs)} run(s) hung and were run again:")
        for hung in hangs:
            print(f"  {hung}")
    if args.json:
        Path(args.json).write_text(json.dumps([
            {"kind": r.case.kind, "transport": r.case.transport, "size": r.case.size,
             "libzmq": r.libzmq, "oxmq": r.oxmq, "ratio": r.ratio(), "meets_bar": r.meets_bar()}
            for r in results], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
