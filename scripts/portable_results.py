#!/usr/bin/env python3
"""Rewrite results files so that they hold no path of the machine that wrote them.

    python scripts/portable_results.py [--root OLD_PROJECT_ROOT ...] results/*.json fer_nbdev/assets/fer_default.json

For files written before `results.write_results` made its records portable: the same `results.portable_record`
rewrites the data source as its file name (its sha256 stays beside it) and every path inside a project root (this
project's, and each --root: the folder the run's project lay in on its machine) relative to it. Nothing else may
change: the script checks that the rewritten record differs from the original only in those strings, and
numbers are never retyped.
"""
import argparse, json, sys
from pathlib import Path
from fer_nbdev.results import portable_record, project_dir


def _strings_only_differ(a, b) -> bool:
    "Whether `a` and `b` have the same structure and equal values everywhere except strings."
    if isinstance(a, dict): return isinstance(b, dict) and a.keys() == b.keys() and all(_strings_only_differ(a[k], b[k]) for k in a)
    if isinstance(a, list): return isinstance(b, list) and len(a) == len(b) and all(map(_strings_only_differ, a, b))
    if isinstance(a, str): return isinstance(b, str)
    return a == b and type(a) is type(b)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--root", action="append", default=[], help="a project root whose paths become relative (repeatable)")
    a = ap.parse_args(argv)
    roots = [*a.root, str(project_dir())]
    for f in a.files:
        rec = json.loads(f.read_text())
        new = portable_record(rec, roots)
        if not _strings_only_differ(rec, new): sys.exit(f"{f}: rewriting would change more than paths; left as it is")
        if new == rec: print(f"{f}: already portable"); continue
        f.write_text(json.dumps(new, indent=1) + ("\n" if f.read_text().endswith("\n") else ""))
        print(f"{f}: rewritten")


if __name__ == "__main__":
    main()
