"""Benchmark (not a test): grade 40 submissions of one lab with ``-j 2``, each in its own boxes.

    .venv/bin/python bench/grade_batch.py [--lab lab1] [--n 40] [--jobs 2]

The submissions are a mix a class would hand in: reference solutions, untouched stubs, and
a few of the adversarial tricks (``tests/adversarial``). Prints the wall time, seconds per
submission and the scores; the CSV goes to a temporary folder. Grading is isolated as this
machine allows (``sandbox.isolation_level()``, printed first).
"""

import argparse
import csv
import shutil
import sys
import tempfile
import time
from pathlib import Path

from ipclab.tooling.grading import grading, labtests, sandbox

ROOT = Path(__file__).resolve().parent.parent
TRICKS = ["code_swap", "forged_result", "always_equal", "foreign_leaks"]


def make_class(folder, lab, n):
    module = labtests.lab_module(lab).MODULE
    solution = (ROOT / "solutions" / f"{module}.py").read_text()
    stub = (ROOT / "labs" / f"{module}.py").read_text()
    for i in range(n):
        student = folder / f"student{i:02d}"
        student.mkdir()
        kind = i % 4
        if kind in (0, 1):
            text = solution
        elif kind == 2:
            text = stub
        else:
            text = stub + "\n" + (ROOT / "tests" / "adversarial" / f"{TRICKS[i % len(TRICKS)]}.py").read_text()
        (student / f"{module}.py").write_text(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lab", default="lab1")
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    print(f"isolation: {sandbox.isolation_level()}")
    work = Path(tempfile.mkdtemp(prefix="ipclab-bench-grade-"))
    try:
        make_class(work / "subs", args.lab, args.n) if (work / "subs").mkdir() is None else None
        out = work / "grades.csv"
        t0 = time.monotonic()
        grading.batch(work / "subs", [args.lab], out, jobs=args.jobs, echo=lambda *_: None)
        wall = time.monotonic() - t0
        rows = list(csv.DictReader(out.open()))
        full = sum(r[args.lab] == r[f"{args.lab}_max"] for r in rows)
        print(f"{args.n} submissions of {args.lab}, -j {args.jobs}: {wall:.1f} s "
              f"({wall / args.n:.2f} s per submission); full marks: {full}, zero: "
              f"{sum(float(r[args.lab]) == 0 for r in rows)}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
