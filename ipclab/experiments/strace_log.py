"""An strace log read back: system calls and process events, grouped under the Python line that made them.

Why a module of its own: reading a log is pure text in, records out. It needs no strace, no
processes and no kernel objects, so it is tested on the logs recorded on the course's
machine (``ipclab/data/traces``) and serves a live trace and a recorded one alike.

* :func:`parse` turns the log into :class:`Syscall` and :class:`Event` records (joining the
  ``<unfinished ...>`` / ``<... resumed>`` halves ``-f`` produces when processes interleave),
* :func:`group` puts every IPC-relevant call under the Python line that made it, found by the
  marker calls of :mod:`ipclab.experiments.trace_demos`' line tracer
  (``access("/ipclab-marker/L57/...")``),
* :func:`format_table` prints them side by side, :func:`calls` and :func:`call_paths` feed the
  notebook's verdicts.

Running strace is :mod:`ipclab.experiments.tracing`'s job.

Defined in :mod:`ipclab.experiments.strace_log`; taught in ``notebooks/06_debugging_ipc.ipynb``.
"""

import re
import urllib.parse
from dataclasses import dataclass, field

__all__ = ["IPC_CALLS", "FORKS", "IPC_DIRS", "MARKER", "END", "Syscall", "Event", "parse", "syscalls", "Step",
           "parse_marker", "group", "format_table", "calls", "call_paths"]

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
