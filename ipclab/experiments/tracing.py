"""The system calls behind each Python line: run under strace, parse the log, tabulate.

Why: the course says ``posix_ipc.SharedMemory(...)`` is ``shm_open`` + ``ftruncate``;
this module proves it. It runs a demo of :mod:`ipclab.experiments.trace_demos` under
``strace -f -tt``, whose line tracer makes a marker call (``access("/ipclab-marker/L57/...")``)
before each Python line, then

* :func:`parse` turns the log into :class:`Syscall` records (joining the
  ``<unfinished ...>`` / ``<... resumed>`` halves ``-f`` produces when processes interleave),
* :func:`group` puts every IPC-relevant call under the Python line that made it,
* :func:`format_table` prints them side by side, :func:`calls` feeds the notebook's verdicts.

Where strace is missing or ptrace is refused (containers), :func:`strace_status` says why
and how to fix it, and :func:`recorded` offers the log recorded on the course's machine.

It also runs a small C program under Valgrind's Helgrind (:func:`helgrind`) and parses
its report (:func:`parse_helgrind`): the tool the chapter names for races in C.

Defined in :mod:`ipclab.experiments.tracing`; taught in ``notebooks/06_debugging_ipc.ipynb``.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from ipclab.core import registry
from ipclab.core.errors import BadArgument, NotSupported, WaitTimeout

from ipclab.core.paths import C_DIR, DATA_DIR, PACKAGE_DIR  # noqa: E402

RECORDED_DIR = DATA_DIR / "traces"

#: what strace is asked to record (-e trace=...): the marker, files under /dev/shm, memory
#: mappings, futexes, the System V and POSIX IPC calls, and process creation.
TRACED = ("access", "faccessat", "faccessat2", "openat", "open", "ftruncate", "fallocate",
          "mmap", "munmap", "close", "unlink", "link", "write", "futex", "fcntl", "dup", "dup2",
          "dup3", "fstat", "newfstatat",
          "semget", "semop", "semtimedop", "semctl", "msgget", "msgsnd", "msgrcv", "msgctl",
          "shmget", "shmat", "shmdt", "shmctl", "mq_open", "mq_timedsend", "mq_timedreceive",
          "mq_unlink", "mq_notify", "mq_getsetattr", "clone", "clone3", "fork", "vfork")
IPC_CALLS = {"futex", "semget", "semop", "semtimedop", "semctl", "msgget", "msgsnd", "msgrcv",
             "msgctl", "shmget", "shmat", "shmdt", "shmctl", "mq_open", "mq_timedsend",
             "mq_timedreceive", "mq_unlink", "mq_notify", "mq_getsetattr"}
FORKS = {"clone", "clone3", "fork", "vfork"}
IPC_DIRS = ("/dev/shm/", "/dev/mqueue/")
MARKER = "/ipclab-marker/"
END = (0, "")  # parse_marker() of the marker made when the demo function returns

_LINE = re.compile(r"^(?:\[pid\s+)?(?P<pid>\d+)\]?\s+(?:(?P<time>\d\d:\d\d:\d\d(?:\.\d+)?)\s+)?(?P<rest>.*)$")
_CALL = re.compile(r"^(?P<name>\w+)\((?P<args>.*)$")
_RESUMED = re.compile(r"^<\.\.\. (?P<name>\w+) resumed>(?P<args>.*)$")
_RESULT = re.compile(r"\)\s+=\s+(?P<ret>0x[0-9a-f]+|-?\d+|\?)(?:\s+(?P<errno>E[A-Z0-9]+)(?: \((?P<errmsg>[^)]*)\))?)?.*$")
_EXIT = re.compile(r"^\+\+\+ (?:exited with (?P<code>\d+)|killed by (?P<sig>\w+)).* \+\+\+$")
_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')


# -- parsing ---------------------------------------------------------------------------------

@dataclass
class Syscall:
    """One system call from an strace log."""
    pid: int
    name: str
    args: str                  # the arguments as strace printed them
    ret: str = "?"             # "3", "0x7f...", "-1", "?" (never returned: process killed)
    errno: str = ""            # "ENOENT", "EAGAIN"... when it failed
    time: str = ""             # -tt wall clock, "11:28:56.026836"
    interrupted: bool = False  # written as <unfinished ...> and joined with its resumed half

    @property
    def ok(self):
        return not self.errno

    def first_string(self):
        """The first quoted string argument (a path, usually), unescaped; '' if none."""
        m = _STRING.search(self.args)
        return m.group(1).encode().decode("unicode_escape") if m else ""

    def arg(self, i):
        """The *i*-th top-level argument, as text."""
        return _split_args(self.args)[i] if i < len(_split_args(self.args)) else ""

    def short(self, width=110):
        """``name(args) = ret [ERRNO]``, shortened to *width* characters."""
        text = f"{self.name}({self.args}) = {self.ret}" + (f" {self.errno}" if self.errno else "")
        return text if len(text) <= width else text[: width - 3] + "..."


@dataclass
class Event:
    """Not a call: a process exited or was killed (``+++ ... +++``), or got a signal (``--- SIG ---``)."""
    pid: int
    kind: str     # "exit", "killed", "signal"
    detail: str
    time: str = ""


def _split_args(args):
    """Top-level comma split of an strace argument list (respects quotes, braces, brackets)."""
    out, depth, cur, quote, esc = [], 0, [], False, False
    for ch in args:
        if quote:
            cur.append(ch)
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                quote = False
            continue
        if ch == '"':
            quote = True
        elif ch in "{[(":
            depth += 1
        elif ch in "}])":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    if "".join(cur).strip():
        out.append("".join(cur).strip())
    return out


def _finish(pid, name, body, when, interrupted=False):
    """A Syscall from *body* = everything after 'name(' up to the end of the line."""
    m = _RESULT.search(body)
    if not m:  # "exit_group(0) = ?" has a result; a line cut off by a kill has none
        return Syscall(pid, name, body.rstrip(") "), "?", "", when, interrupted)
    args = body[: m.start()]
    return Syscall(pid, name, args, m["ret"], m["errno"] or "", when, interrupted)


def parse(text):
    """The calls and events of an ``strace -f [-tt]`` log, in log order.

    Handles ``PID`` and ``[pid PID]`` prefixes, ``-tt`` timestamps, failed calls
    (``= -1 ENOENT (...)``), and the split a call suffers when another process writes in
    between: ``futex(... <unfinished ...>`` then later ``<... futex resumed>) = 0``; the two
    halves become one :class:`Syscall` placed where it *started*.
    """
    out, pending = [], {}  # pid -> (index in out, name, first half)
    for raw in text.splitlines():
        m = _LINE.match(raw.strip())
        if not m:
            continue
        pid, when, rest = int(m["pid"]), m["time"] or "", m["rest"].strip()
        e = _EXIT.match(rest)
        if e:
            out.append(Event(pid, "exit" if e["code"] is not None else "killed",
                             e["code"] if e["code"] is not None else e["sig"], when))
            pending.pop(pid, None)
            continue
        if rest.startswith("--- ") and rest.endswith(" ---"):
            out.append(Event(pid, "signal", rest[4:-4].split(" ", 1)[0], when))
            continue
        r = _RESUMED.match(rest)
        if r:
            index, name, first = pending.pop(pid, (None, r["name"], ""))
            call = _finish(pid, name, first + r["args"].lstrip(), when, interrupted=True)
            if index is None:
                out.append(call)
            else:
                call.time = out[index].time
                out[index] = call
            continue
        c = _CALL.match(rest)
        if not c:
            continue
        body = c["args"]
        if body.endswith("<unfinished ...>"):
            first = body[: -len("<unfinished ...>")].rstrip()
            pending[pid] = (len(out), c["name"], first + (", " if first and not first.endswith(",") else ""))
            out.append(Syscall(pid, c["name"], first, "?", "", when, True))
            continue
        out.append(_finish(pid, c["name"], body, when))
    for pid, (index, name, first) in pending.items():  # never resumed: killed while in it
        out[index].args = first.rstrip(", ")
    return out


def syscalls(records):
    """Only the :class:`Syscall` records."""
    return [r for r in records if isinstance(r, Syscall)]


# -- grouping under the Python line ----------------------------------------------------------

@dataclass
class Step:
    """One Python line of a traced demo and the relevant system calls it made."""
    lineno: int
    text: str
    pid: int
    calls: list = field(default_factory=list)

    def names(self):
        return [c.name for c in self.calls]


def parse_marker(call):
    """(lineno, source text) if *call* is one of trace_demos' marker calls, :data:`END` for
    the marker made when the demo returns, else None."""
    if call.name not in ("access", "faccessat", "faccessat2"):
        return None
    path = call.first_string()
    if not path.startswith(MARKER):
        return None
    tail = path[len(MARKER):]
    if tail == "end":
        return END
    line, _, quoted = tail.partition("/")
    if not line.startswith("L") or not line[1:].isdigit():
        return None
    return int(line[1:]), urllib.parse.unquote(quoted)


def group(records):
    """Steps (one per marked Python line, per process) holding the IPC-relevant calls that followed.

    Relevant: every IPC call (System V, POSIX mq, futex); process creation; and file calls
    on ``/dev/shm`` or ``/dev/mqueue`` objects, followed by fd (ftruncate, mmap, write,
    close) and by address (munmap of such a mapping). Everything else (Python's own
    imports, the registry's files) is left out. Calls before the first marker are dropped.
    """
    steps, current = [], {}   # pid -> its current Step
    fds, addrs = {}, {}       # pid -> fds / mapping addresses on IPC objects
    parent = None
    for r in records:
        if isinstance(r, Event):
            continue
        parent = parent or r.pid
        mark = parse_marker(r)
        if mark == END:  # the demo returned: what follows is the interpreter, not the demo
            current[r.pid] = None
            continue
        if mark:
            current[r.pid] = Step(mark[0], mark[1], r.pid)
            steps.append(current[r.pid])
            continue
        if r.pid in current and current[r.pid] is None:
            continue
        step = current.get(r.pid)
        if step is None:  # a child's first calls, before its first marker: its parent's line
            parents = [s for s in steps if s.pid == parent]
            step = parents[-1] if parents else None
        if step is None:
            continue
        if _relevant(r, fds.setdefault(r.pid, set()), addrs.setdefault(r.pid, set())):
            step.calls.append(r)
        if r.name in FORKS and r.ok and r.ret.isdigit():  # the child inherits fds and mappings
            fds[int(r.ret)] = set(fds[r.pid])
            addrs[int(r.ret)] = set(addrs[r.pid])
    return steps


def _relevant(r, fds, addrs):
    name = r.name
    if name == "futex":  # *_PRIVATE futexes never leave the process (Python's own locks)
        return "_PRIVATE" not in r.args
    if name in IPC_CALLS or name in FORKS:
        return True
    args = _split_args(r.args)
    if name in ("openat", "open", "unlink", "link"):
        path = r.first_string()
        hit = path.startswith(IPC_DIRS) or any(a.strip('"').startswith(IPC_DIRS) for a in args)
        if hit and name in ("openat", "open") and r.ok and r.ret.isdigit():
            fds.add(r.ret)
        return hit
    if name in ("ftruncate", "fallocate", "write", "close", "fstat", "newfstatat") and args:
        hit = args[0] in fds
        if hit and name == "close":
            fds.discard(args[0])
        return hit
    if name in ("dup", "dup2", "dup3", "fcntl") and args and args[0] in fds:
        if name == "fcntl" and not args[1].startswith("F_DUPFD"):
            return True
        if r.ok and r.ret.isdigit():
            fds.add(r.ret)  # the copy refers to the same object
        return True
    if name == "mmap" and len(args) >= 5:
        hit = args[4] in fds
        if hit and r.ok:
            addrs.add(r.ret)
        return hit
    if name == "munmap" and args:
        hit = args[0] in addrs
        addrs.discard(args[0])
        return hit
    return False


def format_table(steps, width=100, who=True, quiet=True):
    """The steps as text: each Python line, then the calls it made (``-`` when none).

    *who* adds ``[child]`` to lines run by another process than the first; *quiet* keeps
    the lines that made no relevant call (showing that they made none is the point, too).
    """
    if not steps:
        return "(no marked lines in this trace)"
    first = steps[0].pid
    out = []
    for s in steps:
        if not s.calls and not quiet:
            continue
        tag = "[child] " if who and s.pid != first else ""
        out.append(f"L{s.lineno:<4d}{tag}{s.text}")
        for c in s.calls or [None]:
            out.append("        -> " + ("- (no system call)" if c is None else c.short(width)))
    return "\n".join(out)


def calls(steps, fragment, child=None):
    """Names of the calls made by the line(s) whose text contains *fragment*, in order.

    *child*: True for lines run by a child process only, False for the first process only.
    """
    first = steps[0].pid if steps else None
    out = []
    for s in steps:
        if fragment in s.text and (child is None or (s.pid != first) == child):
            out += s.names()
    return out


def call_paths(steps, fragment):
    """(call name, first path argument) of the calls made by the lines containing *fragment*."""
    return [(c.name, c.first_string()) for s in steps if fragment in s.text for c in s.calls]


# -- running strace --------------------------------------------------------------------------

_status = None


def strace_status(timeout=15):
    """(True, 'ok') if ``strace -f`` works here, else (False, what is wrong and how to fix it)."""
    global _status
    if _status is not None:
        return _status
    if not shutil.which("strace"):
        _status = (False, "strace is not installed: apt-get install strace (Debian/Ubuntu), "
                          "dnf install strace (Fedora), conda install -c conda-forge strace")
        return _status
    try:
        p = subprocess.run(["strace", "-f", "-o", os.devnull, "true"], capture_output=True,
                           text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        _status = (False, f"strace -f true did not finish in {timeout} s")
        return _status
    if p.returncode != 0:
        why = p.stderr.strip().splitlines()[-1] if p.stderr.strip() else f"exit code {p.returncode}"
        advice = ("ptrace is not allowed here. In Docker: docker run --cap-add=SYS_PTRACE "
                  "--security-opt seccomp=unconfined ...; on a host with Yama: "
                  "sysctl kernel.yama.ptrace_scope=0 (or run strace as root)")
        _status = (False, f"strace cannot trace ({why}). {advice}")
        return _status
    _status = (True, "ok")
    return _status


def skip_unless_strace():
    """In a notebook: True if strace can run; else print why and how to get it, return False."""
    ok, why = strace_status()
    if not ok:
        print(f"SKIPPED on this machine: {why}")
    return ok


def demo_command(demo):
    """The command that runs trace_demos' *demo* in a fresh interpreter."""
    from ipclab.experiments import trace_demos
    if demo not in trace_demos.DEMOS:
        raise BadArgument(f"no traced demo {demo!r}; choose one of {sorted(trace_demos.DEMOS)}")
    return [sys.executable, "-m", "ipclab.experiments.trace_demos", "demo", demo]


def run_strace(command, timeout=60, extra=()):
    """Run *command* under ``strace -f -tt`` (IPC-relevant calls only); return the log text.

    Kernel objects the traced processes registered and left (a crash, a timeout) are
    removed afterwards, found by the pids in the log.
    """
    ok, why = strace_status()
    if not ok:
        raise NotSupported(why)
    with tempfile.TemporaryDirectory(prefix="ipclab-strace-") as tmp:
        log = Path(tmp) / "trace.log"
        cmd = ["strace", "-f", "-tt", "-s", "64", "-e", "trace=" + ",".join(_known(TRACED)),
               "-o", str(log), *extra, "--", *command]
        env = dict(os.environ, PYTHONPATH=str(PACKAGE_DIR.parent) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        registry.current()  # the traced script joins this run (IPCLAB_RUN_ID) so its objects are ours
        text = ""
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
            text = log.read_text(errors="replace") if log.exists() else ""
            if p.returncode != 0:
                raise NotSupported(f"the traced command failed (exit {p.returncode}):\n{p.stderr[-2000:]}")
        except subprocess.TimeoutExpired as e:
            raise WaitTimeout(f"strace {' '.join(command)} did not finish in {timeout} s; "
                              "it was killed") from e
        finally:
            text = text or (log.read_text(errors="replace") if log.exists() else "")
            traced = {r.pid for r in parse(text)}
            registry.remove_created_by(traced)
        return text


_known_cache = None


def _known(names):
    """The subset of *names* this strace knows (an old strace refuses an unknown name)."""
    global _known_cache
    if _known_cache is None:
        p = subprocess.run(["strace", "-e", "trace=" + ",".join(names), "-o", os.devnull, "true"],
                           capture_output=True, timeout=15)
        if p.returncode == 0:
            _known_cache = list(names)
            return _known_cache
        good = []
        for n in names:
            p = subprocess.run(["strace", "-e", f"trace={n}", "-o", os.devnull, "true"],
                               capture_output=True, timeout=15)
            if p.returncode == 0:
                good.append(n)
        _known_cache = good
    return _known_cache


def trace_demo(demo, timeout=60):
    """Run trace_demos' *demo* under strace; return (steps, log text)."""
    text = run_strace(demo_command(demo), timeout=timeout)
    return group(parse(text)), text


def recorded(demo):
    """(steps, log text) of *demo* as recorded on the course's machine (see :func:`record`)."""
    path = RECORDED_DIR / f"{demo}.strace"
    if not path.exists():
        raise BadArgument(f"no recorded trace for {demo!r} in {RECORDED_DIR}")
    text = path.read_text()
    return group(parse(text)), text


def trace_or_recorded(demo, live, timeout=60):
    """(steps, text, 'live' | 'recorded'): a live trace when *live*, else the recorded one."""
    if live:
        steps, text = trace_demo(demo, timeout=timeout)
        return steps, text, "live"
    steps, text = recorded(demo)
    return steps, text, "recorded"


def record(demos=None, timeout=60):
    """Re-record the logs :func:`recorded` serves (a maintainer's command, needs strace)."""
    from ipclab.experiments import trace_demos
    RECORDED_DIR.mkdir(parents=True, exist_ok=True)
    for d in demos or trace_demos.DEMOS:
        lines = trace_demo(d, timeout=timeout)[1].splitlines(keepends=True)
        first = next((i for i, l in enumerate(lines) if MARKER in l), 0)  # Python's start-up is noise
        (RECORDED_DIR / f"{d}.strace").write_text("".join(lines[first:]))


def attach(pid, seconds=1.0, timeout=10):
    """``strace -p PID`` for about *seconds*: the calls a (hung) process is making or sleeping in.

    Waits until strace has written something (it prints the call the process sleeps in as
    soon as it attaches), then detaches it with SIGINT. Returns the parsed records.
    """
    ok, why = strace_status()
    if not ok:
        raise NotSupported(why)
    with tempfile.TemporaryDirectory(prefix="ipclab-strace-") as tmp:
        log = Path(tmp) / "attach.log"
        p = subprocess.Popen(["strace", "-tt", "-s", "64", "-p", str(pid), "-o", str(log)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + min(seconds, timeout)
            while time.monotonic() < deadline and p.poll() is None:
                time.sleep(0.05)
            p.send_signal(signal.SIGINT)  # strace detaches cleanly; the process goes on
            p.wait(timeout=timeout)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=5)
        text = log.read_text(errors="replace") if log.exists() else ""
    # a log without pids (single process): prefix the pid so parse() reads it
    return parse("\n".join(f"{pid} {l}" for l in text.splitlines() if l.strip()))


# -- Helgrind --------------------------------------------------------------------------------

@dataclass
class HelgrindReport:
    """What Helgrind said about one run: error count and the races (kind, size, source lines)."""
    errors: int
    races: list      # [{"access": "write", "size": 4, "where": ["race_helgrind.c:27", ...]}]
    exit_code: int
    text: str

    def race_lines(self, source):
        """Line numbers of *source* (a file name) that appear in a data race report."""
        out = set()
        for race in self.races:
            for w in race["where"]:
                f, _, line = w.partition(":")
                if f == source and line.isdigit():
                    out.add(int(line))
        return sorted(out)


_RACE = re.compile(r"Possible data race during (?P<access>read|write) of size (?P<size>\d+)")
_WHERE = re.compile(r"\((?P<file>[\w.+-]+):(?P<line>\d+)\)")
_SUMMARY = re.compile(r"ERROR SUMMARY: (?P<n>\d+) errors?")


def parse_helgrind(text, exit_code=0):
    """A :class:`HelgrindReport` from Valgrind's stderr (``==PID==`` prefixed lines)."""
    races, cur = [], None
    errors = 0
    for raw in text.splitlines():
        line = re.sub(r"^==\d+==\s?", "", raw)
        m = _RACE.search(line)
        if m:
            cur = {"access": m["access"], "size": int(m["size"]), "where": []}
            races.append(cur)
            continue
        if cur is not None:
            if not line.strip() or line.startswith("This conflicts"):
                cur = None if not line.strip() else cur
                continue
            w = _WHERE.search(line)
            if w and line.lstrip().startswith(("at ", "by ")):
                cur["where"].append(f"{w['file']}:{w['line']}")
        s = _SUMMARY.search(line)
        if s:
            errors = int(s["n"])
    return HelgrindReport(errors, races, exit_code, text)


def compile_c(source, output, extra=(), timeout=60):
    """SOURCE compiled by :mod:`ipclab.core.cbuild` with ``-g -O0`` (what Helgrind reports best on), copied to OUTPUT.

    No sanitizers: valgrind and AddressSanitizer cannot run together. Raises NotSupported
    without gcc, :class:`~ipclab.core.cbuild.CompileError` with gcc's diagnostics.
    """
    from ipclab.core import cbuild
    exe = cbuild.build([Path(source)], Path(output).name, opt="-O0", extra=("-g", *extra), timeout=timeout)
    shutil.copy2(exe, output)
    return output


def helgrind(args=(), source=C_DIR / "race_helgrind.c", tool="helgrind", timeout=120):
    """Compile *source* and run it under ``valgrind --tool=helgrind`` (or drd); the parsed report."""
    if not shutil.which("valgrind"):
        raise NotSupported("no valgrind: apt-get install valgrind")
    with tempfile.TemporaryDirectory(prefix="ipclab-hg-") as tmp:
        exe = compile_c(source, Path(tmp) / "race")
        p = subprocess.run(["valgrind", f"--tool={tool}", "--error-exitcode=3", str(exe), *map(str, args)],
                           capture_output=True, text=True, timeout=timeout)
    return parse_helgrind(p.stderr, p.returncode)


def recorded_helgrind(mode):
    """The Helgrind report recorded on the course's machine for ``race MODE``."""
    path = RECORDED_DIR / f"helgrind-{mode}.txt"
    return parse_helgrind(path.read_text())


def tsan(args=(), source=C_DIR / "race_helgrind.c", timeout=60):
    """Build *source* with ``-fsanitize=thread`` and run it: (exit code, report text)."""
    with tempfile.TemporaryDirectory(prefix="ipclab-tsan-") as tmp:
        exe = compile_c(source, Path(tmp) / "race_tsan", extra=("-fsanitize=thread",))
        p = subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True, timeout=timeout,
                           env=dict(os.environ, TSAN_OPTIONS="halt_on_error=0 exitcode=66"))
    return p.returncode, p.stderr


# The public names (at the end, so the line numbers that notebooks show with
# ipclab.presentation.glass.show stay put).
__all__ = ["RECORDED_DIR", "TRACED", "IPC_CALLS", "FORKS", "IPC_DIRS", "MARKER", "END", "Syscall", "Event",
           "parse", "syscalls", "Step", "parse_marker", "group", "format_table", "calls", "call_paths",
           "strace_status", "skip_unless_strace", "demo_command", "run_strace", "trace_demo", "recorded",
           "trace_or_recorded", "record", "attach", "HelgrindReport", "parse_helgrind", "compile_c",
           "helgrind", "recorded_helgrind", "tsan"]
