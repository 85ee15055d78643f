"""Every lab test catches the bug it is named for (issue 20).

A corpus of mutants (tests/mutants/: broken versions of the lab 1-3, 9 and 10 solutions, one bug each;
lab 10's are its solution with one of its four planted defects back)
is graded with the real grader, in boxes, on the visible tests named for each bug: every
mutant must lose all the points of each of them. The solution keeps full marks on the same
tests (tests/test_labs.py checks all of them; here the ones the mutants are graded on).
One run each here; bench/mutants.py repeats them under fork, forkserver and spawn and prints
the catch rates.

Also: the answer of lab 1 does not ship. ipclab's own RingBuffer, adapted to lab 1's names
and wired in as the submission, does not pass lab 1.
"""

from pathlib import Path

import pytest

import mutants
from ipclab import grading, inventory

pytestmark = pytest.mark.slow  # about 4 minutes: out of the fast tier
ROOT = Path(__file__).resolve().parent.parent
CORPUS = mutants.corpus()
CASES = [(lab, name, sol, text, test) for lab, name, sol, text, tests in CORPUS for test in tests]

RINGBUFFER_ADAPTER = '''"""ipclab's own RingBuffer (the notebook 01 one), given lab 1's names: it must not pass lab 1."""
from ipclab.mechanisms.shm import RingBuffer as _Ring, RingSpec


class RingBuffer(_Ring):
    @classmethod
    def create(cls, capacity, item_size):
        if not isinstance(capacity, int) or capacity <= 0 or not isinstance(item_size, int) or item_size <= 0:
            raise ValueError("capacity and item_size are positive ints")
        return super().create(capacity, item_size)

    @classmethod
    def attach(cls, handle):
        return super().attach(RingSpec(*handle))

    @property
    def handle(self):
        s = self.spec
        return (s.segment, s.empty, s.full, s.mutex)

    @property
    def item_size(self):
        return self.slot_size

    empty = property(lambda self: self._sems["empty"])
    full = property(lambda self: self._sems["full"])
    mutex = property(lambda self: self._sems["mutex"])

    def put(self, data, timeout=10.0):
        if not data:
            raise ValueError("empty record")
        return super().put(data, timeout)

    def destroy(self):
        self.close()
        self.unlink()
'''


def _nothing_left(rep):
    runs = {r.run for r in rep.results}
    assert not [o for o in inventory.course_objects() if o["run"] in runs]


@pytest.mark.parametrize("lab,name,sol,text,test", CASES, ids=[f"{c[0]}_{c[1]}-{c[4]}" for c in CASES])
def test_mutant_loses_the_points_of_its_test(lab, name, sol, text, test, tmp_path):
    sub = tmp_path / sol
    sub.write_text(text)
    rep = grading.grade_lab(lab, sub, include_hidden=False, only=test)
    (r,) = rep.results
    assert r.score == 0 and r.status != "passed", f"mutant {lab}_{name} passed {test}:\n" + rep.text()
    assert "not implemented" not in r.summary, rep.text()
    _nothing_left(rep)


@pytest.mark.parametrize("lab", sorted({c[0] for c in CASES}))
def test_solution_keeps_the_points_the_mutants_lose(lab):
    for test in sorted({c[4] for c in CASES if c[0] == lab}):
        rep = grading.grade_lab(lab, ROOT / "solutions", include_hidden=False, only=test)
        assert rep.score == rep.max_score > 0, rep.text()


def test_ipclab_ringbuffer_is_not_lab1s_answer(tmp_path):
    """issue 20, point 2: the ring buffer notebook 01 uses, wired in as lab 1, does not pass it."""
    sub = tmp_path / "lab1_ringbuffer.py"
    sub.write_text(RINGBUFFER_ADAPTER)
    rep = grading.grade_lab("lab1", sub, include_hidden=True, jobs=2)
    by_name = {r.name: r for r in rep.results}
    assert by_name["fifo_one_process"].score == by_name["fifo_one_process"].points, rep.text()  # it is wired in
    assert by_name["end_of_stream"].score == 0, rep.text()   # what lab 1 asks beyond it
    assert rep.score < rep.max_score, rep.text()
    _nothing_left(rep)
