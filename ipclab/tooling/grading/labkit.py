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

When graded, a test runs in a trusted process that never imports the student's module:
``lab`` (and :func:`student` in a worker) is a proxy to a boxed process that did
(:mod:`ipclab.tooling.grading.remote`, :mod:`ipclab.tooling.grading.runner`). Write tests
as if ``lab`` were the module; files the student's code must open come from
:func:`shared_file`, and a worker that must die *as the student's process* calls
:func:`kill_student`.
"""

import contextlib
import importlib
import importlib.util
import itertools
import json
import os
import random
import signal
import sys
import traceback

_order = itertools.count()
_student = None  # the student's module, when a notebook cell hands it over (use_student)
_grading = None  # when graded: how to start agents (guest spec, module, output fd)
_agents = {}     # pid -> the agent serving this process


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
    """The student's module: in a graded test, a proxy to the boxed process of *this* process."""
    if _student is not None:
        return _student
    if _grading is None:
        raise RuntimeError("no student module loaded: labkit.student() works only inside a graded test")
    return _agent().module


def _agent():
    from ipclab.tooling.grading import remote
    pid = os.getpid()
    agent = _agents.get(pid)
    if agent is None:
        for old in list(_agents):  # a forked worker: the parent's agents are not ours to use
            del _agents[old]
        out = _grading["out_fd"]
        try:
            os.fstat(out)
        except OSError:  # a spawned worker: reopen the test process's output pipe
            try:
                out = os.open(f"/proc/{_grading['owner']}/fd/{_grading['out_fd']}", os.O_WRONLY)
            except OSError:
                out = 2
        agent = _agents[pid] = remote.Agent(_grading["spec"], _grading["module"], out_fd=out,
                                            import_timeout=_grading["import_timeout"])
    return agent


def enter_grading(config):
    """Called by the runner in the trusted test process: agents are started as *config* says."""
    global _grading
    _grading = config
    os.environ[GRADING_VAR] = json.dumps(config)


GRADING_VAR = "IPCLAB_GRADING"
if os.environ.get(GRADING_VAR):  # a spawned or forkserver worker of a graded test
    _grading = json.loads(os.environ[GRADING_VAR])


def kill_student(sig=signal.SIGKILL):
    """Kill the process running the student's code for this worker, and reap it.

    Use it where a test needs the student's process to die holding something (a lock, a
    semaphore with SEM_UNDO): on return the kernel has finished its exit.
    """
    agent = _agents.get(os.getpid())
    if agent is not None:
        agent.kill(sig)
        del _agents[os.getpid()]


def close_agents():
    """Let this process's agents exit (and kill those that do not)."""
    agent = _agents.pop(os.getpid(), None)
    if agent is not None:
        agent.close()


@contextlib.contextmanager
def shared_file(size=0, tag="file"):
    """A fresh file the student's code may open (in the box's /dev/shm, owned by the box's uid)."""
    from ipclab.core import objects
    directory = "/dev/shm" if _grading else None
    with objects.course_file(size, tag=tag, directory=directory) as path:
        if _grading and _grading["spec"]["mode"] != "none":
            os.chown(path, _grading["spec"]["uid"], _grading["spec"]["gid"])
        yield path


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


# -- running a test (in the trusted test process) ---------------------------------------------

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


def _last_line(exc):
    return f"{type(exc).__name__}: {exc}"[:300]


def verdict_of(exc):
    """(status, summary, lines) for an exception raised by a test (never the test's own source)."""
    from ipclab.core.errors import ChildError, ChildTimeout
    from ipclab.tooling.grading import remote
    student_tb = getattr(exc, "student_traceback", None) or []
    if isinstance(exc, Fail):
        return "failed", exc.summary, exc.lines
    if isinstance(exc, remote.StudentImportError):
        return "failed", str(exc), student_tb
    if isinstance(exc, NotImplementedError):
        return "failed", f"not implemented yet: {exc}", []
    if isinstance(exc, remote.StudentCrashed):
        return "crashed", f"{exc} (os._exit, a crash, or a limit of the box: memory, processes, file size?)", []
    if isinstance(exc, remote.StudentExit):
        return "failed", str(exc), student_tb
    if isinstance(exc, ChildTimeout):
        return "failed", "worker processes were still running at their deadline and were killed " \
                         "(deadlock? a wait nobody wakes? a lost post?)", [str(exc)[:400]]
    if isinstance(exc, ChildError):
        tb = (getattr(exc, "child_traceback", None) or "").strip().splitlines()
        last = tb[-1] if tb else str(exc).splitlines()[0]
        if "NotImplementedError" in last:
            return "failed", "a worker process called code not implemented yet: " + last.split(":", 1)[-1].strip(), []
        if "StudentCrashed" in last:
            return "crashed", "in a worker: " + last.split(":", 1)[-1].strip(), []
        return "failed", f"a worker process failed: {last}", [line for line in tb if "File " not in line][-4:]
    if isinstance(exc, remote.CannotSend):
        return "error", f"the test could not talk to your code: {exc}", []
    if student_tb:
        return "failed", f"your code raised {getattr(exc, 'student_type', type(exc).__name__)}: {exc}", student_tb[-6:]
    return "failed", _last_line(exc), []


_verdict = verdict_of  # the old name


def run_trusted(fn, seed):
    """Run test *fn* on the student's module (a proxy when graded); the verdict as a dict."""
    try:
        lab = student()
        fn(lab, random.Random(seed))
        return {"status": "passed", "summary": "", "lines": []}
    except BaseException as e:  # noqa: BLE001
        status, summary, lines = verdict_of(e)
        return {"status": status, "summary": summary, "lines": [str(x)[:300] for x in lines][:40]}


# -- making races happen on purpose (issue 20) ---------------------------------------------------
#
# A test named for a concurrency bug must catch it every run, not when the scheduler happens
# to interleave two processes inside a window a few microseconds wide. Three tools:
# :func:`slow_student` widens every window of the student's code (a test-only hook run in the
# student's own process), :class:`Gate` starts n workers at the same instant, and the test then
# checks the kernel's objects themselves rather than what the student's code reports.

START_VAR = "IPCLAB_LABTEST_START"


def start_method():
    """How lab tests start their workers: ``fork``, unless ``IPCLAB_LABTEST_START`` says
    ``forkserver`` or ``spawn`` (bench/mutants.py measures catch rates under all three)."""
    method = os.environ.get(START_VAR, "fork")
    return method if method in ("fork", "forkserver", "spawn") else "fork"


def slow_student(delay, lab=None):
    """From now on, each line of the student's module takes *delay* more seconds (in the
    student's process serving this worker).

    Every step of the student's protocol then lasts tens of milliseconds instead of
    microseconds: two processes started together by a :class:`Gate` run their critical
    sections side by side unless a lock really keeps them apart. A hook for tests only: it
    changes timing, never behaviour.
    """
    lab = student() if lab is None else lab
    if getattr(lab, "C_TRACK", False) is True:  # the C track: each memory access of the C code sleeps
        lab._ipclab_c_slow(float(delay))        # (ipclab.tooling.grading.ctrack, slow_hooks.c)
        return
    lab._ipclab_slow_lines = _slow_lines   # crosses into the box by name (an ipclab function)
    lab._ipclab_slow_lines(lab, float(delay))


def _slow_lines(module, delay):
    """Runs in the student's process: sleep *delay* s before each line of *module*'s code."""
    import time
    path = module.__file__

    def local(frame, event, arg):
        if event == "line":
            time.sleep(delay)
        return local

    def hook(frame, event, arg):
        return local if frame.f_code.co_filename == path else None

    sys.settrace(hook)


class Gate:
    """A start line for *n* workers: each calls ``Gate.wait(gate.handle)``; all go when the
    last one arrives (a System V semaphore at n: each takes 1, then waits for zero, which the
    kernel grants to all of them at once). Use it in a ``with``: the set is removed after."""

    def __init__(self, n):
        from ipclab.mechanisms import semset
        self.n = n
        # IPC_PRIVATE and not recorded in a registry: the test removes it, and the box's IPC
        # namespace dies with the box anyway
        semid = semset._semget(semset.IPC_PRIVATE, 1, semset.IPC_CREAT | semset.IPC_EXCL | 0o600)
        self.sems = semset.SemaphoreSet(semid, 1)
        self.sems.setval(0, n)

    @property
    def handle(self):
        return self.sems.id

    @staticmethod
    def wait(handle, timeout=20.0):
        from ipclab.mechanisms import semset
        s = semset.SemaphoreSet.attach(handle)
        s.op([(0, -1, 0)], timeout=timeout)   # C: semop: I am here
        s.wait_zero(0, timeout=timeout)       # C: semop(sem_op = 0): everybody is

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        from ipclab.mechanisms import semset
        semset._semctl(self.sems.id, 0, semset.IPC_RMID)


@contextlib.contextmanager
def scratch_shm(size, tag="scratch"):
    """A POSIX shared memory segment for the test's own workers (not the student's): mode 0600,
    unlinked on exit. Not recorded in a registry: the trusted test process runs in a box whose
    /dev/shm dies with it (and registries of concurrent boxes must not see each other's runs)."""
    import secrets
    import posix_ipc
    shm = posix_ipc.SharedMemory(f"/ipclab-test-{tag}-{secrets.token_hex(6)}", posix_ipc.O_CREX,
                                 mode=0o600, size=size)
    shm.close_fd()
    try:
        yield shm
    finally:
        try:
            shm.unlink()
        except posix_ipc.ExistentialError:
            pass


# The public names (at the end, so the line numbers that notebooks show with
# ipclab.presentation.glass.show stay put).
__all__ = ["Fail", "test", "tests_of", "use_student", "student", "enter_grading", "GRADING_VAR",
           "kill_student", "close_agents", "shared_file", "expect", "expect_equal", "expect_raises",
           "diff_lines", "expect_list", "expect_same_items", "random_tag", "load_test_module",
           "verdict_of", "run_trusted", "START_VAR", "start_method", "slow_student", "Gate", "scratch_shm"]
