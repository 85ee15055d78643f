"""Numbers in the docs are generated, never typed.

Why: a typed figure goes stale without anyone noticing (a lab brief said 8 points while its
tests gave 10; docs/RELIABILITY.md said 961 tests while 969 ran). Each number here comes
from where it is true, and tests/test_doc_numbers.py fails when a doc is out of step::

    python -m ipclab.tooling.docnumbers                 # rewrite the numbers in place
    python -m ipclab.tooling.docnumbers --check         # exit 1 and list what is stale
    python -m ipclab.tooling.docnumbers --record build/ci   # .ci/run: record its run first

* each lab brief's ``**Grading:** N points in the visible tests``: the sum of the points of
  that lab's visible tests (:func:`ipclab.tooling.grading.grading.lab_tests`);
* docs/INSTRUCTOR.md's lab table (each row's title, time and points: visible points and
  tests, hidden tests and their points) and each lab's heading in "The labs and the mistakes
  they catch": titles from the lab's test module (``TITLE``), points and counts from its
  tests (visible ones, and ``grading/hidden/labN.py``), time from the brief's ``**Time:**``;
* the block of docs/RELIABILITY.md between ``<!-- last-run -->`` markers: rendered from
  docs/last_run.json, which ``--record`` writes from the JUnit reports and summary that
  ``.ci/run`` leaves in build/ci (tests, failures, skips and time per environment, the date
  and the commit).
"""

import argparse
import json
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from ipclab.core.paths import COURSE_ROOT as ROOT

__all__ = ["lab_points", "lab_facts", "record_run", "render_last_run", "rewrite", "main"]

LAST_RUN = ROOT / "docs" / "last_run.json"
RELIABILITY = ROOT / "docs" / "RELIABILITY.md"
INSTRUCTOR = ROOT / "docs" / "INSTRUCTOR.md"
# a row of INSTRUCTOR.md's lab table: | N title (`module`) | after | time | points | status |
LAB_ROW_RE = re.compile(r"^\| ([1-9]\d*) [^|`]*\(`(lab\d+_\w+)`\) \| ([^|]*) \| [^|]* \| [^|]* \| ([^|]*) \|$", re.M)
# a lab's heading in "The labs and the mistakes they catch": **Lab N: title** (points...)
LAB_HEAD_RE = re.compile(r"^\*\*Lab ([1-9]\d*)[,:] [^*]*\*\* \([^)\n]*\)$", re.M)
TIME_RE = re.compile(r"\*\*Time:\*\* ([^.*]+?)\.")
POINTS_RE = re.compile(r"(\*\*Grading:\*\* )(\d+)( points in the visible tests)")
BLOCK_RE = re.compile(r"(<!-- last-run: generated.*?-->\n)(.*?)(<!-- /last-run -->)", re.S)
ENV_TEXT = {
    "root": "root, gcc/strace/valgrind/chromium, /dev/mqueue mounted, 2 CPUs",
    "student": "ordinary user, no gcc/strace/valgrind, /dev/mqueue not mounted, 64 MiB /dev/shm, 1 CPU",
}


def lab_points(lab):
    """Points of *lab*'s visible tests, from the tests themselves."""
    from ipclab.tooling.grading import grading
    return sum(fn._labtest["points"] for _spec, fn, _visibility in grading.lab_tests(lab, include_hidden=False))


def lab_facts(lab):
    """What INSTRUCTOR.md says of *lab*, from its tests and brief: title, module, points, counts, time."""
    from ipclab.tooling.grading import grading, labtests
    mod = labtests.lab_module(lab)
    tests = grading.lab_tests(lab, include_hidden=True)
    visible = [fn._labtest["points"] for _s, fn, v in tests if v == "visible"]
    hidden = [fn._labtest["points"] for _s, fn, v in tests if v == "hidden"]
    brief = next((src for name, src in _briefs() if name == lab), None)
    m = TIME_RE.search(brief.read_text()) if brief else None
    time = m.group(1).replace("minutes", "min").replace("hours", "h").replace("hour", "h") if m else "?"
    return {"lab": lab, "number": int(lab[3:]), "title": mod.TITLE, "module": mod.MODULE, "time": time,
            "points": sum(visible), "tests": len(visible), "hidden_points": sum(hidden),
            "hidden_tests": len(hidden) if hidden else getattr(mod, "HIDDEN", 0)}


def _points_text(f):
    hidden = (f"; +{f['hidden_tests']} hidden test{'s' if f['hidden_tests'] != 1 else ''}"
              + (f", {_n(f['hidden_points'])} points" if f["hidden_points"] else "")) if f["hidden_tests"] else ""
    return f"{_n(f['points'])} points in {f['tests']} visible tests{hidden}"


def _n(x):
    return f"{x:g}"


def _updated_instructor(text):
    from ipclab.tooling.grading import labtests
    facts = {int(lab[3:]): lab_facts(lab) for lab in labtests.lab_ids()}

    def row(m):
        f = facts.get(int(m.group(1)))
        if f is None:
            return m.group(0)
        return (f"| {f['number']} {f['title']} (`{f['module']}`) | {m.group(3)} | {f['time']} | "
                f"{_points_text(f)} | {m.group(4)} |")

    def head(m):
        f = facts.get(int(m.group(1)))
        return m.group(0) if f is None else f"**Lab {f['number']}: {f['title']}** ({_points_text(f)})"
    return LAB_HEAD_RE.sub(head, LAB_ROW_RE.sub(row, text))


def _briefs():
    for src in sorted((ROOT / "labs" / "py").glob("lab*_*.py")):
        yield src.stem.split("_")[0], src


def _junit_counts(path):
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    get = lambda k: sum(int(float(s.get(k, 0))) for s in suites)  # noqa: E731
    tests, failures, errors, skipped = get("tests"), get("failures"), get("errors"), get("skipped")
    return {"tests": tests, "passed": tests - failures - errors - skipped, "failed": failures + errors,
            "skipped": skipped, "seconds": round(sum(float(s.get("time", 0)) for s in suites))}


def record_run(ci_dir, out=None):
    """docs/last_run.json (or *out*) from .ci/run's build/ci: summary.txt's first line, one JUnit per environment."""
    ci_dir = Path(ci_dir)
    head = (ci_dir / "summary.txt").read_text().splitlines()[0]
    m = re.search(r"\.ci/run (\S+) commit (\S+) on (\d+) CPUs", head)
    if not m:
        raise SystemExit(f"{ci_dir / 'summary.txt'}: no '.ci/run DATE commit SHA on N CPUs' line")
    envs = {x.stem: _junit_counts(x) for x in sorted(ci_dir.glob("*.xml"))}
    run = {"date": m.group(1), "commit": m.group(2), "cpus": int(m.group(3)), "environments": envs}
    Path(out or LAST_RUN).write_text(json.dumps(run, indent=2) + "\n")
    return run


def render_last_run(run):
    """The RELIABILITY.md rows of the last recorded run."""
    rows = [f"Recorded by `.ci/run` on {run['date']}, commit {run['commit']}, {run['cpus']} CPUs "
            "(`docs/last_run.json`).", "",
            "| environment | tests passed / failed / skipped | time of the tests |", "| --- | --- | --- |"]
    for env, c in run["environments"].items():
        rows.append(f"| {env}: {ENV_TEXT.get(env, env)} | {c['passed']} / {c['failed']} / {c['skipped']} "
                    f"| {c['seconds'] // 60} min {c['seconds'] % 60} s |")
    return "\n".join(rows) + "\n"


def _updated_brief(text, lab):
    return POINTS_RE.sub(lambda m: f"{m.group(1)}{lab_points(lab)}{m.group(3)}", text)


def _updated_reliability(text):
    if not LAST_RUN.exists() or not BLOCK_RE.search(text):
        return text
    run = json.loads(LAST_RUN.read_text())
    return BLOCK_RE.sub(lambda m: m.group(1) + render_last_run(run) + m.group(3), text)


def rewrite(check=False):
    """Bring every generated number up to date; returns the files that were (or would be) changed."""
    changed = []
    targets = [(src, lambda t, lab=lab: _updated_brief(t, lab)) for lab, src in _briefs()]
    targets.append((RELIABILITY, _updated_reliability))
    if INSTRUCTOR.exists():
        targets.append((INSTRUCTOR, _updated_instructor))
    for path, update in targets:
        old = path.read_text()
        new = update(old)
        if new != old:
            changed.append(path)
            if not check:
                path.write_text(new)
    return changed


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m ipclab.tooling.docnumbers", description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="change nothing; exit 1 if a number is stale")
    p.add_argument("--record", metavar="CI_DIR", help="first write docs/last_run.json from .ci/run's output")
    args = p.parse_args(argv)
    if args.record:
        record_run(args.record)
    changed = rewrite(check=args.check)
    for path in changed:
        print(f"{'stale' if args.check else 'updated'}: {path.relative_to(ROOT)}")
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
