"""Lab 10 mutants (see __init__.py): the solution with one of the four planted defects put back.

The defects are written once, in solutions/lab10_diagnose.py (each ``### BROKEN <defect>``
part of a solution region: the stub is the solution with all four back); each mutant here is
the solution with one of them back, and must lose the points of the test named for it.
"""

from ipclab.tooling import labgen

from . import ROOT

LAB = "lab10"
SOLUTION = "lab10_diagnose.py"
TESTS = {
    "race": ["finish_holds_count"],                # finish() reads done before it takes COUNT
    "deadlock": ["finish_and_audit_together"],     # audit() takes LAST, then COUNT: ABBA with finish()
    "leak": ["crashed_run_leaves_nothing"],        # run() removes the ledger only when no worker died
    "torn": ["last_holds_last"],                   # last() copies the record without LAST
}


def _edits(tag):
    regions = labgen.broken_regions((ROOT / "solutions" / SOLUTION).read_text(), SOLUTION)
    return [(r["text"], r["broken"]) for r in regions if r["tag"] == tag]


MUTANTS = {tag: (_edits(tag), tests) for tag, tests in TESTS.items()}
assert all(edits for edits, _ in MUTANTS.values()), "a lab 10 defect has no ### BROKEN region in the solution"
