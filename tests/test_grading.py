"""The grader: stub generator, isolation of each test, broken submissions, formats, release."""

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from broken_submissions import lab1 as broken1
from ipclab import grading, inventory, labgen, registry, release
from ipclab.core.errors import BadArgument, IpclabError

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
FAST = 0.25  # broken submissions: a quarter of each test's timeout is plenty


def _nothing_left(report):
    """No object of the grader's runs remains, and their registry records are gone."""
    runs = {r.run for r in report.results}
    left = [o for o in inventory.course_objects() if o["run"] in runs]
    assert not left, inventory.format_rows(left)
    assert not [r for r in registry.runs() if r.id in runs]


# -- generator -------------------------------------------------------------------

def test_labs_are_what_the_generator_makes():
    assert labgen.pairs(), "no lab solutions found"
    assert labgen.problems() == []


def test_generator_replaces_regions_with_a_pointer():
    src = ('def f(x):\n    """Spec stays."""\n    ### BEGIN SOLUTION\n    return x + 1\n    ### END SOLUTION\n\n'
           'class C:\n    def m(self):\n        ### BEGIN SOLUTION\n        pass\n        ### END SOLUTION\n')
    out = labgen.stub_text(src, "lab9_demo.py")
    assert "return x + 1" not in out and "Spec stays." in out
    assert 'raise NotImplementedError("lab9: write f() (see labs/lab9_demo.ipynb)")' in out
    assert "write C.m()" in out
    ns = {}
    exec(compile(out, "stub", "exec"), ns)  # a stub imports
    with pytest.raises(NotImplementedError, match="lab9: write f"):
        ns["f"](1)


@pytest.mark.parametrize("bad", ["### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n",
                                 "def f():\n    ### BEGIN SOLUTION\n    pass\n",
                                 "def f():\n    ### END SOLUTION\n"])
def test_generator_rejects_malformed_regions(bad):
    with pytest.raises(ValueError):
        labgen.stub_text(bad, "lab9_demo.py")


def test_labgen_check_fails_on_an_edited_stub(tmp_path, monkeypatch):
    (tmp_path / "solutions").mkdir()
    (tmp_path / "labs").mkdir()
    shutil.copy(SOLUTIONS / "lab1_ringbuffer.py", tmp_path / "solutions")
    monkeypatch.setattr(labgen, "ROOT", tmp_path)
    monkeypatch.setattr(labgen, "SOLUTIONS", tmp_path / "solutions")
    monkeypatch.setattr(labgen, "LABS", tmp_path / "labs")
    assert labgen.problems() == ["labs/lab1_ringbuffer.py is missing"]
    labgen.write()
    assert labgen.problems() == []
    stub = tmp_path / "labs" / "lab1_ringbuffer.py"
    stub.write_text(stub.read_text() + "\n# edited by hand\n")
    assert "differs" in labgen.problems()[0]


# -- broken submissions --------------------------------------------------------------

@pytest.mark.parametrize("kind", sorted(broken1.BROKEN))
def test_broken_submission_is_graded_correctly(kind, tmp_path):
    edits, test_name, status = broken1.BROKEN[kind]
    sub = tmp_path / broken1.SOLUTION
    sub.write_text(broken1.make(kind, (SOLUTIONS / broken1.SOLUTION).read_text()))
    rep = grading.grade_lab("lab1", sub, include_hidden=False, only=test_name, timeout_scale=FAST)
    (r,) = rep.results
    text = rep.text()
    assert r.status == status, text
    assert r.score == 0 and rep.score == 0
    assert r.seconds < 20 * FAST * 1.5 + 15, text  # killed near its own limit, not hung (generous: loaded CI)
    if kind == "leak":
        assert "leaked 3 POSIX semaphores" in text
    if kind == "crash":
        assert "SIGSEGV" in text and "leaked" in text  # the objects created before the crash
    if kind == "wrong_result":
        assert "BAD      [0]" in text and "(expected " in text
    if kind in ("deadlock", "infinite_loop"):
        assert "deadlock" in text
    _nothing_left(rep)


def test_one_bad_test_does_not_stop_the_others(tmp_path):
    sub = tmp_path / broken1.SOLUTION
    sub.write_text(broken1.make("crash", (SOLUTIONS / broken1.SOLUTION).read_text()))
    rep = grading.grade_lab("lab1", sub, include_hidden=False, timeout_scale=FAST, jobs=2)
    assert len(rep.results) == 8, rep.text()  # every test ran, each in its own process
    assert sum(r.status == "crashed" for r in rep.results) >= 3, rep.text()
    assert "killed by SIGSEGV" in rep.text()  # a crashing worker is reported as such
    # only the tests that never reach the crashing code (bad input is refused before it) pass
    assert rep.score <= 1 and "of 8 visible tests passed" in rep.verdict()
    _nothing_left(rep)


# -- what the student reads ------------------------------------------------------------

def test_check_says_visible_never_all_when_hidden_tests_exist():
    rep = grading.check("lab1", submission=SOLUTIONS)
    assert rep.score == rep.max_score
    assert rep.verdict().startswith("visible tests passed")
    assert "all tests" not in rep.text()
    assert "hidden" in rep._repr_html_()  # notebook view says so too
    full = grading.grade_lab("lab1", SOLUTIONS, include_hidden=True, jobs=2)
    assert full.verdict().startswith("all tests passed"), full.text()
    assert any(r.visibility == "hidden" for r in full.results)


def test_check_one_question_and_a_missing_module(tmp_path):
    rep = grading.check("lab1", "wrap_around", submission=SOLUTIONS)
    assert [r.name for r in rep.results] == ["wrap_around"]
    rep = grading.check("lab1", submission=tmp_path)
    assert rep.score == 0 and "no lab1_ringbuffer.py" in rep.verdict()
    with pytest.raises(BadArgument, match="no test of lab1"):
        grading.check("lab1", "no-such-test", submission=SOLUTIONS)
    with pytest.raises(BadArgument, match="no lab"):
        grading.check("lab99")


def test_grading_never_imports_from_the_students_folder(tmp_path):
    """A submission folder that ships its own ipclab (or tests) cannot change the grade."""
    shutil.copy(SOLUTIONS / "lab1_ringbuffer.py", tmp_path)
    fake = tmp_path / "ipclab"
    fake.mkdir()
    (fake / "__init__.py").write_text("raise SystemExit('student ipclab imported')\n")
    (tmp_path / "labtests").mkdir()
    rep = grading.grade_lab("lab1", tmp_path, include_hidden=False, only="fifo_one_process")
    assert rep.score == rep.max_score, rep.text()


# -- formats -------------------------------------------------------------------------------

def _validate_gradescope(doc):
    """Against https://gradescope-autograders.readthedocs.io/en/latest/specs/ (output format)."""
    assert set(doc) <= grading.GRADESCOPE_TOP
    assert isinstance(doc["score"], (int, float))
    assert doc.get("visibility", "visible") in ("hidden", "after_due_date", "after_published", "visible")
    assert doc.get("stdout_visibility", "hidden") in ("hidden", "after_due_date", "after_published", "visible")
    for t in doc["tests"]:
        assert set(t) <= grading.GRADESCOPE_TEST
        assert isinstance(t["name"], str) and isinstance(t["output"], str)
        assert 0 <= t["score"] <= t["max_score"]
        assert t["status"] in ("passed", "failed")
        assert t["visibility"] in ("hidden", "after_due_date", "after_published", "visible")
    assert doc["score"] == sum(t["score"] for t in doc["tests"])


def test_gradescope_results_json(tmp_path):
    out = tmp_path / "results.json"
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    proc = subprocess.run([sys.executable, "-m", "ipclab", "grade", "lab1", "--submission", str(SOLUTIONS),
                           "--format", "gradescope", "-o", str(out), "-j", "2"],
                          capture_output=True, text=True, env=env, timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(out.read_text())
    _validate_gradescope(doc)
    assert doc["score"] == 15 and len(doc["tests"]) == 10
    assert {t["visibility"] for t in doc["tests"]} == {"visible", "after_published"}
    stub = grading.grade_lab("lab1", ROOT / "labs", include_hidden=False)
    doc = grading.gradescope([stub])
    _validate_gradescope(doc)
    assert doc["score"] == 0 and all(t["status"] == "failed" and "not implemented" in t["output"]
                                     for t in doc["tests"])


def test_batch_grades_a_class_into_one_csv(tmp_path):
    subs = tmp_path / "subs"
    for who in ("alice", "bob", "carol", "dave"):
        (subs / who).mkdir(parents=True)
    shutil.copy(SOLUTIONS / "lab1_ringbuffer.py", subs / "alice")
    shutil.copy(ROOT / "labs" / "lab1_ringbuffer.py", subs / "bob")
    (subs / "carol" / "nested").mkdir()
    (subs / "carol" / "nested" / "lab1_ringbuffer.py").write_text(
        broken1.make("no_wrap", (SOLUTIONS / broken1.SOLUTION).read_text()))
    out = tmp_path / "grades.csv"
    grading.batch(subs, ["lab1"], out, include_hidden=False, jobs=2, echo=lambda *a: None)
    rows = {r["student"]: r for r in csv.DictReader(out.open())}
    assert list(rows) == ["alice", "bob", "carol", "dave"]
    assert rows["alice"]["lab1"] == rows["alice"]["lab1_max"] == "12"
    assert rows["bob"]["lab1"] == "0"
    assert 0 < float(rows["carol"]["lab1"]) < 10 and "failed" in rows["carol"]["notes"]
    assert rows["dave"]["lab1"] == "0" and "no lab1_ringbuffer.py" in rows["dave"]["notes"]


# -- release ------------------------------------------------------------------------------

def test_release_is_the_student_edition(tmp_path):
    dest = tmp_path / "student"
    files = {str(p) for p in release.write(dest)}
    assert "labs/lab1_ringbuffer.py" in files and "labs/lab1_ringbuffer.ipynb" in files
    assert "ipclab/tooling/grading/labtests/lab1.py" in files and "ipclab/tooling/grading/grading.py" in files
    assert not [f for f in files if f.split("/")[0] in ("solutions", "grading", "tests", ".git")]
    assert release.audit(dest) == []
    assert (dest / "labs" / "lab1_ringbuffer.py").read_text() == (ROOT / "labs" / "lab1_ringbuffer.py").read_text()
    # the student's own ipclab grades the student's stub, visible tests only
    code = ("from ipclab import grading; r = grading.grade_lab('lab1', only='wrap_around'); "
            "print(r.verdict()); print(grading.ROOT)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=dest, capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=str(dest)))
    assert proc.returncode == 0, proc.stderr
    assert "visible tests passed" in proc.stdout and str(dest) in proc.stdout
    with pytest.raises(IpclabError, match="not empty"):
        release.write(dest)
    with pytest.raises(IpclabError, match="inside the course"):
        release.write(ROOT / "build" / "x")


def test_without_isolation_feedback_works_but_teacher_outputs_need_unsafe(tmp_path, monkeypatch):
    """Where student code cannot be boxed, students still get feedback, marked; results files are refused."""
    import argparse
    from ipclab.tooling.grading import sandbox
    monkeypatch.setenv("IPCLAB_SANDBOX_MODE", "none")
    monkeypatch.setattr(sandbox, "_isolation", None)
    try:
        rep = grading.grade_lab("lab1", SOLUTIONS, include_hidden=False, only=1)
        assert rep.score == rep.max_score and "not tamper-proof" in rep.text()
        p = argparse.ArgumentParser()
        grading.add_arguments(p)
        out = tmp_path / "results.json"
        args = ["lab1", "-s", str(SOLUTIONS), "--only", "1", "--format", "gradescope", "-o", str(out)]
        assert grading.main(p.parse_args(args)) == 2 and not out.exists()
        assert grading.main(p.parse_args(args + ["--unsafe"])) == 0 and json.loads(out.read_text())["score"] == 2
    finally:
        sandbox._isolation = None
