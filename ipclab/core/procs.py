"""Start real worker processes from a notebook, safely.

Why not plain ``multiprocessing.Process``: in a notebook a child's output goes nowhere,
its exception is lost (exit code 1), a child blocked on a semaphore hangs the cell for ever,
and an interrupted cell leaves orphans holding IPC objects. Here every group of workers

* runs an *importable* function under an explicit start method (fork, forkserver, spawn),
* has its stdout/stderr relayed, line by line and prefixed, into the parent's output,
* re-raises a child's exception in the parent with the child's own traceback,
* is killed and reaped (whole process group) on timeout, error or KeyboardInterrupt,
* dies with its parent (``PR_SET_PDEATHSIG``), so a killed kernel leaves no orphan,
* has the IPC objects a failed child created removed (see :mod:`ipclab.core.registry`).

Defined in :mod:`ipclab.core.procs`; taught in notebook 00 (process isolation).
"""

import ctypes
import multiprocessing as mp
import multiprocessing.connection as mpc
import os
import pickle
import signal
import sys
import time
import traceback

from ipclab.core import registry
from ipclab.core.errors import BadArgument, ChildError, ChildTimeout

__all__ = ["START_METHODS", "DEFAULT_START_METHOD", "DEFAULT_TIMEOUT", "current_worker", "context",
           "Group", "start", "run"]

START_METHODS = ("fork", "forkserver", "spawn")
DEFAULT_START_METHOD = os.environ.get("IPCLAB_START_METHOD", "forkserver")
DEFAULT_TIMEOUT = 30.0
_PR_SET_PDEATHSIG = 1

_worker = None  # (index, name) inside a worker


def current_worker():
    """``(index, name)`` of the worker this code runs in, or ``None`` in the parent."""
    return _worker


def context(start_method=None):
    """The multiprocessing context for *start_method*; a clear error for a wrong one."""
    method = start_method or DEFAULT_START_METHOD
    if method not in START_METHODS:
        raise BadArgument(f"start method {method!r} is not one of {START_METHODS}; "
                          "fork is fastest, forkserver is Python 3.14's Linux default, "
                          "spawn is what macOS and Windows use")
    if method not in mp.get_all_start_methods():
        raise BadArgument(f"start method {method!r} is not available on this platform; "
                          f"choose one of {mp.get_all_start_methods()}")
    ctx = mp.get_context(method)
    if method == "forkserver":
        ctx.set_forkserver_preload(["ipclab"])
    return ctx


def _release_forkserver():
    """Close the forkserver's 'alive' pipe that forkserver children inherit.

    The forkserver only exits once every holder of that pipe has closed it; if workers keep
    it, a killed notebook kernel leaves the forkserver alive, so the workers' parent never
    dies and PR_SET_PDEATHSIG never fires: orphans for ever. Without it, the forkserver
    exits with the kernel and takes the workers with it.
    """
    from multiprocessing import forkserver
    fd = getattr(forkserver._forkserver, "_forkserver_alive_fd", None)
    if fd is not None:
        try:
            os.close(fd)
        except OSError:
            pass
        forkserver._forkserver._forkserver_alive_fd = None


def _die_with_parent(parent_pid):
    """Ask the kernel to SIGKILL this process when its parent dies (Linux prctl)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent_pid:  # parent already gone before prctl took effect
        os._exit(1)


def _started_by_forkserver():
    from multiprocessing import forkserver
    return getattr(forkserver._forkserver, "_forkserver_alive_fd", None) is not None and \
        forkserver._forkserver._forkserver_pid is None


def _child_main(target, args, kwargs, index, name, out_w, err_w, res_w):
    """What runs in the child: wire output, run *target*, send back its result or traceback."""
    global _worker
    _worker = (index, name)
    os.setpgrp()  # own process group: the parent can kill it with all its descendants
    _die_with_parent(os.getppid())
    if _started_by_forkserver():
        _release_forkserver()
    os.dup2(out_w.fileno(), 1)
    os.dup2(err_w.fileno(), 2)
    out_w.close()
    err_w.close()
    sys.stdout = open(1, "w", buffering=1, closefd=False)
    sys.stderr = open(2, "w", buffering=1, closefd=False)
    try:
        result = target(*args, **kwargs)
        message = ("ok", result, "")
    except BaseException as exc:  # noqa: BLE001 - everything goes back to the parent
        message = ("err", exc, traceback.format_exc())
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        res_w.send(message)
    except Exception:  # result or exception not picklable: send a description instead
        kind, value, tb = message
        res_w.send(("err", None, tb or f"result of type {type(value).__name__} cannot be pickled"))
    res_w.close()
    os._exit(0 if message[0] == "ok" else 1)


class _Child:
    """Parent-side view of one worker: its process, pipes and buffered output."""

    def __init__(self, index, name, process, out_r, err_r, res_r):
        self.index, self.name, self.process = index, name, process
        self.streams = {out_r.fileno(): (out_r, sys.stdout), err_r.fileno(): (err_r, sys.stderr)}
        self.partial = {fd: b"" for fd in self.streams}
        self.res_r = res_r
        self.result = None  # ("ok"|"err", value, traceback) once received
        self.last_line = ""


class Group:
    """A running group of workers; use :meth:`join`, or ``with`` to kill them on any error."""

    def __init__(self, target, args_list, *, start_method=None, timeout=DEFAULT_TIMEOUT,
                 names=None, relay=True, kwargs=None):
        if not callable(target):
            raise BadArgument(f"target must be a function, got {target!r}")
        if getattr(target, "__module__", None) == "__main__":
            raise BadArgument(
                f"{target.__name__} is defined in the notebook (__main__): forkserver and spawn "
                "children cannot import it. Put the function in a module (a .py file next to "
                "the notebook, or ipclab) and import it.")
        if not isinstance(timeout, (int, float)) or timeout <= 0:
            raise BadArgument(f"timeout must be a positive number of seconds, got {timeout!r}")
        if not args_list or any(not isinstance(a, (tuple, list)) for a in args_list):
            raise BadArgument(f"args_list must be a non-empty list of argument tuples, one per "
                              f"worker, e.g. [(1,), (2,)]; got {args_list!r}")
        self.start_method = start_method or DEFAULT_START_METHOD
        self.timeout = timeout
        self.relay = relay
        self.deadline = None
        self.children = []
        ctx = context(self.start_method)
        names = names or [f"{getattr(target, '__name__', 'worker')}-{i}" for i in range(len(args_list))]
        registry.current()  # workers join this run through the environment
        try:
            for i, args in enumerate(args_list):
                self._start_one(ctx, target, tuple(args), kwargs or {}, i, names[i])
        except BaseException:
            self.kill()
            raise
        self.deadline = time.monotonic() + timeout

    def _start_one(self, ctx, target, args, kwargs, index, name):
        out_r, out_w = ctx.Pipe(duplex=False)
        err_r, err_w = ctx.Pipe(duplex=False)
        res_r, res_w = ctx.Pipe(duplex=False)
        p = ctx.Process(target=_child_main, name=name, daemon=False,
                        args=(target, args, kwargs, index, name, out_w, err_w, res_w))
        p.start()
        for conn in (out_w, err_w, res_w):
            conn.close()
        os.set_blocking(out_r.fileno(), False)
        os.set_blocking(err_r.fileno(), False)
        self.children.append(_Child(index, name, p, out_r, err_r, res_r))

    @property
    def pids(self):
        return [c.process.pid for c in self.children]

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.kill()
        else:
            self.join()
        return False

    # -- output relay -------------------------------------------------------
    def _pump(self, child, fd):
        conn, sink = child.streams[fd]
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return False  # nothing more for now
        except OSError:
            data = b""
        if not data:
            self._close_stream(child, fd)
            return False
        lines = (child.partial[fd] + data).split(b"\n")
        child.partial[fd] = lines.pop()
        for line in lines:
            self._emit(child, sink, line)
        return True

    def _close_stream(self, child, fd):
        conn, sink = child.streams.pop(fd)
        if child.partial.get(fd):
            self._emit(child, sink, child.partial[fd])
            child.partial[fd] = b""
        conn.close()

    def _emit(self, child, sink, line):
        text = line.decode(errors="replace")
        child.last_line = text
        if self.relay:
            print(f"[{child.name}] {text}", file=sink, flush=True)

    # -- waiting ------------------------------------------------------------
    def _waitables(self):
        out = {}
        for c in self.children:
            for fd in list(c.streams):
                out[c.streams[fd][0]] = (c, fd)
            if c.result is None and not c.res_r.closed:
                out[c.res_r] = (c, "res")
            if c.process.exitcode is None:
                out[c.process.sentinel] = (c, "exit")
        return out

    def _step(self, wait_for):
        waitables = self._waitables()
        if not waitables:
            return False
        for ready in mpc.wait(list(waitables), timeout=wait_for):
            child, what = waitables[ready]
            if what == "res":
                try:
                    child.result = child.res_r.recv()
                except (EOFError, OSError):
                    child.res_r.close()
            elif what != "exit":
                self._pump(child, what)
        return True

    def _failed(self):
        return [c for c in self.children
                if (c.result is not None and c.result[0] == "err")
                or (c.process.exitcode not in (None, 0))
                or (c.process.exitcode == 0 and c.result is None and c.res_r.closed)]

    def join(self, fail_fast=True, raise_errors=True):
        """Wait for every worker; return their results in order, or raise.

        On a child's exception (or crash) the others are killed when *fail_fast* and a
        :class:`ChildError` carrying the child's traceback is raised; at the deadline all
        are killed and :class:`ChildTimeout` says who was still running. With
        ``fail_fast=False, raise_errors=False`` every worker runs to its end and the list of
        :meth:`outcomes` is returned instead (fault-injection experiments need the survivors').
        """
        first = []
        try:
            while True:
                first = self._failed()
                if fail_fast and first:
                    break
                remaining = self.deadline - time.monotonic()
                if remaining <= 0:
                    if not raise_errors:
                        self._timed_out = {c.index for c in self.children if c.process.exitcode is None}
                        break
                    self._raise_timeout()
                if not self._step(min(remaining, 0.5)):
                    break
        except BaseException:
            self.kill()
            raise
        self.kill()  # reaps; kills nobody if all have exited
        if not raise_errors:
            return self.outcomes()
        failed = first or self._failed()  # the first to fail, not those we just killed
        if failed:
            self._raise_failure(failed[0])
        return [c.result[1] for c in self.children]

    def outcomes(self):
        """Per worker, once reaped: ``("ok", result)``, ``("error", exception, traceback)``,
        ``("timeout", None)`` (killed by us at the deadline), ``("killed", "SIGKILL")`` or
        ``("exit", code)``."""
        out = []
        for c in self.children:
            code = c.process.exitcode
            if c.index in getattr(self, "_timed_out", ()):
                out.append(("timeout", None))
            elif c.result is not None:
                out.append(("ok", c.result[1]) if c.result[0] == "ok" else ("error", c.result[1], c.result[2]))
            elif code is not None and code < 0:
                out.append(("killed", signal.Signals(-code).name))
            else:
                out.append(("exit", code))
        return out

    def _raise_timeout(self):
        running = [c for c in self.children if c.process.exitcode is None]
        self.kill()
        desc = ", ".join(f"{c.name} (pid {c.process.pid}, last output: {c.last_line!r})" for c in running)
        raise ChildTimeout(
            f"{len(running)} worker(s) still running after {self.timeout:g} s and killed: {desc}. "
            "A worker blocked on a semaphore or queue nobody will post? Check the protocol, "
            "or raise timeout=.", worker=running[0].name if running else None)

    def _raise_failure(self, child):
        p = child.process
        if child.result is not None and child.result[0] == "err":
            _, exc, tb = child.result
            what = f"raised {type(exc).__name__}: {exc}" if exc is not None else "failed"
            err = ChildError(f"worker {child.name} (pid {p.pid}) {what}\n\n--- traceback in the child ---\n{tb}",
                             worker=child.name, pid=p.pid, exitcode=p.exitcode, child_traceback=tb)
            raise err from exc
        if p.exitcode is not None and p.exitcode < 0:
            sig = signal.Signals(-p.exitcode).name
            how = f"was killed by {sig}"
        else:
            how = f"exited with code {p.exitcode} without a result"
        raise ChildError(f"worker {child.name} (pid {p.pid}) {how}; last output: {child.last_line!r}. "
                         "Objects it created have been removed.",
                         worker=child.name, pid=p.pid, exitcode=p.exitcode)

    def kill(self):
        """Kill every still-running worker and its process group, reap all, drain output, clean up."""
        for c in self.children:
            kills = (os.killpg, os.kill) if c.process.exitcode is None else (os.killpg,)
            for kill in kills:  # killpg also ends grandchildren left in the worker's group
                try:
                    kill(c.process.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        for c in self.children:
            c.process.join(timeout=5)
        for c in self.children:  # output written before death is still shown
            for fd in list(c.streams):
                while self._pump(c, fd):
                    pass
                if fd in c.streams:
                    self._close_stream(c, fd)
            if c.result is None and not c.res_r.closed and c.res_r.poll(0):
                try:
                    c.result = c.res_r.recv()
                except (EOFError, OSError):
                    pass
            c.res_r.close()
        bad = [c.process.pid for c in self.children
               if c.process.exitcode != 0 or c.result is None or c.result[0] != "ok"]
        if bad:
            registry.remove_created_by(bad)


def start(target, args_list=None, *, n=None, args=(), **options):
    """Start workers running ``target(*args)``: one per tuple in *args_list*, or *n* with the same *args*."""
    if args_list is None:
        if not isinstance(n, int) or n < 1:
            raise BadArgument(f"give args_list=[...] or n >= 1 workers, got n={n!r}")
        args_list = [args] * n
    return Group(target, list(args_list), **options)


def run(target, args_list=None, *, n=None, args=(), **options):
    """Start workers and wait for them: their return values, in order.

    ``run(f, n=4, args=(x,), start_method="spawn", timeout=10)`` is four processes
    calling ``f(x)``; ``run(f, [(1,), (2,)])`` is two processes with their own arguments.
    """
    return start(target, args_list, n=n, args=args, **options).join()
