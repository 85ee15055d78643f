"""Catch rates of the lab tests against the mutant corpus (issue 20): how often each test
named for a bug fails the mutant that has it, under fork, forkserver and spawn.

    .venv/bin/python bench/mutants.py                 # 50 runs per mutant, test and start method
    .venv/bin/python bench/mutants.py -n 10 -m fork lab1_no_mutex

Each run is a real grading (a box per test, a fresh seed). The acceptance target is 100 %.
"""

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

try:
    import mutants  # noqa: E402  (tests/mutants: the teacher's checkout only)
except ImportError:
    sys.exit("bench/mutants.py needs tests/mutants/, which only the course checkout has (not the student edition)")
from ipclab import grading  # noqa: E402
from ipclab.tooling.grading import labkit  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("names", nargs="*", help="mutants (lab1_no_mutex ...); default: all")
    p.add_argument("-n", "--runs", type=int, default=50)
    p.add_argument("-m", "--methods", default="fork,forkserver,spawn")
    p.add_argument("-j", "--jobs", type=int, default=2)
    p.add_argument("--solution", action="store_true",
                   help="also grade the reference solution on the same tests (it must pass every run)")
    args = p.parse_args(argv)
    cases = [(lab, name, sol, text, test) for lab, name, sol, text, tests in mutants.corpus() for test in tests
             if not args.names or f"{lab}_{name}" in args.names]
    if args.solution:
        for lab, test, sol in sorted({(c[0], c[4], c[2]) for c in cases}):
            cases.append((lab, "solution", sol, (ROOT / "solutions" / sol).read_text(), test))
    print(f"{'mutant':28} {'test':22} {'method':10} caught   seconds/run   (for 'solution': passed)")
    with tempfile.TemporaryDirectory() as tmp:
        for method in args.methods.split(","):
            os.environ[labkit.START_VAR] = method  # inherited by the grader's keepers and test processes
            for lab, name, sol, text, test in cases:
                sub = Path(tmp) / f"{lab}_{name}" / sol
                sub.parent.mkdir(exist_ok=True)
                sub.write_text(text)
                t0 = time.monotonic()

                def one(_, sub=sub, lab=lab, test=test, good=(name == "solution")):
                    r = grading.grade_lab(lab, sub, include_hidden=False, only=test).results[0]
                    return r.score == r.points if good else (r.score == 0 and r.status != "passed")

                with ThreadPoolExecutor(args.jobs) as ex:
                    caught = sum(ex.map(one, range(args.runs)))
                per = (time.monotonic() - t0) / args.runs * args.jobs
                print(f"{lab + '_' + name:28} {test:22} {method:10} {caught:3}/{args.runs:<3}  {per:6.1f}",
                      flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
