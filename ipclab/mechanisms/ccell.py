"""Cell magics: ``%%c`` compiles and runs a C cell; ``%%worker`` makes a cell an importable module.

Why: the chapter is from a C course, so a student should write ``shm_open`` and handle
``errno`` in C, next to the Python that uses the same kernel objects. And a worker written in
a cell must run under fork, forkserver *and* spawn, which only works for code in a module.

Load once per notebook (the setup cell)::

    from ipclab.mechanisms import ccell
    ccell.load()                      # or: %load_ext ipclab.mechanisms.ccell

``%%c [--copies N] [--timeout S] [--env NAME=VALUE ...] [--no-sanitize] [--expect OUTCOME]
[--args "ARGV"] [--name PROG]``

* compiles the cell with :mod:`ipclab.core.cbuild` (``-Wall -Wextra -Werror -O2``, plus
  AddressSanitizer and UndefinedBehaviorSanitizer where this gcc can run them), cached;
* compile errors are gcc's own messages against the **cell's line numbers** (the ``%%c``
  line is line 1, as Jupyter numbers lines);
* runs N copies as real processes with :mod:`ipclab.core.cprocs` (own process group, killed
  at the timeout or on interrupt, dies with the kernel, output relayed, prefixed per copy);
  each copy gets ``IPCLAB_COPY`` = its index and ``IPCLAB_COPIES`` = N in its environment;
* shows each copy's exit status and a one-line summary of any sanitizer report;
* ``--env NAME=KIND[:ARG]`` creates a course object through :mod:`ipclab.core.objects`
  before the run (unique name, 0600, registered) and removes it after, passing its name (POSIX)
  or key (System V, with ``NAME_ID`` = its id) in ``$NAME``. KIND is ``posix_shm[:size]``,
  ``posix_sem[:value]``, ``posix_mq``, ``sysv_shm[:size]``, ``sysv_sem[:value]``,
  ``sysv_msg`` or ``file[:size]``; ``KIND:new`` only *reserves* a fresh name or key for the C
  code to create (``O_CREAT|O_EXCL`` / ``IPC_CREAT|IPC_EXCL``), and removes the object after the
  run. Any other value is passed as it is: ``--env SHM={seg.name}`` (IPython expands ``{}``);
* ``--expect ok|exit=N|signal=SIGNAME|sanitizer|timeout|compile-error`` states the outcome the
  text predicts; a different outcome raises :class:`UnexpectedOutcome`, so nbval checks it;
* without gcc it prints what it would have done and skips (no error), so a notebook runs
  everywhere; put ``%%c`` cells in cells tagged ``nbval-ignore-output``.

``%%worker NAME`` writes the cell to ``NAME.py`` in a per-kernel folder on ``sys.path``
(0700, registered for cleanup, removed at exit), imports (or reloads) it and binds ``NAME``
in the notebook, so ``procs.run(NAME.func, ..., start_method="spawn")`` works.

Defined in :mod:`ipclab.mechanisms.ccell`; taught in notebook 07.
"""

import argparse
import atexit
import contextlib
import importlib
import os
import re
import shlex
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ipclab.core import cbuild, cprocs, inventory, kinds, names, objects, registry
from ipclab.core.errors import BadArgument, IpclabError, NotSupported

__all__ = ["load", "load_ipython_extension", "run_c", "c_available", "write_worker", "workers_dir", "sweep_dead_dirs", "CellRun",
           "UnexpectedOutcome", "last_run", "parse_c_line", "ENV_KINDS"]

DEFAULT_TIMEOUT = 10.0
ENV_KINDS = kinds.NAMES
_OUTCOMES = re.compile(r"^(ok|sanitizer|timeout|compile-error|exit=\d+|signal=SIG[A-Z0-9]+)$")
_last = None


class UnexpectedOutcome(IpclabError, AssertionError):
    """A C cell ended differently from what its ``--expect`` said the text predicts."""


@dataclass
class CellRun:
    """What one ``%%c`` cell did: skipped (no gcc), failed to compile, or ran copies."""
    skipped: str = ""               # why it did not run ("" if it ran)
    compile_error: str = ""         # gcc's diagnostics if it did not compile
    copies: list = field(default_factory=list)  # cprocs.ProgramResult per copy
    command: str = ""
    env: dict = field(default_factory=dict)

    @property
    def outcome(self):
        """The outcome word ``--expect`` compares: ok, exit=N, signal=SIG..., sanitizer, timeout, ..."""
        if self.skipped:
            return "skipped"
        if self.compile_error:
            return "compile-error"
        if any(c.timed_out for c in self.copies):
            return "timeout"
        if any(c.sanitizer for c in self.copies):
            return "sanitizer"
        sig = next((c.signal for c in self.copies if c.signal), None)
        if sig:
            return f"signal={sig}"
        bad = next((c.returncode for c in self.copies if c.returncode != 0), None)
        return f"exit={bad}" if bad is not None else "ok"

    @property
    def stdout(self):
        return "".join(c.stdout for c in self.copies)


def last_run():
    """The :class:`CellRun` of the last ``%%c`` cell of this kernel (None before any)."""
    return _last


# ------------------------------------------------------------------------------- argument line
def _parser():
    p = argparse.ArgumentParser(prog="%%c", add_help=False, exit_on_error=False)
    p.add_argument("--copies", type=int, default=1)
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT)
    p.add_argument("--env", action="append", default=[])
    p.add_argument("--no-sanitize", action="store_true")
    p.add_argument("--expect", default=None)
    p.add_argument("--args", default="")
    p.add_argument("--name", default="cell")
    return p


def parse_c_line(line):
    """Parse ``%%c``'s argument line; a clear :class:`BadArgument` for anything wrong."""
    try:
        args, rest = _parser().parse_known_args(shlex.split(line))
    except (argparse.ArgumentError, ValueError) as e:
        raise BadArgument(f"%%c {line}: {e}. Usage: %%c [--copies N] [--timeout S] [--env NAME=VALUE] "
                          "[--no-sanitize] [--expect OUTCOME] [--args \"ARGV\"] [--name PROG]") from None
    if rest:
        raise BadArgument(f"%%c: unknown option(s) {rest}; see help(ipclab.mechanisms.ccell)")
    if not 1 <= args.copies <= 16:
        raise BadArgument(f"--copies must be 1..16 (this machine has {os.cpu_count()} CPUs), got {args.copies}")
    if args.timeout <= 0:
        raise BadArgument(f"--timeout must be a positive number of seconds, got {args.timeout}")
    if args.expect is not None and not _OUTCOMES.match(args.expect):
        raise BadArgument(f"--expect {args.expect!r}: use ok, exit=N, signal=SIGNAME, sanitizer, timeout "
                          "or compile-error")
    for item in args.env:
        if "=" not in item or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", item.split("=", 1)[0]):
            raise BadArgument(f"--env {item!r} must be NAME=VALUE with NAME a C identifier, "
                              "e.g. --env SHM=posix_shm:4096 or --env SHM={seg.name}")
    return args


# ------------------------------------------------------------------------------- course objects
@contextlib.contextmanager
def course_env(items):
    """Create (or reserve) the objects ``--env`` asks for; yield the environment; remove them after."""
    env, undo = {}, []
    try:
        for item in items:
            name, value = item.split("=", 1)
            kind, _, arg = value.partition(":")
            if kind not in ENV_KINDS:
                env[name] = value
                continue
            tag = re.sub(r"[^A-Za-z0-9_]", "_", name.lower())[:12] or "cell"
            if arg == "new":
                env[name] = _reserve(kind, tag, undo)
            else:
                env.update(_create(kind, name, tag, arg, undo))
        yield env
    finally:
        for fn in reversed(undo):
            with contextlib.suppress(Exception):
                fn()


def _int_arg(arg, default, what):
    if not arg:
        return default
    try:
        return int(arg, 0)
    except ValueError:
        raise BadArgument(f"--env: {what} must be an integer, got {arg!r}") from None


def _create(kind, name, tag, arg, undo):
    if kind == "posix_shm":
        o = objects.create_posix_shm(_int_arg(arg, 4096, "size"), tag=tag)
        undo.append(lambda: objects.remove_posix_shm(o))
        return {name: o.name}
    if kind == "posix_sem":
        o = objects.create_posix_sem(_int_arg(arg, 0, "value"), tag=tag)
        undo.append(lambda: objects.remove_posix_sem(o))
        return {name: o.name}
    if kind == "posix_mq":
        o = objects.create_posix_mq(tag=tag)
        undo.append(lambda: objects.remove_posix_mq(o))
        return {name: o.name}
    if kind == "file":
        path = objects.create_file(_int_arg(arg, 0, "size"), tag=tag)
        undo.append(lambda: objects.remove_file(path))
        return {name: path}
    create = {"sysv_shm": lambda: objects.create_sysv_shm(_int_arg(arg, 4096, "size")),
              "sysv_sem": lambda: objects.create_sysv_sem(_int_arg(arg, 0, "value")),
              "sysv_msg": lambda: objects.create_sysv_msg()}[kind]
    o = create()
    undo.append(lambda: objects.remove_sysv(o))
    return {name: f"0x{o.key & 0xFFFFFFFF:08x}", f"{name}_ID": str(o.id)}


def _reserve(kind, tag, undo):
    """A fresh course name (POSIX, registered now) or key (System V) for the C code to create."""
    if kind.startswith("posix") or kind == "file":
        if kind == "file":
            path = os.path.join(tempfile.gettempdir(), f"ipclab-{tag}-{names.new_run_id()}")
            registry.register("file", path=path, note=f"%%c {tag}")
            undo.append(lambda: objects.remove_file(path))
            return path
        name = names.posix_name(tag, registry.current().id)
        registry.register(kind, name=name, note=f"%%c {tag}")

        def remove():
            registry.remove_object({"kind": kind, "name": name})
            registry.unregister(kind, name=name)
        undo.append(remove)
        return name
    key = names.sysv_key()
    undo.append(lambda: remove_sysv_by_key(kind, key))
    return f"0x{key:08x}"


def remove_sysv_by_key(kind, key):
    """Remove our System V object of *kind* that has *key*, if the C code created one."""
    import sysv_ipc
    table = {"sysv_shm": "shm", "sysv_sem": "sem", "sysv_msg": "msg"}[kind]
    remover = {"sysv_shm": sysv_ipc.remove_shared_memory, "sysv_sem": sysv_ipc.remove_semaphore,
               "sysv_msg": sysv_ipc.remove_message_queue}[kind]
    for row in inventory.sysv_rows(table):
        if (row["key"] & 0xFFFFFFFF) == key and row["uid"] == os.getuid():
            with contextlib.suppress(sysv_ipc.ExistentialError):
                remover(row["id"])


# ------------------------------------------------------------------------------- %%c
def run_c(cell, line="", out=None, err=None):
    """What ``%%c LINE`` does with *cell*; returns a :class:`CellRun` (also usable without IPython)."""
    global _last
    out, err = out or sys.stdout, err or sys.stderr
    args = parse_c_line(line)
    run = CellRun()
    _last = run
    source = f'#line 2 "{args.name}.c"\n{cell}'
    flags = cbuild.flags_for(sanitize=not args.no_sanitize and cbuild.sanitizers_available())
    run.command = " ".join(["gcc", *flags, f"{args.name}.c", "-o", args.name, *cbuild.LIBS])
    if not cbuild.have_gcc():
        run.skipped = "no gcc"
        what = f"{args.copies} cop{'y' if args.copies == 1 else 'ies'}" + (
            f", expecting: {args.expect}" if args.expect else "")
        print("C cell not run: gcc is not installed on this machine.\n"
              f"It would have compiled this cell (gcc -Wall -Wextra -Werror -O2 ...) and run {what}.\n"
              f"To run it: {cbuild.NO_GCC_ADVICE}.", file=out, flush=True)
        return run
    print(f"$ {run.command}", file=out, flush=True)
    try:
        exe = cbuild.build([source], args.name, sanitize=not args.no_sanitize, display_names=[f"{args.name}.c"])
    except cbuild.CompileError as e:
        run.compile_error = e.diagnostics
        if args.expect == "compile-error":
            print(e.diagnostics.rstrip(), file=out)
            print("outcome: compile-error, as expected (line numbers are the cell's; %%c is line 1)", file=out)
            return run
        raise cbuild.CompileError(
            f"the cell does not compile (line numbers are the cell's, the %%c line is line 1; "
            f"warnings count as errors):\n{e.diagnostics}", diagnostics=e.diagnostics, command=e.command) from None
    argv = [str(exe), *shlex.split(args.args)]
    with course_env(args.env) as env:
        run.env = env
        for k, v in env.items():
            print(f"  {k}={v}", file=out)
        run.copies = cprocs.run_programs([argv] * args.copies, timeout=args.timeout, env=env,
                                         names=[f"copy {i}" for i in range(args.copies)], out=out, err=err)
    for c in run.copies:
        who = f"copy {c.index}: " if args.copies > 1 else ""
        print(f"{who}{c.status()}" + (f" | sanitizer: {c.sanitizer}" if c.sanitizer else ""), file=out)
    if args.expect:
        if run.outcome != args.expect:
            raise UnexpectedOutcome(f"this C cell was expected to end with {args.expect!r} but ended with "
                                    f"{run.outcome!r} (see its output above)")
        print(f"outcome: {run.outcome}, as expected", file=out)
    return run


def c_available(would_show):
    """In a Python cell that runs the course's C code: True if gcc is here; else explain and return False.

    ``if ccell.c_available("the torn reads counted"): ...`` keeps a notebook running on a
    machine without gcc (most students' laptops) and says what the cell would have shown.
    """
    if cbuild.have_gcc():
        return True
    print(f"not run: gcc is not installed on this machine. This cell would have shown {would_show}.\n"
          f"To run it: {cbuild.NO_GCC_ADVICE}.")
    return False


def _c_magic(line, cell):
    run_c(cell, line)


# ------------------------------------------------------------------------------- %%worker
_workers_dir = None
_DIR_PREFIX = "ipclab-cells-"


def workers_dir():
    """This kernel's folder of cell modules (created 0700, put first on ``sys.path``)."""
    global _workers_dir
    if _workers_dir is not None and _workers_dir.is_dir():
        return _workers_dir
    sweep_dead_dirs()
    start = registry.proc_start_time(os.getpid())
    _workers_dir = Path(tempfile.mkdtemp(prefix=f"{_DIR_PREFIX}{os.getuid()}-{os.getpid()}-{start}-"))
    sys.path.insert(0, str(_workers_dir))
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_workers_dir), os.environ.get("PYTHONPATH")]))
    _restart_forkserver()
    atexit.register(_remove_dir, _workers_dir, os.getpid())
    return _workers_dir


def _restart_forkserver():
    """A forkserver started before the folder was on sys.path cannot import cell modules: stop it.

    The next forkserver start passes the current ``sys.path`` to the server (it does when
    modules are preloaded, as :mod:`ipclab.core.procs` does).
    """
    from multiprocessing import forkserver
    server = forkserver._forkserver
    if getattr(server, "_forkserver_pid", None) is not None:
        with contextlib.suppress(Exception):
            server._stop()


def _remove_dir(path, owner):
    if os.getpid() == owner:
        shutil.rmtree(path, ignore_errors=True)


def sweep_dead_dirs():
    """Remove cell folders of this user whose kernel is gone (a killed kernel runs no atexit)."""
    for p in Path(tempfile.gettempdir()).glob(f"{_DIR_PREFIX}{os.getuid()}-*"):
        parts = p.name[len(_DIR_PREFIX):].split("-")
        with contextlib.suppress(OSError, ValueError, IndexError):
            if p.stat().st_uid != os.getuid():
                continue
            pid, start = int(parts[1]), parts[2]
            if str(registry.proc_start_time(pid)) != start:
                shutil.rmtree(p, ignore_errors=True)


def write_worker(name, source):
    """Write *source* as module *name* in :func:`workers_dir`, (re)import it and return the module."""
    if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
        raise BadArgument(f"%%worker {name!r}: the name must be a Python identifier (it becomes "
                          "the module name), e.g. %%worker racer")
    folder = workers_dir()
    existing = sys.modules.get(name)
    if existing is not None and Path(getattr(existing, "__file__", "") or "").parent != folder:
        raise BadArgument(f"%%worker {name}: a module called {name!r} is already imported from "
                          f"{getattr(existing, '__file__', 'built-in')}; choose another name")
    path = folder / f"{name}.py"
    path.write_text(source)
    os.chmod(path, 0o600)
    registry.register("file", path=str(path), note=f"%%worker {name}")
    for stale in (folder / "__pycache__").glob(f"{name}.*.pyc"):  # same size within a second: stale
        stale.unlink(missing_ok=True)
    importlib.invalidate_caches()
    module = importlib.reload(existing) if existing is not None else importlib.import_module(name)
    return module


def _worker_magic(line, cell):
    from IPython import get_ipython
    name = line.strip()
    module = write_worker(name, cell)
    get_ipython().user_ns[name] = module
    public = [n for n in dir(module) if not n.startswith("_") and callable(getattr(module, n))
              and getattr(getattr(module, n), "__module__", None) == name]
    print(f"module {name} written and imported: {', '.join(public) or '(no functions)'}")


# ------------------------------------------------------------------------------- registration
def load(ip=None):
    """Register ``%%c`` and ``%%worker`` in this IPython (the notebook's setup cell calls it)."""
    if ip is None:
        from IPython import get_ipython
        ip = get_ipython()
    if ip is None:
        raise NotSupported("ccell.load() needs IPython/Jupyter; outside it call ccell.run_c(cell, line)")
    ip.register_magic_function(_c_magic, magic_kind="cell", magic_name="c")
    ip.register_magic_function(_worker_magic, magic_kind="cell", magic_name="worker")
    workers_dir()


def load_ipython_extension(ip):
    """``%load_ext ipclab.mechanisms.ccell``."""
    load(ip)
