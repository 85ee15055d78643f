"""Numbers in the docs are generated (ipclab.tooling.docnumbers), never typed: none is stale."""

import json

from ipclab.tooling import docnumbers

JUNIT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="1"
failures="2" skipped="30" tests="1000" time="601.2"></testsuite></testsuites>"""


def test_no_generated_number_is_stale():
    stale = docnumbers.rewrite(check=True)
    assert stale == [], f"run `python -m ipclab.tooling.docnumbers` and commit: {stale}"


def test_lab_points_come_from_the_visible_tests():
    from ipclab.tooling.grading import grading
    visible = grading.lab_tests("lab1", include_hidden=False)
    assert docnumbers.lab_points("lab1") == sum(fn._labtest["points"] for _s, fn, _v in visible) > 0


def test_a_recorded_run_renders_counts_date_and_commit(tmp_path):
    (tmp_path / "summary.txt").write_text("# .ci/run 2026-12-02T06:24Z commit abc1234 on 2 CPUs\nroot passed\n")
    (tmp_path / "root.xml").write_text(JUNIT)
    run = docnumbers.record_run(tmp_path, out=tmp_path / "last_run.json")
    assert json.loads((tmp_path / "last_run.json").read_text()) == run
    assert run["environments"]["root"] == {"tests": 1000, "passed": 967, "failed": 3, "skipped": 30,
                                           "seconds": 601}
    text = docnumbers.render_last_run(run)
    assert "2026-12-02T06:24Z" in text and "abc1234" in text and "| 967 / 3 / 30 | 10 min 1 s |" in text


def test_instructor_titles_points_and_counts_come_from_the_tests():
    from ipclab.tooling.grading import grading, labtests
    text = docnumbers.INSTRUCTOR.read_text()
    for lab in labtests.lab_ids():
        f = docnumbers.lab_facts(lab)
        tests = grading.lab_tests(lab)
        assert f["points"] == sum(fn._labtest["points"] for _s, fn, v in tests if v == "visible") > 0
        assert f["tests"] == sum(v == "visible" for _s, _f, v in tests)
        assert f["title"] == labtests.lab_module(lab).TITLE
        line = f"**Lab {f['number']}: {f['title']}** ({docnumbers._points_text(f)})"
        assert line in text, line
        assert f"| {f['number']} {f['title']} (`{f['module']}`) |" in text


def test_a_stale_instructor_number_or_title_is_rewritten():
    text = docnumbers.INSTRUCTOR.read_text()
    f = docnumbers.lab_facts("lab4")
    good = docnumbers._points_text(f)
    stale = text.replace(good, good.replace(f"{f['points']} points", f"{f['points'] + 3} points"), 1)
    stale = stale.replace(f"**Lab 4: {f['title']}**", "**Lab 4, an old title**", 1)
    assert stale != text
    assert docnumbers._updated_instructor(stale) == text


def test_each_labs_declared_hidden_count_is_its_hidden_tests():
    """labtests.labN.HIDDEN is what a student's report announces; the teacher's grading/hidden has that many."""
    from ipclab.tooling.grading import grading, labtests
    for lab in labtests.lab_ids():
        n = sum(v == "hidden" for _s, _f, v in grading.lab_tests(lab))
        if (grading.HIDDEN_DIR / f"{lab}.py").exists():
            assert n == labtests.lab_module(lab).HIDDEN, lab
