"""No lab's answer ships in the student edition (issue 20, point 2): labs 4-10.

Two checks:

* **Wired in, graded for real.** Each thing the student edition offers that resembles a
  lab's answer is written as that lab's submission (a module of a few lines that imports it
  from ipclab, adapted where the names differ) and graded by the real grader, in its boxes,
  on the visible tests. It must not pass. Lab 4's closest candidate is notebook 05's
  ``records.RecordStore``: even adapted to the lab's layout and exceptions it fails the test
  named for what the lab asks beyond it (readers share a record's lock). For labs 5-8
  ipclab has no cache, pool, logger or server classes; the candidates are its closest
  functions (msgq's request server, the notebooks' pool worker and logger, the SO_REUSEPORT
  worker), put in the place of the lab's functions in the student's stub. Lab 10's stub is
  the broken program itself: as shipped, with notebook 06's workers imported, it must fail.
* **No solution copied.** No function body of a solution region (solutions/labN_*.py, the
  code the stub leaves out, or replaces with a broken version in lab 10) appears in the
  student edition's Python (ipclab/, the notebooks' sources, the stubs), compared as syntax
  trees.
"""

import ast
import textwrap
from pathlib import Path

import pytest

from ipclab.core.paths import COURSE_ROOT as ROOT
from ipclab.tooling import labgen
from ipclab.tooling.grading import grading

LABS = ["lab4", "lab5", "lab6", "lab7", "lab8", "lab9", "lab10"]

RECORDSTORE_AS_IS = """
from ipclab.mechanisms.records import RecordStore as Store
MAGIC, HEADER = Store.MAGIC, Store.HEADER
"""

# RecordStore adapted as far as it goes: the lab's layout, the lab's exceptions, a lock(shared=)
# that ignores *shared* (RecordStore has exclusive locks only) and its own read().
RECORDSTORE_ADAPTED = """
import struct
from ipclab.mechanisms import records

MAGIC = b"IPCLAB4\\0"
HEADER = struct.Struct("<8sII16s")


class Store(records.RecordStore):
    MAGIC = MAGIC
    HEADER = HEADER

    @classmethod
    def create(cls, path, fmt, count):
        try:
            return super().create(path, fmt, count)
        except (ValueError, struct.error) as e:
            raise ValueError(str(e)) from None

    @classmethod
    def open(cls, path):
        try:
            return super().open(path)
        except Exception as e:
            raise ValueError(str(e)) from None

    def offset(self, i):
        if not isinstance(i, int) or not 0 <= i < self.count:
            raise IndexError(f"record index must be 0..{self.count - 1}, got {i!r}")
        return super().offset(i)

    def lock(self, i, timeout=5.0, shared=False):
        return super().lock(i, timeout)
"""


def _stub_with(lab, imports):
    """The lab's stub, with *imports* (ipclab's closest pieces) put in the place of its functions."""
    stub = next(s for _sol, s in labgen.pairs() if s.name.startswith(lab + "_"))
    return stub.read_text() + "\n\n# wired in from ipclab:\n" + textwrap.dedent(imports)


CANDIDATES = {
    "lab4": {"RecordStore as is": lambda: RECORDSTORE_AS_IS,
             "RecordStore adapted to the lab": lambda: RECORDSTORE_ADAPTED},
    "lab5": {"ipclab's shared memory segment helpers": lambda: _stub_with("lab5", """
        from ipclab.mechanisms.shm import *  # noqa
        """)},
    "lab6": {"notebook 03's pool worker": lambda: _stub_with("lab6", """
        from ipclab.experiments.msgq_demos import pool_worker as worker  # noqa
        """)},
    "lab7": {"msgq's server loop and notebook 03's logger": lambda: _stub_with("lab7", """
        from ipclab.experiments.msgq_demos import logger as serve  # noqa
        """)},
    "lab8": {"the SO_REUSEPORT worker": lambda: _stub_with("lab8", """
        from ipclab.experiments.reuseport import worker  # noqa
        """)},
    "lab9": {"notebook 07's seqlock and ipclab's System V helpers": lambda: _stub_with("lab9", """
        from ipclab.core.objects import *  # noqa
        from ipclab.experiments.pshared_demos import seqlock  # noqa
        """)},
    "lab10": {"the program as shipped, with notebook 06's workers": lambda: _stub_with("lab10", """
        from ipclab.experiments.debug_workers import *  # noqa
        from ipclab.experiments.race_window import *  # noqa
        """)},
}
NAMED_TEST = {("lab4", "RecordStore adapted to the lab"): "readers_share"}


@pytest.mark.parametrize("lab,name", [(lab, name) for lab in LABS for name in CANDIDATES[lab]])
def test_ipclabs_closest_piece_wired_in_does_not_pass(lab, name, tmp_path):
    from ipclab.tooling.grading import labtests
    module = labtests.lab_module(lab).MODULE
    (tmp_path / f"{module}.py").write_text(CANDIDATES[lab][name]())
    rep = grading.grade_lab(lab, tmp_path, include_hidden=False, seed=20, jobs=2)
    assert rep.score < rep.max_score, f"{name} passes {lab}: an answer ships\n{rep.text()}"
    named = NAMED_TEST.get((lab, name))
    if named:
        res = {r.name: r for r in rep.results}
        assert not res[named].passed, rep.text()
        others = [r for r in rep.results if r.name != named]
        assert all(r.passed for r in others), ("the adapted RecordStore should fail only the test of what "
                                               "the lab asks beyond it:\n" + rep.text())


# -- no solution region copied into the student edition ----------------------------------------

def _body_dump(fn):
    body = fn.body
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]
    return ast.dump(ast.Module(body=body, type_ignores=[]), annotate_fields=False)


def _functions(tree):
    return [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]


def _solved(lab):
    """{qualified name: body dump} of the functions whose body the stub leaves out (or, lab 10, breaks),
    big enough to matter."""
    sol = next(s for s, _stub in labgen.pairs() if s.name.startswith(lab + "_"))
    stub = next(st for s, st in labgen.pairs() if s == sol)
    sol_fns, stub_fns = _functions(ast.parse(sol.read_text())), _functions(ast.parse(stub.read_text()))
    assert [f.name for f in sol_fns] == [f.name for f in stub_fns], f"{stub.name}: not made from {sol.name}?"
    out = {}
    for f, stub_f in zip(sol_fns, stub_fns):  # the same functions in the same order (two classes may share a name)
        left_out = _body_dump(stub_f) != _body_dump(f)
        if left_out and sum(1 for _ in ast.walk(f)) >= 25:
            out[f"{sol.name}:{f.name}"] = _body_dump(f)
    return out


def _student_edition_python():
    roots = [ROOT / "ipclab", ROOT / "notebooks", ROOT / "labs"]
    for root in roots:
        for p in sorted(root.rglob("*.py")):
            if ".ipynb_checkpoints" not in p.parts:
                yield p


@pytest.mark.parametrize("lab", LABS)
def test_no_solution_body_is_in_the_student_edition(lab):
    solved = _solved(lab)
    assert solved, f"{lab}: no solution region found"
    wanted = {dump: name for name, dump in solved.items()}
    found = []
    for path in _student_edition_python():
        try:
            tree = ast.parse(path.read_text())
        except SyntaxError:
            continue
        for f in _functions(tree):
            hit = wanted.get(_body_dump(f))
            if hit:
                found.append(f"{hit} == {path.relative_to(ROOT)}:{f.name} (line {f.lineno})")
    assert not found, "a solution ships in the student edition:\n" + "\n".join(found)


def test_the_body_comparison_finds_a_copy(tmp_path):
    """The check above can fail: a solution function pasted into a module is found."""
    solved = _solved("lab4")
    sol = ast.parse((ROOT / "solutions" / "lab4_recordstore.py").read_text())
    update = next(f for f in _functions(sol) if f.name == "update")
    assert _body_dump(update) in set(solved.values())
    copy = ast.parse("def renamed(self, i, change, timeout=5.0):\n" + textwrap.indent(ast.unparse(update.body), "    "))
    assert _body_dump(_functions(copy)[0]) in set(solved.values())
