"""The registry of what a run created, so that nothing outlives the course.

Why a registry and not just ``finally``: a child can be SIGKILLed and a notebook kernel
can be restarted mid-demo; no ``finally`` runs then. Every object the course creates is
written here (one small JSON file per object, under a per-user 0700 directory) the moment
it exists and struck off when it is removed. What remains is removed

* by the run's owner at normal exit (``atexit``),
* by :mod:`ipclab.core.procs` when a child that created it crashes,
* at the next start of ipclab when the run's owner process is dead (kernel restarted),
* by ``ipclab clean``.

A run is one owner process (a notebook kernel, a pytest session, a CLI call) and all the
workers it starts; workers join it through the ``IPCLAB_RUN_ID`` environment variable.
"""

import atexit
import json
import os
import time
from pathlib import Path

from ipclab.core import kinds, names
from ipclab.core.errors import IpclabError

__all__ = ["KINDS", "ENV_RUN", "ENV_STATE", "state_dir", "proc_start_time", "Run", "current", "register",
           "register_or_undo", "unregister", "runs", "remove_object", "remove_entries",
           "remove_created_by", "remove_run", "sweep_dead_runs", "pid_namespace"]

KINDS = kinds.NAMES  # the table of kinds lives in ipclab.core.kinds
ENV_RUN = "IPCLAB_RUN_ID"
ENV_STATE = "IPCLAB_STATE_DIR"

_run = None  # this process's Run, made on first use


def state_dir():
    """Per-user directory of run records: $IPCLAB_STATE_DIR, else $XDG_RUNTIME_DIR/ipclab, else ~/.cache/ipclab."""
    if os.environ.get(ENV_STATE):
        base = Path(os.environ[ENV_STATE])
    elif os.environ.get("XDG_RUNTIME_DIR") and os.access(os.environ["XDG_RUNTIME_DIR"], os.W_OK):
        base = Path(os.environ["XDG_RUNTIME_DIR"]) / "ipclab"
    else:
        base = Path.home() / ".cache" / "ipclab"
    base.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = base.stat()
    if st.st_uid != os.getuid():
        raise IpclabError(f"{base} belongs to uid {st.st_uid}, not to you; set {ENV_STATE} "
                          "to a directory of your own")
    return base


def pid_namespace():
    """This process's PID namespace (``pid:[inode]`` from /proc/self/ns/pid), or None if unreadable."""
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return None


def proc_start_time(pid):
    """Kernel start time of *pid* (clock ticks since boot), or None if no such process.

    A zombie (dead, not yet reaped by its parent) counts as no process: its run is over.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat.rsplit(b")", 1)[1].split()
    if fields[0] in (b"Z", b"X"):
        return None
    return int(fields[19])


class Run:
    """One run's directory: ``meta.json`` (owner pid and start time) plus one file per object."""

    def __init__(self, run_id, path):
        self.id = run_id
        self.path = path

    def __repr__(self):
        return f"<Run {self.id} at {self.path}>"

    def meta(self):
        try:
            return json.loads((self.path / "meta.json").read_text())
        except (OSError, ValueError):
            return {}

    def alive(self):
        """True while the owner process (same pid *and* same start time) still runs.

        A run made in another PID namespace counts as alive: its pid means nothing in this
        /proc (a process in a container or in the grader's box sees other pids), so it is
        never judged, and never swept, from here.
        """
        meta = self.meta()
        pid = meta.get("pid")
        if meta.get("pidns") and pid_namespace() and meta["pidns"] != pid_namespace():
            return True
        return pid is not None and proc_start_time(pid) == meta.get("start")

    def entries(self):
        out = []
        for f in sorted(self.path.glob("obj-*.json")):
            try:
                entry = json.loads(f.read_text())
            except (OSError, ValueError):
                continue
            entry["_file"] = str(f)
            out.append(entry)
        return out


def _entry_file(run, kind, ident):
    safe = str(ident).lstrip("/").replace("/", "%")
    return run.path / f"obj-{kind}-{safe}.json"


def current():
    """This process's run: joined from ``IPCLAB_RUN_ID`` in a worker, else created."""
    global _run
    if _run is not None:
        return _run
    base = state_dir()
    run_id = os.environ.get(ENV_RUN)
    if run_id and (base / run_id).is_dir():
        _run = Run(run_id, base / run_id)
        return _run
    sweep_dead_runs(base)
    run_id = names.new_run_id()
    path = base / run_id
    # Made under a dotted name, then renamed: a run folder without its meta.json looks dead, and
    # another run starting at the same instant would sweep it between our mkdir and our write.
    making = base / f".{run_id}"
    making.mkdir(mode=0o700)
    meta = {"pid": os.getpid(), "start": proc_start_time(os.getpid()), "created": time.time(),
            "pidns": pid_namespace()}
    (making / "meta.json").write_text(json.dumps(meta))
    making.rename(path)
    os.environ[ENV_RUN] = run_id
    _run = Run(run_id, path)
    atexit.register(_at_exit, os.getpid())
    return _run


def _at_exit(owner_pid):
    if os.getpid() == owner_pid and _run is not None:
        remove_run(_run)


def register(kind, *, name=None, id=None, key=None, path=None, note=""):
    """Record that this process just created an object; returns the entry."""
    if kind not in KINDS:
        raise IpclabError(f"unknown kind {kind!r}; expected one of {KINDS}")
    ident = name or path if id is None else id
    if isinstance(key, int):
        key &= 0xFFFFFFFF  # one spelling of a key_t: unsigned (sysv_ipc and /proc show high keys < 0)
    entry = {"kind": kind, "name": name, "id": id, "key": key, "path": path,
             "pid": os.getpid(), "created": time.time(), "note": note}
    run = current()
    _entry_file(run, kind, ident).write_text(json.dumps(entry))
    return entry


def register_or_undo(kind, undo, **ident):
    """Register an object just created, or remove it: the two succeed or fail together.

    Registration fails when the run's directory is gone, e.g. after ``ipclab clean --live``
    while this kernel was still running. An object nothing has registered would survive
    every cleanup, so *undo()* removes it and the error says what to do.
    """
    try:
        return register(kind, **ident)
    except (OSError, IpclabError) as exc:
        try:
            undo()
        finally:
            what = ident.get("name") or ident.get("path") or f"id {ident.get('id')}"
            raise IpclabError(
                f"the {kind} {what} was created but could not be recorded in this run's registry "
                f"({exc}), so it was removed again. The registry directory of run "
                f"{current().id} is gone (`ipclab clean --live` removes the registries of running "
                "kernels): restart the kernel to start a new run, then create it again.") from exc


def unregister(kind, *, name=None, id=None, path=None):
    """Strike an object off this run's registry (after it was removed)."""
    ident = name or path if id is None else id
    try:
        _entry_file(current(), kind, ident).unlink()
    except FileNotFoundError:
        pass


def runs():
    """Every run recorded for this user, newest last."""
    base = state_dir()
    found = [Run(p.name, p) for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return sorted(found, key=lambda r: r.meta().get("created", 0))


def remove_object(entry):
    """Remove the kernel object an entry describes, if it still exists and is still the same one.

    Returns True if something was removed. System V ids are reused by the kernel, so an id is
    removed only while its key still matches the key recorded at creation.
    """
    import posix_ipc
    import sysv_ipc
    from ipclab.core import inventory as _inspect

    kind = kinds.KINDS[entry["kind"]]
    try:
        if kind.unlink_by_name:
            kinds.unlinker(kind.name)(entry["name"])
        elif kind.name == "file":
            os.unlink(entry["path"])
        else:
            row = _inspect.sysv_row(kind.sysv_table, entry["id"])
            if row is None or row["uid"] != os.getuid() or (row["key"] & 0xFFFFFFFF) != ((entry["key"] or 0) & 0xFFFFFFFF):
                return False
            kinds.remover_by_id(kind.name)(entry["id"])
    except (posix_ipc.ExistentialError, sysv_ipc.ExistentialError, FileNotFoundError):
        return False
    return True


def remove_entries(entries):
    """Remove each entry's object and strike it off; returns the entries whose object was removed."""
    removed = []
    for entry in entries:
        if remove_object(entry):
            removed.append(entry)
        try:
            os.unlink(entry["_file"])
        except (KeyError, FileNotFoundError):
            pass
    return removed


def remove_created_by(pids, run=None):
    """Remove what the given (crashed) processes created and left registered."""
    run = run or current()
    pids = set(pids)
    return remove_entries([e for e in run.entries() if e["pid"] in pids])


def remove_run(run):
    """Remove every object of *run* and its directory."""
    removed = remove_entries(run.entries())
    for f in run.path.glob("*"):
        f.unlink(missing_ok=True)
    try:
        run.path.rmdir()
    except OSError:
        pass
    return removed


def sweep_dead_runs(base=None):
    """Remove the objects of runs whose owner died without cleaning (e.g. a killed kernel)."""
    removed = []
    for run in runs():
        if run.id != os.environ.get(ENV_RUN) and not run.alive():
            removed += remove_run(run)
    return removed
