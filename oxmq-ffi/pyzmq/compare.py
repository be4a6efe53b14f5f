"""Compares two runs of pyzmq's test suite made by suite.sh: counts, and the tests whose outcome differs.

Usage: python3 compare.py RESULTS_A RESULTS_B   (directories with junit/*.xml and crashes.tsv)
Prints markdown. A test's outcome is one of passed, failed, error, skipped, xfailed, crashed (its
pytest process died, or hung until suite.sh's outer timeout killed it: see crashes.tsv).
"""

import os
import sys
import xml.etree.ElementTree as ET

ORDER = ["passed", "failed", "error", "skipped", "xfailed", "crashed"]
SEVERITY = {"passed": 0, "skipped": 1, "xfailed": 1, "error": 2, "failed": 3, "crashed": 4}


def test_id(case):
    cls = case.get("classname", "")
    name = case.get("name", "")
    parts = cls.split(".")
    # "tests.test_socket.TestSocket" -> tests/test_socket.py::TestSocket
    for i in range(len(parts), 0, -1):
        if parts[i - 1].startswith("test_"):
            path = "/".join(parts[:i]) + ".py"
            rest = parts[i:]
            return "::".join([path, *rest, name])
    return f"{cls}::{name}"


def load(d):
    results = {}  # id -> (outcome, message)
    jdir = os.path.join(d, "junit")
    for fn in sorted(os.listdir(jdir)):
        if not fn.endswith(".xml"):
            continue
        root = ET.parse(os.path.join(jdir, fn)).getroot()
        for case in root.iter("testcase"):
            tid = test_id(case)
            outcome, msg = "passed", ""
            for child in case:
                if child.tag == "failure":
                    outcome, msg = "failed", child.get("message", "")
                    break
                if child.tag == "error" and outcome == "passed":
                    outcome, msg = "error", child.get("message", "")
                if child.tag == "skipped" and outcome == "passed":
                    kind = "xfailed" if child.get("type") == "pytest.xfail" else "skipped"
                    outcome, msg = kind, child.get("message", "")
            prev = results.get(tid)
            # a test with a failure and a teardown error appears twice: keep the worse
            if prev is None or SEVERITY[outcome] > SEVERITY[prev[0]]:
                results[tid] = (outcome, msg)
    crashes = os.path.join(d, "crashes.tsv")
    if os.path.exists(crashes):
        for line in open(crashes):
            tid, rc, log = line.rstrip("\n").split("\t")
            why = "hung: killed by the outer timeout" if rc == "124" else f"exit status {rc}"
            results[tid] = ("crashed", f"pytest process {why} ({log})")
    return results


def short(msg, n=160):
    msg = " ".join(msg.split())
    return msg if len(msg) <= n else msg[: n - 3] + "..."


def main():
    a_dir, b_dir = sys.argv[1:3]
    a, b = load(a_dir), load(b_dir)
    an, bn = os.path.basename(a_dir).replace("results-", ""), os.path.basename(b_dir).replace("results-", "")
    print(f"| outcome | {an} | {bn} |\n| --- | --- | --- |")
    for o in ORDER:
        ca = sum(1 for v in a.values() if v[0] == o)
        cb = sum(1 for v in b.values() if v[0] == o)
        print(f"| {o} | {ca} | {cb} |")
    print(f"| total | {len(a)} | {len(b)} |\n")
    worse = sorted(t for t in a if a[t][0] == "passed" and b.get(t, ("missing",))[0] != "passed")
    print(f"### Passed on {an}, not on {bn} ({len(worse)})\n")
    for t in worse:
        o, m = b.get(t, ("missing", ""))
        print(f"- `{t}`: {o}: {short(m)}")
    better = sorted(t for t in b if b[t][0] == "passed" and a.get(t, ("missing",))[0] != "passed")
    print(f"\n### Passed on {bn}, not on {an} ({len(better)})\n")
    for t in better:
        o, m = a.get(t, ("missing", ""))
        print(f"- `{t}`: {o}: {short(m)}")
    other = sorted(
        t
        for t in set(a) | set(b)
        if a.get(t, ("missing",))[0] != b.get(t, ("missing",))[0] and t not in worse and t not in better
    )
    print(f"\n### Other differences ({len(other)})\n")
    for t in other:
        print(
            f"- `{t}`: {an} {a.get(t, ('missing',))[0]}, {bn} {b.get(t, ('missing', ''))[0]}: "
            f"{short(b.get(t, ('', ''))[1])}"
        )


if __name__ == "__main__":
    main()
