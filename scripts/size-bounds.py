#!/usr/bin/env python3
"""Lists Rust source files over a line bound and functions over a line bound (issue 11's
"largest file under 700 lines, no function over 120"). Functions are found by their `fn`
line and measured to the matching closing brace, comments and blank lines included.

    python3 scripts/size-bounds.py [--file-lines 700] [--fn-lines 120] [--check] [ROOT]

With --check the exit code is 1 when anything is over a bound."""

import argparse
import os
import re
import sys

FN = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:const\s+)?(?:async\s+)?(?:unsafe\s+)?fn\s+(\w+)")


def functions(lines):
    """(name, first line, length) of every function with a body."""
    out = []
    for i, line in enumerate(lines):
        m = FN.match(line)
        if not m:
            continue
        depth = 0
        opened = False
        for j in range(i, len(lines)):
            text = strip(lines[j])
            if not opened and ";" in text and "{" not in text:
                break  # a declaration without a body (trait item)
            for c in text:
                if c == "{":
                    depth += 1
                    opened = True
                elif c == "}":
                    depth -= 1
            if opened and depth <= 0:
                out.append((m.group(1), i + 1, j - i + 1))
                break
    return out


def strip(line):
    """The line without string contents and comments, so braces inside them do not count."""
    line = re.sub(r'"(?:[^"\\]|\\.)*"', '""', line)
    line = re.sub(r"'(?:[^'\\]|\\.)'", "''", line)
    return line.split("//", 1)[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("root", nargs="?", default="crates")
    parser.add_argument("--file-lines", type=int, default=700)
    parser.add_argument("--fn-lines", type=int, default=120)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    big_files, big_fns = [], []
    for dirpath, dirs, files in os.walk(args.root):
        dirs[:] = [d for d in dirs if d not in ("target", ".git")]
        for name in files:
            if not name.endswith(".rs"):
                continue
            path = os.path.join(dirpath, name)
            with open(path, encoding="utf-8") as f:
                lines = f.read().split("\n")
            if len(lines) - 1 >= args.file_lines:
                big_files.append((len(lines) - 1, path))
            for fn, at, length in functions(lines):
                if length > args.fn_lines:
                    big_fns.append((length, f"{path}:{at}", fn))
    print(f"files of {args.file_lines} lines or more: {len(big_files)}")
    for n, path in sorted(big_files, reverse=True):
        print(f"  {n:5d}  {path}")
    print(f"functions over {args.fn_lines} lines: {len(big_fns)}")
    for n, where, fn in sorted(big_fns, reverse=True):
        print(f"  {n:5d}  {fn}  {where}")
    if args.check and (big_files or big_fns):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
