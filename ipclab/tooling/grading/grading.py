"""Grade a lab: run each of its tests against the student's module, in a box, and explain.

The student's code never decides its own grade (issue 16). For each test the grader (this
process, which never imports student code) starts a keeper (:mod:`.runner`) that builds a
*box* (:mod:`.sandbox`: another uid, its own IPC, mount, PID and network namespaces, a
private ``/dev/shm`` and ``/dev/mqueue``, rlimits) and runs the test in a trusted process
inside it; the test drives the student's module through a proxy (:mod:`.remote`) whose
calls execute in boxed *agents* that can see only the submitted file and Python. The
verdict, the leaks (every object left in the box, whatever its name) and the processes
left running are reported by the trusted side; at the deadline every process of the box
dies with its PID namespace, after showing where it was stuck (faulthandler).

Per test: memory, processes, file size, CPU and output are capped; per submission a time
budget (``--budget``) bounds the whole; a module that does not import is reported once.
Where no isolation is possible the grades still come, marked *not tamper-proof*, and the
teacher's outputs (Gradescope, CSV) are refused unless ``--unsafe``.

Three faces, one report:

* in a notebook, ``ipclab.check("lab1")`` shows the table (title, points, PASS/FAIL, what
  was expected and what happened, a hint);
* ``ipclab grade [lab1 ...]`` prints the same table and a total;
  ``--format gradescope`` writes Gradescope's ``results.json``; ``--batch DIR --csv F``
  grades a folder of submissions (one sub-folder per student) into one CSV, written as it goes.

Each lab asks the student for a ``PROTOCOL`` string (which lock guards what, the
invariants). The grader reads it from the submitted file *as text* (:func:`read_protocol`:
``ast`` on the bytes, a plain string literal only, size-capped, control characters
removed; nothing of the student's runs in this process) and every face shows it to the
teacher: the table, ``--format json``, Gradescope's top-level output and a
``labN_protocol`` column of the CSV. The tests never score it; docs/INSTRUCTOR.md has the
rubric for the manual points.
"""

import ast

import csv
import html
import io
import json
import os
import secrets
import shutil
import stat
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ipclab.core import kinds
from ipclab.core.errors import BadArgument
from ipclab.core.paths import PACKAGE_DIR
from ipclab.tooling.grading import labkit, sandbox

__all__ = ["TestResult", "LabReport", "Budget", "grade_lab", "check", "batch", "gradescope", "main",
           "add_arguments", "lab_id", "lab_tests", "find_submission", "copy_submission", "BadSubmission",
           "read_protocol"]

from ipclab.core.paths import COURSE_ROOT as ROOT  # noqa: E402
LABS_DIR = ROOT / "labs"
HIDDEN_DIR = ROOT / "grading" / "hidden"
MAX_PROCS = 64          # processes (and threads) of the box's uid in one test
MAX_SUBMISSION = 1024 * 1024  # bytes: a .py file larger than this is refused
BUDGET = float(os.environ.get("IPCLAB_GRADE_BUDGET", "900"))  # seconds per submission (all labs)
IMPORT_TIMEOUT = float(os.environ.get("IPCLAB_GRADE_IMPORT_TIMEOUT", "20"))
TIMEOUT_SCALE = float(os.environ.get("IPCLAB_GRADE_TIMEOUT_SCALE", "1"))  # slow machines: 2, 3...
OUTPUT_TAIL = 12        # lines of the test's own output shown with a failure
PROTOCOL_MAX = 4000     # characters of a student's PROTOCOL shown (the rest is cut, and says so)
PROTOCOL_MAX_LINES = 60
PROTOCOL_CSV_MAX = 2000
PROTOCOL_PLACEHOLDER = "(Write your synchronisation protocol here"  # the stub's template (labgen)
GRADESCOPE_VISIBILITY = {"visible": "visible", "hidden": "after_published"}


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
    run: str = ""          # kept for old readers of the JSON
    stacks: list = field(default_factory=list)  # where the student's processes were, at a timeout

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
        if self.stacks:
            out.append("where your processes were when the time ran out (most recent call first):")
            out += ["  " + line for line in self.stacks]
        if not self.passed and self.output_tail:
            out.append("last lines your code printed:")
            out += ["  | " + line for line in self.output_tail]
        if not self.passed and self.hint:
            out.append("hint: " + self.hint)
        return out


def _leak_sentence(leaks):
    counts = {}
    for leak in leaks:
        k = leak.split(" ", 1)[0]
        counts[k] = counts.get(k, 0) + 1
    parts = [f"{n} {kinds.label(k)}{'s' if n > 1 else ''}" for k, n in counts.items()]
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
    isolation: str = ""        # full | partial | none (see sandbox.isolation_level)
    import_error: str = ""     # shown once, instead of once per test
    isolation_reason: str = ""
    protocol: str = ""         # the student's PROTOCOL text, read without running it (read_protocol)
    protocol_status: str = ""  # written | missing | template | not a string | unreadable
    protocol_full: bool = True  # False in a student's check(): one line instead of the text

    def protocol_lines(self):
        """The report's PROTOCOL block: a status line, then the text as written (capped)."""
        if not self.protocol_status:
            return []
        head = {"written": "PROTOCOL (the student's words, read as text and never run; for manual grading):",
                "missing": "PROTOCOL: missing (no module-level PROTOCOL = \"\"\"...\"\"\" in the file)",
                "template": "PROTOCOL: not written (still the template of the stub)",
                }.get(self.protocol_status, f"PROTOCOL: {self.protocol_status}")
        if self.protocol_status != "written":
            return [head]
        if not self.protocol_full:
            n = len(self.protocol.splitlines())
            return [f"PROTOCOL: written ({n} line{'s' if n != 1 else ''}); your teacher reads it with your grade"]
        return [head] + ["  | " + line for line in self.protocol.splitlines()]

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
        if self.import_error:
            lines += ["  " + x for x in self.import_error.splitlines()]
        width = min(max([len(r.title) for r in self.results] + [20]) + 14, 80)
        for r in self.results:
            tag = "" if r.visibility == "visible" else " [hidden]"
            label = f"{r.number:2d}. {r.title}{tag} "
            mark = {"passed": "PASS", "timeout": "TIMEOUT", "crashed": "CRASH",
                    "forkbomb": "KILLED", "leak": "LEAK"}.get(r.status, "FAIL")
            lines.append(f"  {label.ljust(width, '.')} {_num(r.score):>3}/{_num(r.points):<3} {mark}")
            lines += ["       " + x for x in r.explanation()]
        lines.append("  " + self.verdict())
        lines += ["  " + x for x in self.protocol_lines()]
        if self.isolation and self.isolation != "full":
            lines.append("  note: this grade is not tamper-proof here (" + self.isolation_reason + ")")
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
                + "".join(rows) + f"</table><b>{html.escape(self.verdict())}</b>"
                + (f"<pre style='white-space:pre-wrap'>{html.escape(chr(10).join(self.protocol_lines()))}</pre>"
                   if self.protocol_status else "") + "</div>")

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


def find_submission(module, where=None, suffix=".py"):
    """The student's ``MODULE.py`` (``MODULE.c`` with *suffix* ``.c``): *where* is that file, or a
    folder searched (shallowest first)."""
    fname = f"{module}{suffix}"
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


# -- submissions: regular files only ---------------------------------------------------

class BadSubmission(BadArgument):
    """The submitted path is not a plain file of reasonable size (symlink, device, fifo, huge)."""


def copy_submission(path, module, root=None, suffix=".py"):
    """Copy *path* (refusing symlinks and non-regular files) alone into a fresh folder, as
    ``MODULE`` + *suffix*; that folder.

    *root* is the folder the student submitted: no component between it and the file may
    be a symlink either (a symlinked folder could point at the solutions).
    """
    path = Path(path)
    if root is not None:
        root = Path(root)
        rel = path.relative_to(root) if path.is_absolute() == root.is_absolute() else None
        p = root
        for part in (rel.parts[:-1] if rel else ()):
            p = p / part
            if p.is_symlink():
                raise BadSubmission(f"{_display(p)} is a symbolic link: submit the folder itself, not a link")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        if path.is_symlink():
            raise BadSubmission(f"{_display(path)} is a symbolic link, not your file: submit the {suffix} file itself") from None
        raise BadSubmission(f"cannot read {_display(path)}: {e.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise BadSubmission(f"{_display(path)} is not a regular file (a device, a fifo, a folder?): "
                                f"submit the {suffix} file itself")
        if st.st_size > MAX_SUBMISSION:
            raise BadSubmission(f"{_display(path)} is {st.st_size} bytes, over the {MAX_SUBMISSION}-byte limit")
        data = os.read(fd, MAX_SUBMISSION + 1)
    finally:
        os.close(fd)
    work = Path(tempfile.mkdtemp(prefix="ipclab-sub-"))
    work.chmod(0o755)
    copy = work / f"{module}{suffix}"
    copy.write_bytes(data)
    copy.chmod(0o644)
    return work


# -- the student's PROTOCOL, read as text ---------------------------------------------------

def _printable(text):
    """*text* without control characters (terminal escapes, NULs); newlines and tabs kept."""
    return "".join(ch if ch in "\n\t" or (ch.isprintable()) else "\ufffd" for ch in text)


def read_protocol(path):
    """``(status, text)`` of the module-level ``PROTOCOL`` string in the file *path*, never running it.

    The file's bytes (at most ``MAX_SUBMISSION``) are parsed with :func:`ast.parse`; the last
    top-level ``PROTOCOL = "..."`` (or ``PROTOCOL: str = "..."``) whose value is a plain
    string literal is the text. Nothing is imported, evaluated or executed: an f-string, a
    call or a name is reported as ``"not a string"``, not computed. The text is cut to
    ``PROTOCOL_MAX`` characters and ``PROTOCOL_MAX_LINES`` lines (saying so) and stripped
    of control characters. Status: ``written``, ``missing``, ``template`` (the stub's text
    unchanged), ``not a string`` or ``unreadable`` (the file does not parse).
    """
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_SUBMISSION + 1)
    except OSError as e:
        return "unreadable", f"cannot read the file: {e.strerror}"
    if len(data) > MAX_SUBMISSION:
        return "unreadable", f"the file is over {MAX_SUBMISSION} bytes"
    try:
        tree = ast.parse(data, filename=os.path.basename(str(path)))
    except (SyntaxError, ValueError, RecursionError, MemoryError) as e:
        line = getattr(e, "lineno", None)
        return "unreadable", f"the file does not parse ({type(e).__name__}{f' at line {line}' if line else ''})"
    found = None
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        if any(isinstance(t, ast.Name) and t.id == "PROTOCOL" for t in targets):
            found = value
    if found is None:
        return "missing", ""
    if not (isinstance(found, ast.Constant) and isinstance(found.value, str)):
        return "not a string", ""
    text = found.value.strip("\n")
    if PROTOCOL_PLACEHOLDER in text:
        return "template", ""
    if not text.strip():
        return "missing", ""
    cut = []
    if len(text) > PROTOCOL_MAX:
        cut.append(f"{len(text)} characters")
        text = text[:PROTOCOL_MAX]
    lines = text.splitlines()
    if len(lines) > PROTOCOL_MAX_LINES:
        cut.append(f"{len(lines)} lines")
        lines = lines[:PROTOCOL_MAX_LINES]
    lines = [_printable(line)[:200] for line in lines]
    if cut:
        lines.append(f"[cut by the grader: the PROTOCOL has {' and '.join(cut)}; "
                     f"the report shows {PROTOCOL_MAX} characters and {PROTOCOL_MAX_LINES} lines at most]")
    return "written", "\n".join(lines)


# -- running one test in its own box -------------------------------------------------------

class Budget:
    """A total time budget for one submission (all its labs and tests)."""

    def __init__(self, seconds=None):
        self.seconds = BUDGET if seconds is None else float(seconds)
        self.end = time.monotonic() + self.seconds
        self.lock = threading.Lock()

    def left(self):
        return self.end - time.monotonic()


def _binds():
    return sandbox.default_binds() + [str(PACKAGE_DIR)]


def _hidden_paths(hidden_dir=None):
    return [str(p) for p in {HIDDEN_DIR, ROOT / "solutions", Path(hidden_dir or HIDDEN_DIR)}]


def _limits(timeout, iso_mode):
    return sandbox.Limits(timeout=timeout, nproc=MAX_PROCS if iso_mode != "userns-self" else 4 * MAX_PROCS)


def _keeper(config, timeout, iso):
    """Run the keeper (one box) with *config*; its Outcome."""
    cfg = dict(config, mode=iso.mode, binds=_binds(), hide=_hidden_paths(config.get("hidden_dir")))
    sup = sandbox.Supervisor([sandbox.PYTHON, "-m", "ipclab.tooling.grading.runner"], cfg, _limits(timeout, iso.mode))
    return sup.run(timeout)


def _tail(text):
    lines = [line for line in text.splitlines() if line.strip()]
    return [line[:160] for line in lines[-OUTPUT_TAIL:]]


def _stack_lines(text, module, limit=24):
    """The useful lines of faulthandler dumps: thread headers and frames, the student's first."""
    keep = [line.rstrip() for line in text.splitlines()
            if line.strip().startswith(("File ", "Thread ", "Current thread", "Stack "))]
    return [line[:160] for line in keep][:limit]


def run_test(spec, fn, work, module, seed, lab, number, visibility="visible", timeout_scale=None,
             budget=None, iso=None, hidden_dir=None):
    """Run test *fn* (from *spec*) on the submission copied in *work*, in a box; a TestResult."""
    meta = fn._labtest
    iso = iso or sandbox.isolation_level()
    timeout = meta["timeout"] * (timeout_scale or TIMEOUT_SCALE)
    res = TestResult(lab, number, meta["name"], meta["title"], meta["points"], 0, "failed",
                     hint=meta["hint"], visibility=visibility)
    left = budget.left() if budget else timeout
    if left <= 1:
        res.summary = "not run: the time budget for this submission is used up"
        return res
    timeout = min(timeout, left)
    config = {"work": str(work), "module": module, "test_spec": spec, "test_name": meta["name"], "seed": seed,
              "import_timeout": min(IMPORT_TIMEOUT, timeout), "hidden_dir": str(hidden_dir or HIDDEN_DIR)}
    oc = _keeper(config, timeout, iso)
    res.seconds = oc.seconds
    final = next((m for m in reversed(oc.messages) if "verdict" in m), None)
    errors = [m["error"] for m in oc.messages if "error" in m]
    if oc.timed_out:
        res.status = "timeout"
        res.summary = (f"did not finish within {timeout:g} s and was killed: a deadlock (a wait "
                       "nobody will wake), an infinite loop, or a blocking call without a timeout?")
        res.stacks = _stack_lines(oc.stacks, module)
        res.stray = oc.box_procs  # on a loaded machine a fork loop can outlast the clock
    elif final is None:
        res.status = "error"
        res.summary = "the grader could not run this test: " + (errors[0] if errors else oc.log.strip()[-300:])
    else:
        v = final["verdict"]
        res.status, res.summary, res.lines = v.get("status", "error"), v.get("summary", ""), v.get("lines", [])
        res.leaks = [f"{kind} {name}" for kind, name in final.get("leaks", [])]
        res.stray = int(final.get("strays", 0))
    if res.stray >= MAX_PROCS - 8 or (res.status != "passed" and "Resource temporarily unavailable" in
                                      " ".join(res.lines) and res.stray):
        res.status = "forkbomb"
        res.summary = (f"started {res.stray} processes that were still running (the box allows {MAX_PROCS}): "
                       "a fork loop? every process you start must end and be reaped")
    if res.status == "passed" and res.leaks:
        res.status = "leak"
        res.summary = "the result is right, but " + _leak_sentence(res.leaks) + ": remove what you create (close + unlink / IPC_RMID)"
    elif res.status == "passed" and res.stray:
        res.status = "failed"
        res.summary = (f"the result is right, but your code left {res.stray} process(es) running: "
                       "join (or kill and reap) every process you start")
    res.score = res.points if res.status == "passed" else 0
    if res.status != "passed":
        res.output_tail = _tail(oc.output)
        if oc.truncated:
            res.output_tail.append(f"[output truncated: {oc.output_bytes} bytes in all, only the start and end kept]")
    return res


def probe_import(work, module, budget=None, iso=None):
    """None if the submission imports in a box, else the message (shown once for the whole lab)."""
    iso = iso or sandbox.isolation_level()
    timeout = min(IMPORT_TIMEOUT + 10, budget.left() if budget else IMPORT_TIMEOUT + 10)
    if timeout <= 1:
        return "not run: the time budget for this submission is used up"
    oc = _keeper({"work": str(work), "module": module, "probe": True, "import_timeout": IMPORT_TIMEOUT},
                 timeout, iso)
    final = next((m for m in reversed(oc.messages) if "verdict" in m), None)
    if oc.timed_out:
        return f"importing your module did not finish within {timeout:g} s"
    if final is None:
        errors = [m["error"] for m in oc.messages if "error" in m]
        return "the grader could not start your module: " + (errors[0] if errors else oc.log.strip()[-300:])
    v = final["verdict"]
    if v.get("status") == "passed":
        return None
    summary = v.get("summary", "")
    msg = summary.split(": ", 2)[-1]
    lines = [summary] + ["  " + x for x in v.get("lines", [])[-6:] if msg not in x]
    tail = _tail(oc.output)
    if tail:
        lines += ["last lines your code printed:"] + ["  | " + x for x in tail]
    return "\n".join(lines)


# -- grading a lab ------------------------------------------------------------------

def _select(tests, only, lab):
    numbered = [(i + 1, t) for i, t in enumerate(tests)]
    if only is None or only == "":
        return numbered
    key = str(only).strip()
    picked = [(i, t) for i, t in numbered if (key.isdigit() and int(key) == i) or key == t[1].__name__]
    if not picked:
        raise BadArgument(f"no test of {lab} is number or named {only!r}; its tests are: " +
                          "; ".join(f"{i}. {t[1].__name__} ({t[1]._labtest['title']})" for i, t in numbered))
    return picked


TRACKS = ("py", "c")


def track_of(lab, track=None, submission=None):
    """``"py"`` or ``"c"``: *track* if given, else ``"c"`` for a submitted ``.c`` file; checked
    against the labs that have a C track (:data:`ipclab.tooling.grading.ctrack.LABS`)."""
    from ipclab.tooling.grading import ctrack
    if track is None:
        track = "c" if submission is not None and str(submission).endswith(".c") else "py"
    if track not in TRACKS:
        raise BadArgument(f"track {track!r}: the tracks are {', '.join(TRACKS)}")
    if track == "py" and submission is not None and str(submission).endswith(".c"):
        raise BadArgument(f"{submission} is a C file: grade it with --track c")
    if track == "c" and lab not in ctrack.LABS:
        raise BadArgument(f"{lab} has no C track yet; the labs with one: {', '.join(ctrack.LABS)}")
    return track


def grade_lab(lab, submission=None, *, include_hidden=True, only=None, seed=None, hidden_dir=None, jobs=1,
              timeout_scale=None, budget=None, root=None, track=None):
    """Grade one lab of one submission (a file or a folder) and return its :class:`LabReport`.

    *track* ``"c"`` grades the student's C file (``labs/c/MODULE.c``) with the same tests, through
    :mod:`ipclab.tooling.grading.ctrack`; by default a ``.c`` submission is graded that way.
    """
    from ipclab.tooling.grading import labtests
    lab = lab_id(lab)
    track = track_of(lab, track, submission)
    suffix = ".c" if track == "c" else ".py"
    mod = labtests.lab_module(lab)
    tests = lab_tests(lab, include_hidden, hidden_dir)
    numbered = _select(tests, only, lab)
    seed = secrets.randbelow(10**6) if seed is None else int(seed)
    budget = budget or Budget()
    iso = sandbox.isolation_level()
    hidden_count = getattr(mod, "HIDDEN", 0)
    hidden_run = any(t[2] == "hidden" for t in tests)
    path = find_submission(mod.MODULE, submission, suffix)
    default = f"labs/c/{mod.MODULE}.c" if track == "c" else f"labs/{mod.MODULE}.py"
    report = LabReport(lab, mod.TITLE, mod.MODULE, _display(path or submission or default), seed, [],
                       hidden_count, hidden_run, isolation=iso.level, isolation_reason=iso.reason)

    def zero(summary, status="failed"):
        return [TestResult(lab, i, t[1].__name__, t[1]._labtest["title"], t[1]._labtest["points"], 0,
                           status, summary=summary, visibility=t[2]) for i, t in numbered]
    if path is None:
        report.note = f"no {mod.MODULE}{suffix} found in {submission or 'this folder or labs/'}"
        report.results = zero(f"missing {mod.MODULE}{suffix}")
        return report
    try:
        work = copy_submission(path, mod.MODULE, root or (submission if submission and Path(submission).is_dir() else None),
                               suffix)
    except BadSubmission as e:
        report.note = str(e)
        report.results = zero("not run: " + str(e))
        return report
    if track == "c":  # compile (as the grader, the source checked first), then the Python track's tests
        from ipclab.core.errors import NotSupported
        from ipclab.tooling.grading import ctrack
        try:
            problem = ctrack.prepare(lab, work)
        except NotSupported as e:
            problem, report.note = str(e), "gcc is needed to grade the C track"
        if problem:
            shutil.rmtree(work, ignore_errors=True)
            report.note = report.note or "your C file was not compiled (see above)"
            report.import_error = problem
            report.results = zero("not run: " + report.note)
            return report
    report.protocol_status, report.protocol = read_protocol(work / f"{mod.MODULE}.py")
    try:
        problem = probe_import(work, mod.MODULE, budget, iso)
        if problem and budget.left() <= 1:
            report.note = "the time budget for this submission is used up"
            report.results = zero("not run: the time budget for this submission is used up")
            return report
        if problem:
            report.note = "your module does not import (see above)"
            report.import_error = problem
            report.results = zero("not run: your module does not import (see above)")
            return report

        def one(item):
            i, (spec, fn, vis) = item
            return run_test(spec, fn, work, mod.MODULE, seed * 1000 + i, lab, i, vis, timeout_scale,
                            budget, iso, hidden_dir)

        if jobs > 1:
            with ThreadPoolExecutor(jobs) as pool:
                report.results = list(pool.map(one, numbered))
        else:
            report.results = [one(item) for item in numbered]
        if track == "c":
            ctrack.explain(lab, report.results)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return report


def check(lab, only=None, *, submission=None, seed=None, jobs=1, track=None):
    """In a notebook: grade *lab*'s visible tests (or test number/name *only*) on your module; shows the table.

    ``check("lab1")`` grades every visible test, ``check("lab1", 2)`` or
    ``check("lab1", "wrap_around")`` one of them. Your module is ``labs/<module>.py`` (or
    the folder the notebook runs in); tests run in boxes, so a hang costs a timeout,
    not your kernel.
    """
    report = grade_lab(lab, submission, include_hidden=False, only=only, seed=seed, jobs=jobs, track=track)
    report.protocol_full = False  # the student wrote it: one line says it was found
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
            "output": "\n".join([f"{rep.lab}: {rep.verdict()}" for rep in reports]
                                + [line for rep in reports if rep.protocol_status
                                   for line in ["", f"{rep.lab} " + rep.protocol_lines()[0]] + rep.protocol_lines()[1:]]),
            "visibility": "visible", "stdout_visibility": "hidden", "tests": tests}


def _write_csv_atomically(path, header, rows):
    """Write the whole CSV to a temporary file beside *path*, then rename it over *path*."""
    path = Path(path)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=header)
    w.writeheader()
    w.writerows(rows)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=str(path.parent.resolve()))
    try:
        with os.fdopen(fd, "w", newline="") as f:
            f.write(buf.getvalue())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib_suppress():
            os.unlink(tmp)
        raise


class contextlib_suppress:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return True


def batch(folder, labs, csv_path, *, include_hidden=True, hidden_dir=None, jobs=1, echo=print, budget=None,
          track=None):
    """Grade every sub-folder of *folder* (one per student) on *labs*; the CSV is rewritten after each.

    Each student gets a fresh budget and fresh boxes: nothing one submission does reaches
    another's grade. Student folders that are symlinks are refused (graded 0, with a note).
    """
    folder = Path(folder)
    students = sorted(p for p in folder.iterdir() if (p.is_dir() or p.is_symlink()) and not p.name.startswith("."))
    if not students:
        raise BadArgument(f"{folder} has no sub-folders: batch mode expects one folder per student")
    header = (["student"] + [c for lab in labs for c in (lab, f"{lab}_max")] + ["total", "max_total", "leaks", "notes"]
              + [f"{lab}_protocol" for lab in labs])
    rows = []
    for s in students:
        row = {"student": s.name}
        notes, leaks = [], 0
        b = Budget(budget)
        for lab in labs:
            if s.is_symlink():
                from ipclab.tooling.grading import labtests
                rep = grade_lab(lab, folder / ".ipclab-no-such-folder", include_hidden=include_hidden,
                                hidden_dir=hidden_dir, budget=b, track=track)
                rep.note = f"{s.name} is a symbolic link, not a folder: not graded"
            else:
                rep = grade_lab(lab, s, include_hidden=include_hidden, hidden_dir=hidden_dir, jobs=jobs, budget=b,
                                root=s, track=track)
            row[lab], row[f"{lab}_max"] = _num(rep.score), _num(rep.max_score)
            row[f"{lab}_protocol"] = (rep.protocol[:PROTOCOL_CSV_MAX] if rep.protocol_status == "written"
                                      else f"[{rep.protocol_status or 'not read'}]")
            leaks += sum(len(r.leaks) for r in rep.results)
            bad = [f"{lab}.{r.number} {r.status}" for r in rep.results if not r.passed]
            notes += [f"{lab}: {rep.note}"] if rep.note else bad
        row["total"] = _num(sum(float(row[lab]) for lab in labs))
        row["max_total"] = _num(sum(float(row[f"{lab}_max"]) for lab in labs))
        row["leaks"], row["notes"] = leaks, "; ".join(notes)[:2000]
        rows.append(row)
        _write_csv_atomically(csv_path, header, rows)
        echo(f"{s.name}: {row['total']}/{row['max_total']}")
    return rows


# -- the `ipclab grade` command -----------------------------------------------------------

def add_arguments(parser):
    from ipclab.tooling.grading import labtests
    parser.add_argument("labs", nargs="*", help=f"{', '.join(labtests.lab_ids())}, or 'all' (the default); a .py or .c "
                        "file named here is the submission")
    parser.add_argument("--submission", "-s", help="the student's module file, or a folder holding it (default: labs/; "
                        "with --track c, labs/c/MODULE.c)")
    from ipclab.tooling.grading import ctrack
    parser.add_argument("--track", choices=TRACKS, default=None,
                        help="py: the student's Python module; c: the student's C file against the lab's header "
                        "(labs/c/MODULE.h), compiled with gcc -std=c11 -Wall -Wextra -Werror and UBSan, then "
                        f"the same tests (needs gcc; labs with a C track: {', '.join(ctrack.LABS)}). Default: c "
                        "for a .c submission, else py. A submission file may also follow the lab: "
                        "`ipclab grade lab1 path/lab1_ringbuffer.c --track c` (the file before the options)")
    parser.add_argument("--only", help="only the test with this number (or this exact function name)")
    parser.add_argument("--seed", type=int, help="replay a run with the seed it printed")
    parser.add_argument("--no-hidden", action="store_true", help="skip hidden tests even if grading/hidden exists")
    parser.add_argument("--hidden-dir", help=f"folder of hidden tests (default {HIDDEN_DIR})")
    parser.add_argument("--format", choices=("text", "json", "gradescope"), default="text")
    parser.add_argument("--output", "-o", help="write json/gradescope output here (gradescope default: "
                        "/autograder/results/results.json on Gradescope, else results.json)")
    parser.add_argument("--batch", metavar="DIR", help="grade each sub-folder of DIR (one per student)")
    parser.add_argument("--csv", default="grades.csv", help="with --batch: the CSV to write (default grades.csv)")
    parser.add_argument("--jobs", "-j", type=int, default=1, help="tests run at once (default 1)")
    parser.add_argument("--budget", type=float, default=None,
                        help=f"seconds for a whole submission, all labs (default {BUDGET:g}, or $IPCLAB_GRADE_BUDGET)")
    parser.add_argument("--unsafe", action="store_true",
                        help="write Gradescope/CSV output even where student code cannot be isolated")


def _atomic_write_text(path, text):
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=str(path.parent.resolve()))
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def main(args):
    from ipclab.tooling.grading import labtests
    files = [x for x in args.labs if x.endswith((".py", ".c"))]  # `ipclab grade lab1 FILE.c`
    if files:
        if len(files) > 1 or args.submission:
            raise BadArgument(f"one submission at a time: {', '.join(files + [args.submission or ''])}".rstrip(", "))
        args.labs, args.submission = [x for x in args.labs if x not in files], files[0]
    track = getattr(args, "track", None)
    labs = labtests.lab_ids() if not args.labs or args.labs == ["all"] else [lab_id(x) for x in args.labs]
    if track == "c" or (track is None and str(args.submission or "").endswith(".c")):
        from ipclab.core import cbuild
        from ipclab.tooling.grading import ctrack
        if not args.labs or args.labs == ["all"]:
            labs = [x for x in labs if x in ctrack.LABS]
        if not cbuild.have_gcc():
            print(f"ipclab grade: {ctrack.gcc_needed_message(' and '.join(labs))}", file=sys.stderr)
            return 2
    hidden = not args.no_hidden
    iso = sandbox.isolation_level()
    teacher_output = bool(args.batch) or args.format == "gradescope"
    if teacher_output and not iso.tamper_proof and not getattr(args, "unsafe", False):
        print(f"ipclab grade: refusing to write {'a CSV' if args.batch else 'Gradescope results'}: student code "
              f"cannot be isolated here ({iso}), so a submission could change its own grade. Run as root "
              "(Gradescope's container does), or give your user subordinate ids (apt install uidmap; "
              "usermod --add-subuids/--add-subgids), or pass --unsafe to accept grades that are not tamper-proof.",
              file=sys.stderr)
        return 2
    if args.batch:
        batch(args.batch, labs, args.csv, include_hidden=hidden, hidden_dir=args.hidden_dir, jobs=args.jobs,
              budget=args.budget, track=track)
        print(f"wrote {args.csv}")
        return 0
    submission = args.submission
    if submission is None and args.format == "gradescope" and Path("/autograder/submission").is_dir():
        submission = "/autograder/submission"
    reports = []
    budget = Budget(args.budget)
    for lab in labs:
        rep = grade_lab(lab, submission, include_hidden=hidden, only=args.only, seed=args.seed,
                        hidden_dir=args.hidden_dir, jobs=args.jobs, budget=budget, track=track)
        reports.append(rep)
        if args.format == "text":
            print(rep.text(), flush=True)
    total, max_total = sum(r.score for r in reports), sum(r.max_score for r in reports)
    if args.format == "text":
        if len(reports) > 1:
            print(f"TOTAL {_num(total)}/{_num(max_total)}")
    elif args.format == "json":
        text = json.dumps([r.to_dict() for r in reports], indent=2)
        _atomic_write_text(args.output, text) if args.output else print(text)
    else:
        out = args.output or ("/autograder/results/results.json" if Path("/autograder/results").is_dir()
                              else "results.json")
        _atomic_write_text(out, json.dumps(gradescope(reports), indent=2))
        print(f"wrote {out}: {_num(total)}/{_num(max_total)}")
    return 0 if total == max_total else 1
