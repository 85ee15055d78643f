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
