"""Grade a lab: run each of its tests against the student's module, safely, and explain.

Why a process per test: a submission may deadlock on a semaphore, loop, fork wildly,
crash or leave IPC objects behind. Each test therefore runs in a fresh Python process
(its own session and process group, a copy of the student's file in an empty folder, a
fresh ipclab run) with a hard timeout. Afterwards everything it started is killed (the
session, plus any process carrying its token that escaped it) and every IPC object its run
created is removed and reported: one bad test scores zero, the others still run, and the
machine is left as it was. Tests come from the installed ``ipclab.tooling.grading.labtests`` (visible) and
``grading/hidden`` (hidden, teacher only), never from the student's folder.

Three faces, one report:

* in a notebook, ``ipclab.check("lab1")`` shows the table (title, points, PASS/FAIL, what
  was expected and what happened, a hint);
* ``ipclab grade [lab1 ...]`` prints the same table and a total;
  ``--format gradescope`` writes Gradescope's ``results.json``; ``--batch DIR --csv F``
  grades a folder of submissions (one sub-folder per student) into one CSV.
"""

import csv
import html
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ipclab.core import inventory, names, registry
from ipclab.tooling.grading import labkit
from ipclab.core.errors import BadArgument

from ipclab.core.paths import COURSE_ROOT as ROOT  # noqa: E402
LABS_DIR = ROOT / "labs"
HIDDEN_DIR = ROOT / "grading" / "hidden"
TOKEN_VAR = "IPCLAB_GRADE_TOKEN"
MAX_PROCS = 64          # more live processes than this in one test: "forks wildly", killed
POLL = 0.25             # how often a running test is watched (seconds)
TIMEOUT_SCALE = float(os.environ.get("IPCLAB_GRADE_TIMEOUT_SCALE", "1"))  # slow machines: 2, 3...
OUTPUT_TAIL = 12        # lines of the test's own output shown with a failure
GRADESCOPE_VISIBILITY = {"visible": "visible", "hidden": "after_published"}
KIND_NAMES = {"posix_shm": "POSIX shared memory segment", "posix_sem": "POSIX semaphore",
              "posix_mq": "POSIX message queue", "sysv_shm": "System V shared memory segment",
              "sysv_sem": "System V semaphore set", "sysv_msg": "System V message queue",
              "file": "file"}


@dataclass
class TestResult:
    """The outcome of one test, everything the table and the JSON need."""
    lab: str
    number: int
    name: str
    title: str
    points: float
    score: float
    status: str            # passed | failed | timeout | crashed | forkbomb | leak
    summary: str = ""
    lines: list = field(default_factory=list)
    hint: str = ""
    visibility: str = "visible"
    leaks: list = field(default_factory=list)
    stray: int = 0
    output_tail: list = field(default_factory=list)
    seconds: float = 0.0
    run: str = ""          # the ipclab run the test used (its objects are gone afterwards)

    @property
    def passed(self):
        return self.status == "passed"

    def explanation(self):
        """The lines a student reads under a test: verdict, GOOD/BAD/MISSING, leaks, hint."""
        out = []
        if not self.passed:
            out.append(self.summary)
            out += ["  " + line for line in self.lines]
        if self.leaks:
            out.append(_leak_sentence(self.leaks) + " (removed by the grader):")
            out += ["  " + leak for leak in self.leaks[:6]]
        if self.stray:
            out.append(f"your code left {self.stray} process(es) running after the test; the grader killed them")
        if not self.passed and self.output_tail:
            out.append("last lines your code printed:")
            out += ["  | " + line for line in self.output_tail]
        if not self.passed and self.hint:
            out.append("hint: " + self.hint)
        return out


def _leak_sentence(leaks):
    kinds = {}
    for leak in leaks:
        k = leak.split(" ", 1)[0]
        kinds[k] = kinds.get(k, 0) + 1
    parts = [f"{n} {KIND_NAMES.get(k, k)}{'s' if n > 1 else ''}" for k, n in kinds.items()]
    return "your code leaked " + ", ".join(parts)


@dataclass
class LabReport:
    """All results of one lab for one submission."""
    lab: str
    title: str
    module: str
    submission: str
    seed: int
    results: list
    hidden_count: int = 0      # hidden tests the teacher runs for this lab
    hidden_run: bool = False   # were they run here?
    note: str = ""

    @property
    def score(self):
        return sum(r.score for r in self.results)

    @property
    def max_score(self):
        return sum(r.points for r in self.results)

    def verdict(self):
        """One line; says "visible tests passed" (never "all") when hidden tests exist."""
        n_pass = sum(r.passed for r in self.results)
        n = len(self.results)
        pts = f"{_num(self.score)}/{_num(self.max_score)} points"
        if self.note:
            return f"{self.note} — {pts}"
        hidden_pending = self.hidden_count and not self.hidden_run
        if n_pass == n and n:
            if hidden_pending:
                return (f"visible tests passed ({n}/{n}, {pts}); your teacher also runs "
                        f"{self.hidden_count} hidden test(s)")
            return f"all tests passed ({n}/{n}, {pts})"
        which = "visible tests" if hidden_pending else "tests"
        return f"{n_pass} of {n} {which} passed, {pts}"

    def text(self):
        head = f"{self.lab} · {self.title} — {self.submission} (seed {self.seed})"
        lines = [head]
        width = min(max([len(r.title) for r in self.results] + [20]) + 14, 80)
        for r in self.results:
            tag = "" if r.visibility == "visible" else " [hidden]"
            label = f"{r.number:2d}. {r.title}{tag} "
            mark = {"passed": "PASS", "timeout": "TIMEOUT", "crashed": "CRASH",
                    "forkbomb": "KILLED", "leak": "LEAK"}.get(r.status, "FAIL")
            lines.append(f"  {label.ljust(width, '.')} {_num(r.score):>3}/{_num(r.points):<3} {mark}")
            lines += ["       " + x for x in r.explanation()]
        lines.append("  " + self.verdict())
        return "\n".join(lines)

    __str__ = text

    def __repr__(self):
        return self.text()

    def _repr_html_(self):
        colors = {"passed": "#1a7f37"}
        rows = []
        for r in self.results:
            color = colors.get(r.status, "#cf222e")
            expl = html.escape("\n".join(r.explanation()))
            rows.append(
                f"<tr><td>{r.number}</td><td style='text-align:left'>{html.escape(r.title)}"
                f"{' <i>(hidden)</i>' if r.visibility != 'visible' else ''}</td>"
                f"<td>{_num(r.score)}/{_num(r.points)}</td>"
                f"<td style='color:{color};font-weight:bold'>{'PASS' if r.passed else r.status.upper()}</td>"
                f"<td style='text-align:left'><pre style='margin:0;white-space:pre-wrap'>{expl}</pre></td></tr>")
        return (f"<div><b>{html.escape(self.lab)} · {html.escape(self.title)}</b> — "
                f"<code>{html.escape(self.submission)}</code> (seed {self.seed})"
                "<table><tr><th>#</th><th style='text-align:left'>test</th><th>points</th><th>result</th>"
                "<th style='text-align:left'>what happened</th></tr>"
                + "".join(rows) + f"</table><b>{html.escape(self.verdict())}</b></div>")

    def to_dict(self):
        d = {k: v for k, v in asdict(self).items() if k != "results"}
        d.update(score=self.score, max_score=self.max_score, verdict=self.verdict(),
                 tests=[asdict(r) for r in self.results])
        return d


def _num(x):
    return f"{x:g}"


# -- finding labs, tests and submissions ---------------------------------------

def lab_id(lab):
    """'lab3' from 'lab3', 3 or '3'; a clear error for a lab that does not exist."""
    from ipclab.tooling.grading import labtests
    s = str(lab).strip().lower()
    s = s if s.startswith("lab") else f"lab{s}"
    if s not in labtests.lab_ids():
        raise BadArgument(f"no lab {lab!r}: the labs with tests are {', '.join(labtests.lab_ids())}")
    return s


def lab_tests(lab, include_hidden=True, hidden_dir=None):
    """[(spec, function, visibility)] for *lab*: visible tests, then hidden ones if present."""
    from ipclab.tooling.grading import labtests
    mod = labtests.lab_module(lab)
    out = [(mod.__name__, f, "visible") for f in labkit.tests_of(mod)]
    hidden = Path(hidden_dir or HIDDEN_DIR) / f"{lab}.py"
    if include_hidden and hidden.exists():
        hmod = labkit.load_test_module(str(hidden))
        out += [(str(hidden), f, "hidden") for f in labkit.tests_of(hmod)]
    return out


def find_submission(module, where=None):
    """The student's ``MODULE.py``: *where* is that file, or a folder searched (shallowest first)."""
    fname = f"{module}.py"
    candidates = [Path(where)] if where else [Path.cwd(), Path.cwd() / "labs", LABS_DIR]
    for c in candidates:
        if c.is_file():
            return c
        if c.is_dir():
            if (c / fname).is_file():
                return c / fname
            found = sorted(c.rglob(fname), key=lambda p: (len(p.parts), str(p)))
            found = [p for p in found if ".ipynb_checkpoints" not in p.parts]
            if found:
                return found[0]
    return None


def _display(path):
    """*path* relative to the current folder or the course, as a student would write it."""
    p = Path(path).resolve()
    for base in (Path.cwd(), ROOT):
        if p == base or base in p.parents:
            return str(p.relative_to(base))
    return str(path)


# -- running one test in its own process -----------------------------------------

def _new_run(run_id):
    path = registry.state_dir() / run_id
    path.mkdir(mode=0o700)
    meta = {"pid": os.getpid(), "start": registry.proc_start_time(os.getpid()), "created": time.time(),
            "note": "grading"}
    (path / "meta.json").write_text(json.dumps(meta))
    return registry.Run(run_id, path)


def _proc_stat(pid):
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            rest = f.read().rsplit(b")", 1)[1].split()
        return rest[0].decode(), int(rest[3]), int(rest[19])  # state, session, starttime
    except (OSError, IndexError, ValueError):
        return None


def _has_token(pid, token):
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return token in f.read()
    except OSError:
        return False


def _tree(sid, token, since):
    """Live pids of a test: its session, or started after *since* and carrying its token."""
    me = os.getpid()
    out = []
    tok = f"{TOKEN_VAR}={token}".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        st = _proc_stat(entry)
        if st is None or st[0] in ("Z", "X"):
            continue
        if st[1] == sid or (st[2] >= since and _has_token(entry, tok)):
            out.append(int(entry))
    return out


def _kill_tree(sid, token, since):
    """Stop then kill every process of the test until none is left; returns how many were found."""
    seen = set()
    for _ in range(50):
        pids = _tree(sid, token, since)
        if not pids:
            break
        seen.update(pids)
        for sig in (signal.SIGSTOP, signal.SIGKILL):  # stop first: a fork loop cannot outrun us
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except (ProcessLookupError, PermissionError):
                    pass
        time.sleep(0.05)
    return len(seen)


def _leaks(run):
    """Describe, remove and forget every object the test's run left behind."""
    rows = inventory.course_objects(run.id)
    desc = [f"{r['kind']} {r['name'] or hex(r['key'] or 0)}" for r in rows]
    inventory.remove_rows(rows)
    registry.remove_run(run)
    return desc


def _tail(path):
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return []
    lines = [line for line in text.splitlines() if line.strip()]
    return [line[:160] for line in lines[-OUTPUT_TAIL:]]


def run_test(spec, fn, student_copy, seed, lab, number, visibility="visible", timeout_scale=None):
    """Run test *fn* (from module *spec*) on *student_copy* in a killable process; a TestResult."""
    meta = fn._labtest
    timeout = meta["timeout"] * (timeout_scale or TIMEOUT_SCALE)
    res = TestResult(lab, number, meta["name"], meta["title"], meta["points"], 0, "failed",
                     hint=meta["hint"], visibility=visibility)
    run = _new_run(names.new_run_id())
    res.run = run.id
    token = secrets.token_hex(8)
    work = Path(tempfile.mkdtemp(prefix="ipclab-grade-"))
    result_path, log_path = work / "result.json", work / "output.txt"
    env = dict(os.environ, **{registry.ENV_RUN: run.id, TOKEN_VAR: token,
                              "PYTHONPATH": os.pathsep.join([str(ROOT)] + [
                                  p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]),
                              "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"})
    with open("/proc/uptime") as f:  # clock ticks since boot, to compare with /proc/PID/stat
        since = int(float(f.read().split()[0]) * os.sysconf("SC_CLK_TCK")) - 1
    t0 = time.monotonic()
    killed_for = ""
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ipclab.tooling.grading.labkit", spec, meta["name"], str(student_copy), str(seed), str(result_path)],
            cwd=student_copy.parent, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
        try:
            while proc.poll() is None:
                if time.monotonic() - t0 > timeout:
                    killed_for = "timeout"
                    break
                if len(_tree(proc.pid, token, since)) > MAX_PROCS:
                    killed_for = "forkbomb"
                    break
                time.sleep(POLL)
        finally:
            if not killed_for and proc.poll() is not None:  # exited: give helpers (resource tracker...) a moment
                grace = time.monotonic() + 1.0
                while _tree(proc.pid, token, since) and time.monotonic() < grace:
                    time.sleep(0.05)
            stray = _kill_tree(proc.pid, token, since)
            proc.wait()
    res.seconds = round(time.monotonic() - t0, 2)
    res.stray = 0 if killed_for else stray
    if res.stray > MAX_PROCS:
        killed_for = "forkbomb"
    try:
        verdict = json.loads(result_path.read_text())
    except (OSError, ValueError):
        verdict = None
    if killed_for == "timeout":
        res.status = "timeout"
        res.summary = (f"did not finish within {timeout:g} s and was killed: a deadlock (a wait "
                       "nobody will wake), an infinite loop, or a blocking call without a timeout?")
    elif killed_for == "forkbomb":
        res.status = "forkbomb"
        res.summary = f"started more than {MAX_PROCS} processes at once and was killed (a fork loop?)"
    elif verdict is None:
        rc = proc.returncode
        res.status = "crashed"
        how = (f"was killed by {signal.Signals(-rc).name}" if rc < 0 else f"exited with code {rc}")
        res.summary = f"the test process {how} before it could report (os._exit, sys.exit or a crash in your code?)"
    else:
        res.status, res.summary, res.lines = verdict["status"], verdict["summary"], verdict["lines"]
    res.leaks = _leaks(run)
    if res.status == "passed" and res.leaks:
        res.status = "leak"
        res.summary = "the result is right, but " + _leak_sentence(res.leaks) + ": remove what you create (close + unlink / IPC_RMID)"
    elif res.status == "passed" and res.stray:
        res.status = "failed"
        res.summary = (f"the result is right, but your code left {res.stray} process(es) running: "
                       "join (or kill and reap) every process you start")
    res.score = res.points if res.status == "passed" else 0
    if res.status != "passed":
        res.output_tail = _tail(log_path)
    shutil.rmtree(work, ignore_errors=True)
    return res


# -- grading a lab ------------------------------------------------------------------

def grade_lab(lab, submission=None, *, include_hidden=True, only=None, seed=None, hidden_dir=None, jobs=1,
              timeout_scale=None):
    """Grade one lab of one submission (a file or a folder) and return its :class:`LabReport`."""
    from ipclab.tooling.grading import labtests
    lab = lab_id(lab)
    mod = labtests.lab_module(lab)
    tests = lab_tests(lab, include_hidden, hidden_dir)
    numbered = [(i + 1, t) for i, t in enumerate(tests)]
    if only:
        numbered = [(i, t) for i, t in numbered
                    if str(only) == str(i) or str(only).lower() in t[1].__name__.lower()
                    or str(only).lower() in t[1]._labtest["title"].lower()]
        if not numbered:
            raise BadArgument(f"no test of {lab} matches {only!r}; its tests are: " +
                              "; ".join(f"{i}. {t[1]._labtest['title']}" for i, t in enumerate(tests, 1)))
    seed = secrets.randbelow(10**6) if seed is None else int(seed)
    hidden_count = getattr(mod, "HIDDEN", 0)
    hidden_run = any(t[2] == "hidden" for t in tests)
    path = find_submission(mod.MODULE, submission)
    report = LabReport(lab, mod.TITLE, mod.MODULE, _display(path or submission or f"labs/{mod.MODULE}.py"), seed, [],
                       hidden_count, hidden_run)
    if path is None:
        report.note = f"no {mod.MODULE}.py found in {submission or 'this folder or labs/'}"
        report.results = [TestResult(lab, i, t[1].__name__, t[1]._labtest["title"], t[1]._labtest["points"], 0,
                                     "failed", summary=f"missing {mod.MODULE}.py", visibility=t[2])
                          for i, t in numbered]
        return report
    work = Path(tempfile.mkdtemp(prefix="ipclab-sub-"))
    try:
        copy = work / f"{mod.MODULE}.py"  # alone in its folder: nothing else of the student's is importable
        shutil.copyfile(path, copy)

        def one(item):
            i, (spec, fn, vis) = item
            return run_test(spec, fn, copy, seed * 1000 + i, lab, i, vis, timeout_scale)

        if jobs > 1:
            with ThreadPoolExecutor(jobs) as pool:
                report.results = list(pool.map(one, numbered))
        else:
            report.results = [one(item) for item in numbered]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return report


def check(lab, only=None, *, submission=None, seed=None, jobs=1):
    """In a notebook: grade *lab*'s visible tests (or those matching *only*) on your module; shows the table.

    ``check("lab1")`` grades every visible test, ``check("lab1", "fifo")`` or
    ``check("lab1", 2)`` one of them. Your module is ``labs/<module>.py`` (or the folder
    the notebook runs in); tests run in separate processes, so a hang costs a timeout,
    not your kernel.
    """
    report = grade_lab(lab, submission, include_hidden=False, only=only, seed=seed, jobs=jobs)
    if not _in_ipython():  # from a script or `python -c`, nothing would display the report
        print(report.text())
    return report


def _in_ipython():
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return get_ipython() is not None


# -- output formats -------------------------------------------------------------------

GRADESCOPE_TOP = {"score", "execution_time", "output", "output_format", "test_output_format",
                  "test_name_format", "visibility", "stdout_visibility", "extra_data", "tests", "leaderboard"}
GRADESCOPE_TEST = {"score", "max_score", "status", "name", "name_format", "number", "output",
                   "output_format", "tags", "visibility", "extra_data"}


def gradescope(reports):
    """Gradescope's results.json (https://gradescope-autograders.readthedocs.io/en/latest/specs/)."""
    tests = []
    for rep in reports:
        for r in rep.results:
            tests.append({"name": f"{rep.lab} · {r.title}", "number": f"{rep.lab[3:]}.{r.number}",
                          "score": r.score, "max_score": r.points,
                          "status": "passed" if r.passed else "failed",
                          "output": "\n".join(r.explanation()) or "passed",
                          "visibility": GRADESCOPE_VISIBILITY[r.visibility]})
    return {"score": sum(rep.score for rep in reports),
            "execution_time": round(sum(r.seconds for rep in reports for r in rep.results)),
            "output": "\n".join(f"{rep.lab}: {rep.verdict()}" for rep in reports),
            "visibility": "visible", "stdout_visibility": "hidden", "tests": tests}


def batch(folder, labs, csv_path, *, include_hidden=True, hidden_dir=None, jobs=1, echo=print):
    """Grade every sub-folder of *folder* (one per student) on *labs*; write one CSV row each."""
    students = sorted(p for p in Path(folder).iterdir() if p.is_dir() and not p.name.startswith("."))
    if not students:
        raise BadArgument(f"{folder} has no sub-folders: batch mode expects one folder per student")
    header = ["student"] + [c for lab in labs for c in (lab, f"{lab}_max")] + ["total", "max_total", "leaks", "notes"]
    rows = []
    for s in students:
        row = {"student": s.name}
        notes, leaks = [], 0
        for lab in labs:
            rep = grade_lab(lab, s, include_hidden=include_hidden, hidden_dir=hidden_dir, jobs=jobs)
            row[lab], row[f"{lab}_max"] = _num(rep.score), _num(rep.max_score)
            leaks += sum(len(r.leaks) for r in rep.results)
            bad = [f"{lab}.{r.number} {r.status}" for r in rep.results if not r.passed]
            notes += [rep.note] if rep.note else bad
        row["total"] = _num(sum(float(row[lab]) for lab in labs))
        row["max_total"] = _num(sum(float(row[f"{lab}_max"]) for lab in labs))
        row["leaks"], row["notes"] = leaks, "; ".join(notes)
        rows.append(row)
        echo(f"{s.name}: {row['total']}/{row['max_total']}")
    with open(csv_path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=header)
        w.writeheader()
        w.writerows(rows)
    return rows


# -- the `ipclab grade` command -----------------------------------------------------------

def add_arguments(parser):
    parser.add_argument("labs", nargs="*", help="lab1 ... lab8, or 'all' (the default)")
    parser.add_argument("--submission", "-s", help="the student's module file, or a folder holding it (default: labs/)")
    parser.add_argument("--only", help="only the test with this number, or whose name/title contains this")
    parser.add_argument("--seed", type=int, help="replay a run with the seed it printed")
    parser.add_argument("--no-hidden", action="store_true", help="skip hidden tests even if grading/hidden exists")
    parser.add_argument("--hidden-dir", help=f"folder of hidden tests (default {HIDDEN_DIR})")
    parser.add_argument("--format", choices=("text", "json", "gradescope"), default="text")
    parser.add_argument("--output", "-o", help="write json/gradescope output here (gradescope default: "
                        "/autograder/results/results.json on Gradescope, else results.json)")
    parser.add_argument("--batch", metavar="DIR", help="grade each sub-folder of DIR (one per student)")
    parser.add_argument("--csv", default="grades.csv", help="with --batch: the CSV to write (default grades.csv)")
    parser.add_argument("--jobs", "-j", type=int, default=1, help="tests run at once (default 1)")


def main(args):
    from ipclab.tooling.grading import labtests
    labs = labtests.lab_ids() if not args.labs or args.labs == ["all"] else [lab_id(x) for x in args.labs]
    hidden = not args.no_hidden
    if args.batch:
        batch(args.batch, labs, args.csv, include_hidden=hidden, hidden_dir=args.hidden_dir, jobs=args.jobs)
        print(f"wrote {args.csv}")
        return 0
    submission = args.submission
    if submission is None and args.format == "gradescope" and Path("/autograder/submission").is_dir():
        submission = "/autograder/submission"
    reports = []
    for lab in labs:
        rep = grade_lab(lab, submission, include_hidden=hidden, only=args.only, seed=args.seed,
                        hidden_dir=args.hidden_dir, jobs=args.jobs)
        reports.append(rep)
        if args.format == "text":
            print(rep.text(), flush=True)
    total, max_total = sum(r.score for r in reports), sum(r.max_score for r in reports)
    if args.format == "text":
        if len(reports) > 1:
            print(f"TOTAL {_num(total)}/{_num(max_total)}")
    elif args.format == "json":
        text = json.dumps([r.to_dict() for r in reports], indent=2)
        Path(args.output).write_text(text) if args.output else print(text)
    else:
        out = args.output or ("/autograder/results/results.json" if Path("/autograder/results").is_dir()
                              else "results.json")
        Path(out).write_text(json.dumps(gradescope(reports), indent=2))
        print(f"wrote {out}: {_num(total)}/{_num(max_total)}")
    return 0 if total == max_total else 1
