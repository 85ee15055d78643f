"""Run compiled programs (C cells, litmus tests) with :mod:`ipclab.core.procs`' guarantees.

:mod:`ipclab.core.procs` runs *Python functions*; a C program is an executable, so it gets
the same promises here, done the same way:

* each copy runs in its **own process group** (``setpgid`` at spawn), so killing the group
  also ends whatever the program forked;
* every run has a **timeout**: at the deadline, and on any error or ``KeyboardInterrupt``
  (the notebook's stop button), every group gets ``SIGKILL`` and is reaped;
* a copy **dies with its parent** (``PR_SET_PDEATHSIG``, linked in by
  :mod:`ipclab.core.cbuild`; it reads ``IPCLAB_PARENT_PID``), so a killed kernel leaves no
  orphan spinning on a core;
* stdout and stderr are **relayed line by line** into the cell, prefixed by the copy's name,
  and kept for the caller; sanitizer reports are recognised and summarised.

Defined in :mod:`ipclab.core.cprocs`; used by ``%%c`` and the litmus tests (notebook 07).
"""

import os
import re
import selectors
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

from ipclab.core import registry
from ipclab.core.errors import BadArgument

__all__ = ["ProgramResult", "run_programs", "sanitizer_summary", "describe_status"]

_KEEP = 1 << 20  # bytes of each stream kept per copy (the relay shows everything)
_SANITIZER = re.compile(r"ERROR: (AddressSanitizer|LeakSanitizer|ThreadSanitizer|MemorySanitizer): ?(.*)")
_UBSAN = re.compile(r"(\S+:\d+:\d+): runtime error: (.*)")


@dataclass
class ProgramResult:
    """One copy's end: its exit code or signal, whether we killed it at the deadline, its output."""
    index: int
    name: str
    pid: int
    returncode: int = None
    timed_out: bool = False
    stdout: str = ""
    stderr: str = ""
    sanitizer: str = None  # one line, e.g. "AddressSanitizer: heap-buffer-overflow (cell.c:7:5)"
    argv: list = field(default_factory=list)

    @property
    def signal(self):
        """Name of the signal that ended the copy (``"SIGSEGV"``), or None."""
        if self.returncode is not None and self.returncode < 0:
            return signal.Signals(-self.returncode).name
        return None

    @property
    def ok(self):
        return self.returncode == 0 and not self.timed_out and self.sanitizer is None

    def status(self):
        return describe_status(self)


def describe_status(r):
    """``exit status 0``, ``killed by SIGSEGV (segmentation fault)``, ``timed out after ...``."""
    if r.timed_out:
        return "still running at the deadline: killed (SIGKILL to its process group)"
    if r.signal:
        return f"killed by {r.signal} ({signal.strsignal(-r.returncode).lower()})"
    return f"exit status {r.returncode}"


def sanitizer_summary(stderr):
    """First sanitizer report in *stderr* as one line, or None (ASan/LSan/TSan, UBSan)."""
    for line in stderr.splitlines():
        m = _SANITIZER.search(line)
        if m:
            return f"{m[1]}: {m[2].split(' on address')[0].strip()}"
        m = _UBSAN.search(line)
        if m:
            return f"UndefinedBehaviorSanitizer: {m[2].strip()} ({m[1].rsplit('/', 1)[-1]})"
    return None


class _Copy:
    def __init__(self, index, name, proc, argv):
        self.index, self.name, self.proc, self.argv = index, name, proc, argv
        self.partial = {"out": b"", "err": b""}
        self.kept = {"out": [], "err": []}
        self.kept_bytes = 0
        self.timed_out = False


def _spawn(argv, env, cwd):
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, cwd=cwd, process_group=0, close_fds=True)


def run_programs(argv_list, *, timeout, names=None, env=None, per_copy_env=None, cwd=None,
                 relay=True, out=None, err=None):
    """Run one process per argv in *argv_list*, all at once; wait, relay output; return results.

    *timeout* (seconds, required): after it every copy still running is killed with its group.
    *env*: extra environment for every copy; *per_copy_env*: a list of dicts, one per copy.
    Every copy also gets ``IPCLAB_COPY`` (its index), ``IPCLAB_COPIES``, ``IPCLAB_PARENT_PID``
    and the run id (so Python it starts joins this run's registry).
    """
    if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or timeout <= 0:
        raise BadArgument(f"timeout must be a positive number of seconds, got {timeout!r}")
    if not argv_list:
        raise BadArgument("run_programs needs at least one argv list")
    out, err = out or sys.stdout, err or sys.stderr
    names = names or [f"copy {i}" for i in range(len(argv_list))]
    base_env = dict(os.environ)
    base_env.setdefault("ASAN_OPTIONS", "abort_on_error=0:detect_leaks=1")
    base_env.update({"IPCLAB_PARENT_PID": str(os.getpid()), "IPCLAB_COPIES": str(len(argv_list)),
                     registry.ENV_RUN: registry.current().id, **(env or {})})
    copies = []
    sel = selectors.DefaultSelector()
    try:
        for i, argv in enumerate(argv_list):
            e = dict(base_env, IPCLAB_COPY=str(i), **((per_copy_env or [{}] * len(argv_list))[i]))
            c = _Copy(i, names[i], _spawn([str(a) for a in argv], e, cwd), [str(a) for a in argv])
            copies.append(c)
            sel.register(c.proc.stdout, selectors.EVENT_READ, (c, "out"))
            sel.register(c.proc.stderr, selectors.EVENT_READ, (c, "err"))
        deadline = time.monotonic() + timeout
        while sel.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                for c in copies:
                    if c.proc.poll() is None:
                        c.timed_out = True
                break
            for key, _ in sel.select(min(remaining, 0.5)):
                c, which = key.data
                data = os.read(key.fileobj.fileno(), 65536)
                if not data:
                    sel.unregister(key.fileobj)
                    _flush(c, which, relay, out, err, len(copies))
                    continue
                _take(c, which, data, relay, out, err, len(copies))
        # output closed: wait for exit within what is left of the deadline
        for c in copies:
            if not c.timed_out:
                try:
                    c.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    c.timed_out = True
    finally:
        _kill_all(copies)
        for key in list(sel.get_map().values()):
            c, which = key.data
            _drain(c, which, key.fileobj, relay, out, err, len(copies))
        sel.close()
        for c in copies:
            c.proc.stdout.close()
            c.proc.stderr.close()
    results = []
    for c in copies:
        stderr = b"".join(c.kept["err"]).decode(errors="replace")
        results.append(ProgramResult(c.index, c.name, c.proc.pid, c.proc.returncode, c.timed_out,
                                     b"".join(c.kept["out"]).decode(errors="replace"), stderr,
                                     sanitizer_summary(stderr), c.argv))
    return results


def _kill_all(copies):
    """SIGKILL every copy's process group (ends its descendants too) and reap each copy."""
    for c in copies:
        for kill in (os.killpg, os.kill):
            try:
                kill(c.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
    for c in copies:
        try:
            c.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - a process stuck in the kernel (D state)
            pass


def _take(c, which, data, relay, out, err, n):
    lines = (c.partial[which] + data).split(b"\n")
    c.partial[which] = lines.pop()
    for line in lines:
        _emit(c, which, line, relay, out, err, n)


def _flush(c, which, relay, out, err, n):
    if c.partial[which]:
        _emit(c, which, c.partial[which], relay, out, err, n)
        c.partial[which] = b""


def _drain(c, which, fileobj, relay, out, err, n):
    try:
        os.set_blocking(fileobj.fileno(), False)
        while True:
            data = os.read(fileobj.fileno(), 65536)
            if not data:
                break
            _take(c, which, data, relay, out, err, n)
    except (BlockingIOError, OSError, ValueError):
        pass
    _flush(c, which, relay, out, err, n)


def _emit(c, which, line, relay, out, err, n):
    if c.kept_bytes < _KEEP:
        c.kept[which].append(line + b"\n")
        c.kept_bytes += len(line) + 1
    if relay:
        text = line.decode(errors="replace")
        prefix = f"[{c.name}] " if n > 1 else ""
        print(prefix + text, file=out if which == "out" else err, flush=True)
