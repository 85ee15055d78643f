"""Submissions that try to earn marks without the work (issue 16): none gets a point, none leaves anything.

Each trick of ``tests/adversarial/`` is appended to the untouched lab 1 stub and graded in
real boxes. After each: the score is what the stub deserves (0), no process of a box is
alive, no object the trick made is on the host, and the course (grader, hidden tests,
solutions) is byte for byte what it was.
"""

import hashlib
import json
import os
import resource
import sys
import time
from pathlib import Path

import pytest

from ipclab.tooling.grading import grading, sandbox

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(__file__).resolve().parent / "adversarial"
STUB = (ROOT / "labs" / "lab1_ringbuffer.py").read_text()
SOLUTION = ROOT / "solutions" / "lab1_ringbuffer.py"
ISO = sandbox.isolation_level()
pytestmark = pytest.mark.skipif(ISO.level != "full", reason=f"tamper-proofing needs full isolation: {ISO}")


def _course_digest():
    files = sorted((ROOT / "ipclab" / "tooling" / "grading").rglob("*.py")) + sorted((ROOT / "grading").rglob("*.py")) \
        + sorted((ROOT / "solutions").glob("*.py"))
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def _box_processes():
    """Host pids running under a box identity (root mode: the box uid range; else subordinate ids)."""
    lo, hi = sandbox.UID_BASE, sandbox.UID_BASE + sandbox.SLOTS
    if os.geteuid() != 0:
        plan = sandbox._userns_plan()
        if plan.get("subuid"):
            lo, hi = plan["subuid"][0], plan["subuid"][0] + plan["subuid"][1]
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                uid = os.stat(f"/proc/{p}").st_uid
            except OSError:
                continue
            if lo <= uid < hi:
                out.append(int(p))
    return out


def _host_objects_of_tricks():
    left = [n for n in os.listdir("/dev/shm") if n.startswith("advx")]
    if os.path.isdir("/dev/mqueue"):
        left += [n for n in os.listdir("/dev/mqueue") if n.startswith("advx")]
    for table in ("shm", "msg"):
        for row in open(f"/proc/sysvipc/{table}").read().splitlines()[1:]:
            if int(row.split()[0]) & 0xffffffff in (0x0ADF0001, 0x0ADF0002):
                left.append(f"sysv {table} {row.split()[0]}")
    return left


@pytest.fixture(scope="module")
def course_before():
    return _course_digest()


def make(tmp_path, trick, settings="", name=None):
    """A student folder holding the stub plus *trick* (settings first)."""
    folder = tmp_path / (name or trick)
    folder.mkdir()
    code = (CORPUS / f"{trick}.py").read_text() if trick else ""
    (folder / "lab1_ringbuffer.py").write_text(settings + "\n" + STUB + "\n\n# --- the trick ---\n" + code)
    return folder


def grade(folder, **kw):
    kw.setdefault("jobs", 2)
    return grading.grade_lab("lab1", folder, include_hidden=True, **kw)


def clean(course_before):
    deadline = time.monotonic() + 5
    while _box_processes() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _box_processes() == [], "a process of a box outlived its grading"
    assert _host_objects_of_tricks() == []
    assert _course_digest() == course_before, "the course changed"


TRICKS = ["forged_result", "code_swap", "token_cheat", "tamper_grader", "always_equal", "foreign_leaks",
          "print_hidden"]


@pytest.mark.parametrize("trick", TRICKS)
def test_trick_earns_nothing_and_leaves_nothing(tmp_path, trick, course_before):
    rep = grade(make(tmp_path, trick), only=8 if trick == "print_hidden" else 1)  # 8: a hidden test
    assert rep.score == 0, rep.text()
    assert rep.max_score > 0
    text = rep.text()
    if trick == "print_hidden":  # hidden tests and solutions cannot be read, nor the test's frames
        assert "def capacity_one" not in text and "mpmc(lab, rng, 3, 3, 1" not in text
        assert "BEGIN SOLUTION" not in text
    if trick == "foreign_leaks":  # leaks made at import are in every box: named by kind, whatever their names
        assert any("POSIX message queue" in line or "leak" in line for r in rep.results for line in r.explanation()) \
            or all(r.score == 0 for r in rep.results)
    clean(course_before)


def test_reference_solution_still_gets_full_marks(course_before):
    rep = grade(SOLUTION.parent)
    assert rep.score == rep.max_score, rep.text()
    assert rep.isolation == "full"
    clean(course_before)


def test_stub_gets_zero(course_before):
    rep = grade(ROOT / "labs")
    assert rep.score == 0 and rep.max_score > 0, rep.text()


def test_import_failure_is_shown_once(tmp_path, course_before):
    rep = grade(make(tmp_path, "exit_at_import"))
    assert rep.score == 0
    assert rep.text().count("the lab module refuses to load") == 1, rep.text()
    assert all(r.summary.startswith("not run") for r in rep.results)
    clean(course_before)


def test_sleep_at_import_costs_one_import_timeout(tmp_path, monkeypatch, course_before):
    monkeypatch.setattr(grading, "IMPORT_TIMEOUT", 3)
    t0 = time.monotonic()
    rep = grade(make(tmp_path, "sleep_at_import"))
    assert rep.score == 0 and "import" in rep.text()
    assert time.monotonic() - t0 < 30, "the budget did not stop a module that sleeps at import"
    clean(course_before)


def test_budget_stops_a_submission(tmp_path, course_before):
    rep = grade(make(tmp_path, "", name="plain"), budget=grading.Budget(0.5))
    assert rep.score == 0 and all("budget" in r.summary for r in rep.results), rep.text()


def test_fork_bomb_is_contained(tmp_path, course_before):
    rep = grade(make(tmp_path, "fork_bomb"), only=1)
    assert rep.score == 0
    clean(course_before)


def test_flood_of_output_is_truncated_and_the_grader_stays_small(tmp_path, course_before):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rep = grade(make(tmp_path, "flood_output"), only=1)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert rep.score == 0
    tail = rep.results[0].output_tail
    assert any("output truncated" in line for line in tail), tail
    assert grown_mb < 100, f"the grader grew by {grown_mb:.0f} MB"
    clean(course_before)


def test_registry_cleanup_deletes_nothing_of_the_graders(tmp_path, course_before):
    canary = tmp_path / "canary.txt"
    canary.write_text("keep me")
    rep = grade(make(tmp_path, "registry_cleanup", f"CANARY = {str(canary)!r}"), only=1)
    assert rep.score == 0 and canary.read_text() == "keep me"
    clean(course_before)


@pytest.mark.parametrize("target", ["/dev/zero", "solution"])
def test_submission_that_is_a_symlink_is_refused(tmp_path, target, course_before):
    folder = tmp_path / "student"
    folder.mkdir()
    (folder / "lab1_ringbuffer.py").symlink_to(SOLUTION if target == "solution" else target)
    t0 = time.monotonic()
    rep = grade(folder)
    assert rep.score == 0 and "symbolic link" in rep.note, rep.text()
    assert time.monotonic() - t0 < 10


def test_symlinked_folder_to_the_solutions_is_refused(tmp_path, course_before):
    folder = tmp_path / "student"
    folder.mkdir()
    (folder / "labs").symlink_to(SOLUTION.parent)
    rep = grade(folder)
    assert rep.score == 0, rep.text()


def test_survivor_cannot_rewrite_results_after_the_grade(tmp_path, course_before, monkeypatch):
    results = tmp_path / "results.json"
    folder = make(tmp_path, "setsid_survivor", f"TARGETS = [{str(results)!r}]\nDELAY = 1")
    monkeypatch.chdir(tmp_path)
    args = grading_args(["lab1", "--submission", str(folder), "--format", "gradescope", "-o", str(results),
                         "--only", "1"])
    grading.main(args)
    written = results.read_text()
    time.sleep(2.5)
    assert results.read_text() == written and json.loads(written)["score"] == 0
    clean(course_before)


def grading_args(argv):
    import argparse
    p = argparse.ArgumentParser()
    grading.add_arguments(p)
    return p.parse_args(argv)


def test_batch_attacker_cannot_hurt_classmates(tmp_path, course_before):
    subs = tmp_path / "subs"
    subs.mkdir()
    alice = subs / "alice"
    alice.mkdir()
    (alice / "lab1_ringbuffer.py").write_text(SOLUTION.read_text())
    make(subs, "attack_classmates", name="mallory")
    make(subs, "foreign_leaks", name="mallory2")
    (subs / "zed").mkdir()
    (subs / "zed" / "lab1_ringbuffer.py").write_text(SOLUTION.read_text())
    out = tmp_path / "grades.csv"
    rows = grading.batch(subs, ["lab1"], out, jobs=2, echo=lambda *_: None)
    import csv
    got = {r["student"]: r for r in csv.DictReader(out.open())}
    assert set(got) == {"alice", "mallory", "mallory2", "zed"}
    assert got["alice"]["lab1"] == got["alice"]["lab1_max"] == got["zed"]["lab1"], got
    assert got["mallory"]["lab1"] == "0" and got["mallory2"]["lab1"] == "0"
    assert (alice / "lab1_ringbuffer.py").read_text() == SOLUTION.read_text()
    assert len(rows) == 4
    clean(course_before)


def test_only_runs_exactly_that_test(tmp_path):
    rep = grade(ROOT / "labs", only=3)
    assert [r.number for r in rep.results] == [3]
    with pytest.raises(Exception, match="no test of lab1"):
        grade(ROOT / "labs", only=30)


def test_timeout_shows_where_the_student_was_stuck(tmp_path, course_before, monkeypatch):
    made = []  # the registry folders of the box's trusted test processes: one per box
    real_mkdtemp = sandbox.tempfile.mkdtemp

    def recording_mkdtemp(*a, **k):
        path = real_mkdtemp(*a, **k)
        if k.get("prefix") == "ipclab-box-state-":
            made.append(path)
        return path
    monkeypatch.setattr(sandbox.tempfile, "mkdtemp", recording_mkdtemp)
    folder = tmp_path / "stuck"
    folder.mkdir()
    (folder / "lab1_ringbuffer.py").write_text(STUB + "\n\nclass RingBuffer:\n    @classmethod\n"
                                               "    def create(cls, *a, **k):\n        import time\n"
                                               "        while True:\n            time.sleep(0.1)\n")
    rep = grade(folder, only=1, timeout_scale=0.15)
    r = rep.results[0]
    assert r.status == "timeout", rep.text()
    assert any("lab1_ringbuffer.py" in line and "create" in line for line in r.stacks), r.stacks
    # the test process was killed at the deadline, before it could remove its registry: the
    # supervisor removed it with the box
    assert made and not [p for p in made if os.path.exists(p)], made
    clean(course_before)
