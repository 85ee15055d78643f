"""Every lab: the reference solution gets full marks (hidden tests included), the stub zero (lab 10's
stub is a program that runs: it fails every test on its behaviour, not as "not implemented"),
and the brief notebook runs (its check cell shows the table, not an exception)."""

from pathlib import Path

import pytest

from ipclab import grading, labgen, notebooks
from ipclab.tooling.grading.labtests import lab_ids, lab_module

ROOT = Path(__file__).resolve().parent.parent
LABS = lab_ids()


def test_every_lab_has_solution_stub_brief_and_hidden_tests():
    for lab in LABS:
        mod = lab_module(lab)
        assert (ROOT / "solutions" / f"{mod.MODULE}.py").exists(), lab
        assert (ROOT / "labs" / f"{mod.MODULE}.py").exists(), lab
        assert (ROOT / "labs" / "py" / f"{mod.MODULE}.py").exists(), lab
        hidden = ROOT / "grading" / "hidden" / f"{lab}.py"
        n_hidden = len(grading.lab_tests(lab)) - len(grading.lab_tests(lab, include_hidden=False))
        assert n_hidden == mod.HIDDEN and hidden.exists(), f"{lab}: HIDDEN={mod.HIDDEN}, found {n_hidden}"
        for _, fn, _ in grading.lab_tests(lab):
            meta = fn._labtest
            assert meta["title"] and meta["points"] > 0 and meta["timeout"] > 0 and meta["hint"], fn


@pytest.mark.parametrize("lab", LABS)
def test_solution_gets_full_marks(lab):
    rep = grading.grade_lab(lab, ROOT / "solutions", include_hidden=True, jobs=2)
    assert rep.score == rep.max_score > 0, rep.text()
    assert not any(r.leaks or r.stray for r in rep.results), rep.text()


@pytest.mark.parametrize("lab", LABS)
def test_stub_gets_zero(lab):
    rep = grading.grade_lab(lab, ROOT / "labs", include_hidden=True, jobs=2)
    assert rep.score == 0, rep.text()
    solution = ROOT / "solutions" / f"{lab_module(lab).MODULE}.py"
    if labgen.broken_regions(solution.read_text()):  # a diagnose-and-fix lab: the stub runs, and misbehaves
        assert all(r.status == "failed" and "not implemented" not in r.summary for r in rep.results), rep.text()
    else:
        assert all("not implemented" in r.summary for r in rep.results), rep.text()


def test_stubs_in_step():
    assert labgen.problems() == []


@pytest.mark.parametrize("src,target", [p for p in notebooks.sources() if p[0].parent.parent.name == "labs"],
                         ids=lambda p: Path(p).stem)
def test_brief_matches_source_and_runs(src, target):
    assert notebooks.out_of_sync(src, target) == ""
    nb = notebooks.read_source(src)
    notebooks.execute(nb, target.parent)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, errors
    last = nb.cells[-1].outputs
    assert any("FAIL" in str(o.get("data", {}).get("text/plain", "")) for o in last), last
