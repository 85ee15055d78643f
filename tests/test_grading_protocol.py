"""The student's PROTOCOL reaches the teacher (issue 20, point 5), read as text, never run.

Labs 4-10 ask for a module-level ``PROTOCOL`` string. The grader reads it with ``ast`` from
the submitted file's bytes (:func:`grading.read_protocol`) and every report shows it: the
table, JSON, Gradescope's output, the batch CSV. A missing one says so; a huge one is cut;
one that is code (an f-string, a call) is not evaluated; the file is never imported.
"""

import csv
import json
import shutil
import sys

from ipclab.core.paths import COURSE_ROOT as ROOT
from ipclab.tooling.grading import grading

SOLUTION = ROOT / "solutions" / "lab4_recordstore.py"
STUB = ROOT / "labs" / "lab4_recordstore.py"
FAST = "bad_input"  # one quick test of lab 4


def _with_protocol(tmp_path, protocol_source, name="lab4_recordstore.py"):
    """The lab 4 solution with its PROTOCOL assignment replaced by *protocol_source* (Python text)."""
    text = SOLUTION.read_text()
    start = text.index('PROTOCOL = """')
    end = text.index('"""', start + len('PROTOCOL = """')) + 3
    path = tmp_path / name
    path.write_text(text[:start] + protocol_source + text[end:])
    return path


def test_solutions_have_a_protocol_and_stubs_the_template():
    for lab in ("lab4_recordstore", "lab5_lrucache", "lab6_pool", "lab7_logger", "lab8_prefork", "lab9_seqlock",
                "lab10_diagnose"):
        status, text = grading.read_protocol(ROOT / "solutions" / f"{lab}.py")
        assert status == "written" and "Locks:" in text and "Invariants" in text, lab
        assert grading.read_protocol(ROOT / "labs" / f"{lab}.py") == ("template", ""), lab


def test_the_report_shows_the_students_protocol_in_every_format(tmp_path):
    sub = tmp_path / "alice"
    sub.mkdir()
    _with_protocol(sub, 'PROTOCOL = """\nLocks: one fcntl lock per record (alice\'s words).\nInvariants: none lost.\n"""')
    rep = grading.grade_lab("lab4", sub, include_hidden=False, only=FAST)
    assert rep.protocol_status == "written"
    text = rep.text()
    assert "PROTOCOL (the student's words" in text and "| Locks: one fcntl lock per record (alice's words)." in text
    assert "alice's words" in rep._repr_html_().replace("&#x27;", "'")
    d = json.loads(json.dumps(rep.to_dict()))
    assert d["protocol_status"] == "written" and "alice's words" in d["protocol"]
    gs = grading.gradescope([rep])
    assert "alice's words" in gs["output"] and gs["score"] == sum(t["score"] for t in gs["tests"])
    # the student's own check() says it was found, in one line
    rep.protocol_full = False
    assert "PROTOCOL: written (2 lines)" in rep.text() and "alice's words" not in rep.text()


def test_batch_csv_has_a_protocol_column(tmp_path):
    subs = tmp_path / "subs"
    (subs / "alice").mkdir(parents=True)
    (subs / "bob").mkdir()
    _with_protocol(subs / "alice", 'PROTOCOL = "Locks: per record, shared to read."')
    shutil.copy(STUB, subs / "bob")
    out = tmp_path / "grades.csv"
    grading.batch(subs, ["lab4"], out, include_hidden=False, jobs=2, echo=lambda *a: None)
    rows = {r["student"]: r for r in csv.DictReader(out.open())}
    assert rows["alice"]["lab4_protocol"] == "Locks: per record, shared to read."
    assert rows["bob"]["lab4_protocol"] == "[template]"


def test_a_missing_protocol_is_reported_as_missing(tmp_path):
    _with_protocol(tmp_path, "")
    assert grading.read_protocol(tmp_path / "lab4_recordstore.py") == ("missing", "")
    rep = grading.grade_lab("lab4", tmp_path, include_hidden=False, only=FAST)
    assert "PROTOCOL: missing" in rep.text()
    assert rep.score == rep.max_score  # the tests do not score it


def test_a_huge_protocol_is_cut_and_control_characters_removed(tmp_path):
    lines = ["\x1b[2J\x1b[31mLocks: " + "x" * 150 + "\x07"] * 5000
    path = _with_protocol(tmp_path, "PROTOCOL = " + repr("\n".join(lines)))
    status, text = grading.read_protocol(path)
    assert status == "written"
    assert len(text) < grading.PROTOCOL_MAX + 400
    assert len(text.splitlines()) <= grading.PROTOCOL_MAX_LINES + 1
    assert "cut by the grader" in text.splitlines()[-1]
    assert "\x1b" not in text and "\x07" not in text


def test_a_protocol_that_is_code_is_never_run(tmp_path):
    marker = tmp_path / "ran"
    evil = (f"import pathlib\npathlib.Path({str(marker)!r}).write_text('imported')\n"
            f"PROTOCOL = f\"{{pathlib.Path({str(marker)!r}).write_text('evaluated')}}\"\n")
    path = _with_protocol(tmp_path, evil)
    assert grading.read_protocol(path) == ("not a string", "")
    call = _with_protocol(tmp_path, f"PROTOCOL = open({str(marker)!r}, 'w').write('called')", "b.py")
    assert grading.read_protocol(call) == ("not a string", "")
    assert not marker.exists()
    assert "lab4_recordstore" not in sys.modules and "b" not in sys.modules


def test_an_unparsable_or_hostile_file_is_reported_not_raised(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text('PROTOCOL = """never closed\n')
    assert grading.read_protocol(bad)[0] == "unreadable"
    deep = tmp_path / "deep.py"
    deep.write_text("PROTOCOL = " + "(" * 100000 + "1" + ")" * 100000 + "\n")
    assert grading.read_protocol(deep)[0] == "unreadable"
    big = tmp_path / "big.py"
    big.write_bytes(b"#" * (grading.MAX_SUBMISSION + 10))
    assert grading.read_protocol(big)[0] == "unreadable"
    assert grading.read_protocol(tmp_path / "nothing.py")[0] == "unreadable"
    last = tmp_path / "last.py"
    last.write_text('PROTOCOL = "first"\nPROTOCOL: str = "second"\ndef f():\n    PROTOCOL = "inner"\n')
    assert grading.read_protocol(last) == ("written", "second")
