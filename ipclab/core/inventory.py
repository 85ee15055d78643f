"""What IPC objects exist right now, read from the kernel's own files.

System V objects come from ``/proc/sysvipc/{shm,sem,msg}`` (what ``ipcs`` reads), POSIX
shared memory and semaphores from ``/dev/shm`` (a semaphore is the file ``sem.NAME``),
POSIX message queues from ``/dev/mqueue`` where that filesystem is mounted. Each object
becomes one plain dict (a row), so a notebook can print it and a test can compare it.
"""

import contextlib
import os
import pwd
import stat

from ipclab.core import names, registry
from ipclab.core.errors import IpclabError
from ipclab.core.kinds import POSIX_DIRS, SYSV_TABLES

__all__ = ["sysv_rows", "sysv_row", "list_objects", "course_objects", "format_rows", "LeakError",
           "leak_check", "remove_rows"]


def _user(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def sysv_rows(table):
    """Rows of ``/proc/sysvipc/TABLE`` as dicts of ints keyed by the header's column names."""
    try:
        with open(f"/proc/sysvipc/{table}") as f:
            header, *lines = f.read().splitlines()
    except FileNotFoundError:
        return []
    cols = header.split()
    rows = []
    for line in lines:
        row = {c: int(v, 8 if c == "perms" else 10) for c, v in zip(cols, line.split())}
        row["id"] = row.pop({"shm": "shmid", "sem": "semid", "msg": "msqid"}[table])
        rows.append(row)
    return rows


def sysv_row(table, ident):
    """The row of System V object *ident* in *table*, or None if it no longer exists."""
    return next((r for r in sysv_rows(table) if r["id"] == ident), None)


def _same_key(recorded, seen):
    """Compare System V keys as the unsigned 32-bit key_t they are.

    /proc/sysvipc prints a key with the high bit set (ftok with proj_id >= 128) as a negative
    int, sysv_ipc reports it negative too, while a key given as 0x9c000001 is positive: the
    same key, two spellings.
    """
    return recorded is not None and (recorded & 0xFFFFFFFF) == (seen & 0xFFFFFFFF)


def _mq_qsize(directory, fname):
    """Bytes queued in a POSIX queue: QSIZE from its /dev/mqueue file (mq_overview(7)).

    The file's own size is that of its one status line (``QSIZE:10 NOTIFY:0 ...``), the
    same for every queue, so it says nothing about the queue.
    """
    try:
        with open(os.path.join(directory, fname)) as f:
            fields = dict(item.split(":", 1) for item in f.read().split())
        return int(fields["QSIZE"])
    except (OSError, ValueError, KeyError):
        return None  # gone meanwhile, or not readable by us (another user's 0600 queue)


def _registered():
    """(kind, ident) -> (run id, entry) for every object recorded in this user's registry."""
    out = {}
    for run in registry.runs():
        for e in run.entries():
            ident = e["id"] if e["kind"].startswith("sysv") else (e["name"] or e["path"])
            out[(e["kind"], ident)] = (run.id, e)
    return out


def list_objects(mine_only=False):
    """Every IPC object visible now, one dict per object: kind, name, key, id, owner, mode, size, ours, run, note."""
    reg = _registered()
    rows = []
    for table, kind in SYSV_TABLES.items():
        for r in sysv_rows(table):
            run, entry = reg.get((kind, r["id"]), (None, {}))
            size = {"shm": r.get("size"), "sem": r.get("nsems"), "msg": r.get("cbytes")}[table]
            rows.append({"kind": kind, "name": "", "key": r["key"] & 0xFFFFFFFF, "id": r["id"],
                         "uid": r["uid"], "owner": _user(r["uid"]), "mode": r["perms"] & 0o777,
                         "size": size, "ours": _same_key(entry.get("key"), r["key"]), "run": run,
                         "note": entry.get("note", "")})
    for directory, kind in POSIX_DIRS.items():
        if not os.path.isdir(directory):
            continue
        for fname in sorted(os.listdir(directory)):
            try:
                st = os.lstat(os.path.join(directory, fname))
            except FileNotFoundError:
                continue  # removed while we listed
            k, name = kind, "/" + fname
            if kind == "posix_shm" and fname.startswith("sem."):
                k, name = "posix_sem", "/" + fname[4:]
            parsed = names.parse_course_name(name)
            run, entry = reg.get((k, name), (None, {}))
            rows.append({"kind": k, "name": name, "key": None, "id": None, "uid": st.st_uid,
                         "owner": _user(st.st_uid), "mode": stat.S_IMODE(st.st_mode),
                         "size": _mq_qsize(directory, fname) if k == "posix_mq" else st.st_size,
                         "ours": parsed is not None and parsed[0] == st.st_uid,
                         "run": run or (parsed[1] if parsed else None), "note": entry.get("note", "")})
    if mine_only:
        rows = [r for r in rows if r["uid"] == os.getuid()]
    return rows


def course_objects(run_id=None):
    """Objects of the course owned by this user (optionally of one run): what must not leak."""
    rows = [r for r in list_objects(mine_only=True) if r["ours"]]
    return [r for r in rows if run_id is None or r["run"] == run_id]


def format_rows(rows):
    """A fixed-width text table of rows, the same one ``ipclab ls`` prints."""
    head = ("kind", "name/key", "id", "owner", "mode", "size", "ours", "run", "note")
    body = [(r["kind"], r["name"] or f"0x{r['key']:08x}", "" if r["id"] is None else str(r["id"]),
             r["owner"], f"{r['mode']:04o}", "?" if r["size"] is None else str(r["size"]), "yes" if r["ours"] else "",
             r["run"] or "", r["note"]) for r in rows]
    widths = [max([len(h)] + [len(b[i]) for b in body]) for i, h in enumerate(head)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in [head] + body]
    return "\n".join(lines) if body else "(no IPC objects)"


class LeakError(IpclabError, AssertionError):
    """Objects created inside a leak check still exist at its end."""


def _key(r):
    return (r["kind"], r["name"] or r["id"])


@contextlib.contextmanager
def leak_check(remove=True):
    """Fail if the block leaves course objects of this run behind (and remove them if *remove*).

    Filters by owner and by the course's registry/prefix, never a raw diff: other users'
    and other runs' objects may come and go meanwhile.
    """
    run_id = registry.current().id
    before = {_key(r) for r in course_objects(run_id)}
    yield
    leaked = [r for r in course_objects(run_id) if _key(r) not in before]
    if leaked:
        if remove:
            remove_rows(leaked)
        raise LeakError(f"{len(leaked)} IPC object(s) left behind:\n{format_rows(leaked)}\n"
                        "Remove objects in a finally block or use ipclab's context managers.")


def remove_rows(rows):
    """Remove the objects of listed rows (ours only), via their registry entries or their names."""
    reg = _registered()
    entries = []
    for r in rows:
        ident = r["name"] if r["kind"].startswith("posix") else r["id"]
        run, entry = reg.get((r["kind"], ident), (None, None))
        entries.append(entry or {"kind": r["kind"], "name": r["name"], "id": r["id"], "key": r["key"]})
    return registry.remove_entries(entries)
