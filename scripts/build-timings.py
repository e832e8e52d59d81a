#!/usr/bin/env python3
"""Reads the report `cargo build --timings` writes and prints where a cold build's time went.

    scripts/build-timings.py REPORT.html [--top 10] [--compare OTHER.html]
    scripts/build-timings.py REPORT.html --pdf-only [--over 3]

The first form prints the slowest units (a crate's compilation or a build script's run), in
seconds, and with --compare a before/after table of the slowest crates of REPORT. The second
prints the crates only the results PDF (`cista-report`: parley, krilla and what they pull in)
needs that took over `--over` seconds, with the total: what the PDF costs a cold build.
"""

import argparse
import json
import re
import subprocess
import sys


def units(report):
    """{unit name: seconds}, a crate's build script run counted apart ("NAME (build script)")."""
    html = open(report, encoding="utf-8").read()
    found = re.search(r"const UNIT_DATA = (\[.*?\]);", html, re.S)
    if not found:
        sys.exit(f"{report}: no UNIT_DATA (not a cargo --timings report?)")
    out = {}
    for unit in json.loads(found.group(1)):
        name = unit["name"]
        if "build-script" in unit.get("target", ""):
            name += " (build script)"
        out[name] = out.get(name, 0.0) + unit["duration"]
    return out


def tree(*args):
    text = subprocess.run(
        ["cargo", "tree", "-e", "normal,build", "--prefix", "none", *args],
        capture_output=True, text=True, check=True,
    ).stdout
    return {line.split()[0] for line in text.splitlines() if line.strip()}


def pdf_only():
    """Crates reachable from cista-report's dependencies and from nothing else in the binary."""
    pdf = tree("-p", "cista-report") - {"cista-report"}
    rest = tree("-p", "cista", "--prune", "cista-report")
    return pdf - rest


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("report")
    p.add_argument("--top", type=int, default=10)
    p.add_argument("--compare")
    p.add_argument("--pdf-only", action="store_true")
    p.add_argument("--over", type=float, default=3.0)
    a = p.parse_args()
    times = units(a.report)
    if a.pdf_only:
        only = pdf_only()
        mine = {n: s for n, s in times.items() if n.split(" ")[0] in only}
        for name in sorted(n for n, s in mine.items() if s >= a.over):
            print(f"{name}: {mine[name]:.1f} s")
        print(f"total: {sum(mine.values()):.1f} s in {len(mine)} units")
        return
    slowest = sorted(times.items(), key=lambda kv: -kv[1])[: a.top]
    if a.compare:
        other = units(a.compare)
        print(f"| crate | {a.report} (s) | {a.compare} (s) |")
        print("|---|---:|---:|")
        for name, secs in slowest:
            print(f"| {name} | {secs:.1f} | {other.get(name, 0.0):.1f} |")
    else:
        for name, secs in slowest:
            print(f"{secs:8.1f}  {name}")
    print(f"all units: {sum(times.values()):.0f} s of compiler time", file=sys.stderr)


if __name__ == "__main__":
    main()
