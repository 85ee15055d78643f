"""How lab tests are written, and the process that runs one of them.

Why not pytest: a lab test must explain itself to a student (what was expected, what
happened, marked GOOD / BAD / MISSING as in MIT's xv6 graders), carry a title and points,
and run alone in a process the grader can kill with everything it started. A lab test is
a plain function ``f(lab, rng)`` of the student's module and a seeded random generator::

    @labkit.test("FIFO order and exact bytes, one process", points=2, timeout=15,
                 hint="put() writes at tail, get() reads at head; both wrap modulo capacity")
    def fifo(lab, rng):
        ...
        labkit.expect_list(sent, received, "records read back")

It fails by raising :class:`Fail` (through the ``expect_*`` helpers); any other exception
is reported with the last lines of its traceback. Workers the test starts live in the
test module (importable) and reach the student's module with :func:`student`.

``python -m ipclab.tooling.grading.labkit ...`` is the child side used by :mod:`ipclab.tooling.grading.grading`; nothing
else should call it.
"""

import ctypes
import importlib
import importlib.util
import itertools
import json
import os
import random
import resource
import signal
import sys
import traceback

_order = itertools.count()
_student = None  # the student's module, once loaded in a test process


class Fail(AssertionError):
    """A test's verdict: a one-line summary plus explanation lines (GOOD/BAD/MISSING...)."""

    def __init__(self, summary, lines=()):
        super().__init__(summary)
        self.summary = summary
        self.lines = list(lines)


def test(title, points=1, timeout=20, hint=""):
    """Declare a lab test: *title* shown to the student, *points*, hard *timeout* in seconds."""
    def mark(fn):
        fn._labtest = {"name": fn.__name__, "title": title, "points": points,
                       "timeout": timeout, "hint": hint, "order": next(_order)}
        return fn
    return mark


def tests_of(module):
    """The test functions a module declares, in the order they are written."""
    found = [f for f in vars(module).values() if callable(f) and hasattr(f, "_labtest")]
    return sorted(found, key=lambda f: f._labtest["order"])


def use_student(module):
    """Make *module* the one :func:`student` returns (a brief's demo cell runs the test workers this way)."""
    global _student
    _student = module
    return module


def student():
    """The student's module inside a test process (for worker functions)."""
    if _student is None:
        raise RuntimeError("no student module loaded: labkit.student() works only inside a graded test")
    return _student


# -- explaining a failure -------------------------------------------------------

def _show(x, width=70):
    s = repr(x)
    return s if len(s) <= width else s[:width - 3] + "..."


def expect(cond, summary, *lines):
    """Fail with *summary* (and explanation *lines*) unless *cond*."""
    if not cond:
        raise Fail(summary, lines)


def expect_equal(expected, got, what):
    """Fail unless *got* == *expected*, showing both."""
    if expected != got:
        raise Fail(f"{what}: wrong value", [f"GOOD (expected)  {_show(expected)}",
                                            f"BAD  (got)       {_show(got)}"])


def expect_raises(exc_type, fn, what, *args, **kwargs):
    """Fail unless ``fn(*args, **kwargs)`` raises *exc_type*; returns the exception."""
    try:
        value = fn(*args, **kwargs)
    except exc_type as e:
        return e
    except NotImplementedError:
        raise
    except Exception as e:  # noqa: BLE001 - any other type is the student's bug
        raise Fail(f"{what}: expected {exc_type.__name__}, got {type(e).__name__}: {e}") from e
    raise Fail(f"{what}: expected {exc_type.__name__}, but the call returned {_show(value)}")


def diff_lines(expected, got, limit=8, show_good=3):
    """xv6-style lines comparing two sequences: GOOD in place, BAD (wrong or extra), MISSING."""
    lines, bad = [], 0
    n_good = 0
    for i in range(max(len(expected), len(got))):
        e = expected[i] if i < len(expected) else None
        g = got[i] if i < len(got) else None
        if i < len(expected) and i < len(got) and e == g:
            n_good += 1
            if n_good <= show_good:
                lines.append(f"GOOD     [{i}] {_show(g)}")
            continue
        bad += 1
        if bad > limit:
            continue
        if i < len(got):
            where = "" if i >= len(expected) else f"  (expected {_show(e, 40)})"
            lines.append(f"BAD      [{i}] {_show(g, 50)}{where}")
        else:
            lines.append(f"MISSING  [{i}] {_show(e)}")
    if n_good > show_good:
        lines.insert(show_good, f"GOOD     ... {n_good - show_good} more in place")
    if bad > limit:
        lines.append(f"...      and {bad - limit} more BAD/MISSING")
    return lines


def expect_list(expected, got, what):
    """Fail unless the sequence *got* equals *expected*, element by element."""
    got = list(got)
    expected = list(expected)
    if got != expected:
        raise Fail(f"{what}: expected {len(expected)} in this order, got {len(got)}",
                   diff_lines(expected, got))


def expect_same_items(expected, got, what, limit=8):
    """Fail unless *got* holds exactly the items of *expected* (any order, each exactly once)."""
    from collections import Counter
    e, g = Counter(expected), Counter(got)
    missing = list((e - g).elements())
    extra = list((g - e).elements())
    if not missing and not extra:
        return
    lines = [f"GOOD     {sum((e & g).values())} of {len(list(expected))} delivered exactly once"]
    lines += [f"MISSING  {_show(x)}" for x in missing[:limit]]
    if len(missing) > limit:
        lines.append(f"MISSING  ... and {len(missing) - limit} more")
    lines += [f"BAD      {_show(x)}" + ("  (duplicate)" if x in e else "  (never sent)") for x in extra[:limit]]
    if len(extra) > limit:
        lines.append(f"BAD      ... and {len(extra) - limit} more")
    raise Fail(f"{what}: {len(missing)} missing, {len(extra)} unexpected", lines)


def random_tag(rng, n=6):
    """A short random ASCII word, so answers cannot be hard-coded."""
    return "".join(rng.choice("abcdefghijkmnpqrstuvwxyz23456789") for _ in range(n))


# -- the child side: run one test -------------------------------------------------

def load_test_module(spec):
    """Import a test module: a dotted name (visible tests) or a file path (hidden tests)."""
    if spec.endswith(".py"):
        name = "ipclab_hidden_" + os.path.basename(spec)[:-3]
        s = importlib.util.spec_from_file_location(name, spec)
        mod = importlib.util.module_from_spec(s)
        sys.modules[name] = mod
        s.loader.exec_module(mod)
        return mod
    return importlib.import_module(spec)


def load_student(path):
    """Import the student's file as a top-level module of its own name (its folder holds only it)."""
    global _student
    folder, fname = os.path.split(os.path.abspath(path))
    sys.path.insert(0, folder)
    _student = importlib.import_module(fname[:-3])
    return _student


def _die_with_parent():
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _short_tb(exc, keep=6):
    lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
    text = "".join(lines).rstrip().splitlines()
    return text[-keep:]


def _verdict(exc):
    """(status, summary, lines) for an exception raised by a test."""
    from ipclab.core.errors import ChildError, ChildTimeout
    if isinstance(exc, Fail):
        return "failed", exc.summary, exc.lines
    if isinstance(exc, NotImplementedError):
        return "failed", f"not implemented yet: {exc}", []
    if isinstance(exc, ChildTimeout):
        return "failed", "worker processes were still running at their deadline and were killed " \
                         "(deadlock? a wait nobody wakes? a lost post?)", [str(exc)[:400]]
    if isinstance(exc, ChildError):
        tb = (exc.child_traceback or "").strip().splitlines()
        last = tb[-1] if tb else str(exc).splitlines()[0]
        if "NotImplementedError" in last:
            return "failed", "a worker process called code not implemented yet: " + last.split(":", 1)[-1].strip(), []
        return "failed", f"a worker process failed: {last}", (tb[-6:] if tb else [str(exc)[:300]])
    return "failed", f"{type(exc).__name__}: {exc}", _short_tb(exc)


def run_one(test_spec, test_name, student_path, seed, result_path):
    """Run one test in this (fresh) process and write its verdict as JSON to *result_path*."""
    _die_with_parent()
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    result = {"status": "error", "summary": "", "lines": []}
    try:
        tests = load_test_module(test_spec)
        fn = getattr(tests, test_name)
        try:
            lab = load_student(student_path)
        except Exception as e:  # noqa: BLE001
            result.update(status="failed", summary=f"your module does not import: {type(e).__name__}: {e}",
                          lines=_short_tb(e))
            return
        try:
            fn(lab, random.Random(seed))
            result.update(status="passed")
        except BaseException as e:  # noqa: BLE001
            status, summary, lines = _verdict(e)
            result.update(status=status, summary=summary, lines=lines)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        with open(result_path, "w") as f:
            json.dump(result, f)


if __name__ == "__main__":
    from ipclab.tooling.grading import labkit as _real  # run as the real module, so tests see labkit.student()
    _, spec, name, path, seed, out = sys.argv
    _real.run_one(spec, name, path, int(seed), out)
    os._exit(0)
