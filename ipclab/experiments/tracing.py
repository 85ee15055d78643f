"""The system calls behind each Python line: run a demo under strace, live or as recorded.

Why: the course says ``posix_ipc.SharedMemory(...)`` is ``shm_open`` + ``ftruncate``;
this module proves it. It runs a demo of :mod:`ipclab.experiments.trace_demos` under
``strace -f -tt`` (:func:`trace_demo`), whose line tracer makes a marker call
(``access("/ipclab-marker/L57/...")``) before each Python line, and hands the log to
:mod:`ipclab.experiments.strace_log`, which groups the calls under those lines. It also
attaches strace to a running (hung) process (:func:`attach`).

Where strace is missing or ptrace is refused (containers), :func:`strace_status` says why
and how to fix it, and :func:`recorded` offers the log recorded on the course's machine.

Defined in :mod:`ipclab.experiments.tracing`; taught in ``notebooks/06_debugging_ipc.ipynb``.
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ipclab.core import registry
from ipclab.core.errors import BadArgument, NotSupported, WaitTimeout
from ipclab.core.paths import DATA_DIR, PACKAGE_DIR
from ipclab.experiments.strace_log import MARKER, group, parse

__all__ = ["RECORDED_DIR", "TRACED", "strace_status", "skip_unless_strace", "demo_command", "run_strace",
           "trace_demo", "recorded", "trace_or_recorded", "record", "attach"]

RECORDED_DIR = DATA_DIR / "traces"

#: what strace is asked to record (-e trace=...): the marker, files under /dev/shm, memory
#: mappings, futexes, the System V and POSIX IPC calls, and process creation.
TRACED = ("access", "faccessat", "faccessat2", "openat", "open", "ftruncate", "fallocate",
          "mmap", "munmap", "close", "unlink", "link", "write", "futex", "fcntl", "dup", "dup2",
          "dup3", "fstat", "newfstatat",
          "semget", "semop", "semtimedop", "semctl", "msgget", "msgsnd", "msgrcv", "msgctl",
          "shmget", "shmat", "shmdt", "shmctl", "mq_open", "mq_timedsend", "mq_timedreceive",
          "mq_unlink", "mq_notify", "mq_getsetattr", "clone", "clone3", "fork", "vfork")


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
