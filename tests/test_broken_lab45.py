"""Labs 4 and 5: typical wrong submissions fail the test meant to catch them, with a useful verdict.

Same shape as the lab 1 cases in test_grading.py: each broken submission is an edit of the
reference solution (tests/broken_submissions/labN.py) graded on one test.
"""

from pathlib import Path

import pytest

from broken_submissions import lab4 as broken4
from broken_submissions import lab5 as broken5
from ipclab import grading, inventory

ROOT = Path(__file__).resolve().parent.parent
CASES = [("lab4", broken4, k) for k in sorted(broken4.BROKEN)] + [("lab5", broken5, k) for k in sorted(broken5.BROKEN)]


@pytest.mark.parametrize("lab,mod,kind", CASES, ids=[f"{lab}-{k}" for lab, _, k in CASES])
def test_broken_submission_fails_its_test(lab, mod, kind, tmp_path):
    _, test_name, status = mod.BROKEN[kind]
    sub = tmp_path / mod.SOLUTION
    sub.write_text(mod.make(kind, (ROOT / "solutions" / mod.SOLUTION).read_text()))
    rep = grading.grade_lab(lab, sub, include_hidden=False, only=test_name)
    (r,) = rep.results
    assert r.status == status and r.score == 0, rep.text()
    assert r.summary and r.hint and "not implemented" not in r.summary, rep.text()
    runs = {x.run for x in rep.results}
    assert not [o for o in inventory.course_objects() if o["run"] in runs]
