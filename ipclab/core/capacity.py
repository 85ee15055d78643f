"""Does this machine hold a class? ``ipclab doctor --class N``: kernel limits against measured demand.

Why: on a shared JupyterHub every student's kernel creates System V semaphore sets and
queues, POSIX segments in ``/dev/shm`` and queues counted against a per-user byte limit,
and worker processes. Most of those limits are system-wide (SEMMNI, SEMMNS, MSGMNI,
``/dev/shm``), so forty students share them; one (RLIMIT_MSGQUEUE) is per user. When one
runs out, a student sees ENOSPC, EMFILE or SIGBUS in the middle of a lesson.

The demand is *measured*, never guessed: :class:`PeakRecorder` samples what one user owns
while the notebooks run (``bench/classroom.py --record`` runs them as a real hub user) and
the peak is stored with its date and commit in ``ipclab/data/capacity/peak.json``. The
check assumes the worst case: every student at their peak at the same moment, plus a
margin for what sampling can miss, plus what the machine already uses now.

Limits read here, with the page that defines each:
  kernel.sem = SEMMSL SEMMNS SEMOPM SEMMNI  (proc(5), semget(2))
  kernel.msgmni, kernel.shmmni              (proc(5), msgget(2), shmget(2))
  fs.mqueue.queues_max                      (mq_overview(7): system-wide count of POSIX queues)
  size of the /dev/shm tmpfs                (tmpfs(5): size= mount option)
  RLIMIT_MSGQUEUE                           (getrlimit(2): bytes of POSIX queues per real uid)
  RLIMIT_NPROC, kernel.pid_max, kernel.threads-max (getrlimit(2), proc(5))
"""

import datetime
import json
import os
import threading
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from ipclab.core import limits as kernel_limits
from ipclab.core.errors import BadArgument
from ipclab.core.paths import DATA_DIR

__all__ = ["Demand", "sample", "sample_all", "PeakRecorder", "new_record", "RECORD", "load_record", "limits", "Row", "plan",
           "format_plan", "MARGIN"]

RECORD = DATA_DIR / "capacity" / "peak.json"
#: demand is the measured peak times this: sampling every few ms can miss a short peak,
#: and a student may open a second notebook while the first still holds its objects
MARGIN = 1.5
#: kernel bookkeeping per POSIX message counted against RLIMIT_MSGQUEUE on top of its
#: payload (a pointer and tree node per message since Linux 3.5; getrlimit(2) gives the
#: formula). 64 bytes is an upper estimate for 64-bit kernels.
MQ_OVERHEAD_PER_MSG = 64


@dataclass
class Demand:
    """What one user holds at one moment (or at their peak): counts and bytes."""
    sem_sets: int = 0        # System V semaphore sets  (against SEMMNI)
    sems: int = 0            # semaphores in those sets (against SEMMNS)
    msg_queues: int = 0      # System V message queues  (against MSGMNI)
    shm_segments: int = 0    # System V segments        (against SHMMNI)
    devshm_bytes: int = 0    # bytes allocated in /dev/shm: POSIX segments and semaphores
    posix_mqs: int = 0       # POSIX queues             (against fs.mqueue.queues_max)
    mq_bytes: int = 0        # their RLIMIT_MSGQUEUE charge (estimate, see MQ_OVERHEAD_PER_MSG)
    tasks: int = 0           # threads of the user's processes (against RLIMIT_NPROC, pid_max)

    def peak(self, other):
        """Field by field maximum of two demands."""
        return Demand(**{f.name: max(getattr(self, f.name), getattr(other, f.name)) for f in fields(self)})


def _sysv_all(table):
    try:
        with open(f"/proc/sysvipc/{table}") as f:
            header, *lines = f.read().splitlines()
    except OSError:
        return []
    cols = header.split()
    return [dict(zip(cols, line.split())) for line in lines]


def _mq_charge(name):
    """RLIMIT_MSGQUEUE bytes a queue costs: max_messages * (max_message_size + overhead)."""
    import posix_ipc
    try:
        q = posix_ipc.MessageQueue("/" + name, read=True, write=False)  # O_RDONLY: receives nothing
    except (posix_ipc.Error, OSError):
        return 0  # removed meanwhile, or not ours to open
    try:
        return q.max_messages * (q.max_message_size + MQ_OVERHEAD_PER_MSG)
    finally:
        q.close()


def _tasks(uids, out):
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            uid = os.stat(f"/proc/{pid}").st_uid
            if uid not in uids:
                continue
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("Threads:"):
                        out[uid].tasks += int(line.split()[1])
                        break
        except (OSError, ValueError):
            continue  # exited while we looked


def sample_all(uids, with_tasks=True):
    """``{uid: Demand}``: what each of *uids* holds now, from one pass over the kernel's tables."""
    uids = set(uids)
    out = {u: Demand() for u in uids}
    for table in ("sem", "msg", "shm"):
        for r in _sysv_all(table):
            d = out.get(int(r["uid"]))
            if d is None:
                continue
            if table == "sem":
                d.sem_sets += 1
                d.sems += int(r["nsems"])
            elif table == "msg":
                d.msg_queues += 1
            else:
                d.shm_segments += 1
    for directory in ("/dev/shm", "/dev/mqueue"):
        try:
            entries = list(os.scandir(directory))
        except OSError:
            continue
        for e in entries:
            try:
                st = e.stat(follow_symlinks=False)
            except OSError:
                continue
            d = out.get(st.st_uid)
            if d is None:
                continue
            if directory == "/dev/shm":
                d.devshm_bytes += st.st_blocks * 512
            else:
                d.posix_mqs += 1
                d.mq_bytes += _mq_charge(e.name)
    if with_tasks:
        _tasks(uids, out)
    return out


def sample(uid=None, with_tasks=True):
    """What *uid* (default: you) holds right now, read from /proc/sysvipc, /dev/shm, /dev/mqueue, /proc."""
    uid = os.getuid() if uid is None else uid
    return sample_all({uid}, with_tasks)[uid]


def _total(demands):
    return Demand(**{f.name: sum(getattr(d, f.name) for d in demands) for f in fields(Demand)})


class PeakRecorder:
    """Sample some users' holdings in a thread: ``.peaks[uid]`` per user, ``.together`` for all at once.

    IPC tables are read every *interval* seconds, the process table every fifth sample
    (it costs more). A sampled peak is a lower bound of the true one: hence :data:`MARGIN`.
    """

    def __init__(self, uids, interval=0.02):
        self.uids, self.interval = set([uids] if isinstance(uids, int) else uids), interval
        self.errors = []
        self.reset()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="ipclab-peaks", daemon=True)

    def reset(self, together=True):
        """Start new per-user peaks (e.g. per notebook), and the all-at-once peak if *together*."""
        self.peaks = {u: Demand() for u in self.uids}
        if together:
            self.together = Demand()
            self.samples = 0

    @property
    def peak(self):
        """The peak of the one user recorded (or the field-wise max over users)."""
        out = Demand()
        for d in self.peaks.values():
            out = out.peak(d)
        return out

    def _loop(self):
        n = 0
        while not self._stop.is_set():
            try:
                now = sample_all(self.uids, with_tasks=n % 5 == 0)
            except Exception as e:  # noqa: BLE001 - kept and shown by whoever reads the peak
                self.errors.append(repr(e))
                self._stop.wait(self.interval)
                continue
            peaks = self.peaks
            for u, d in now.items():
                if u in peaks:
                    peaks[u] = peaks[u].peak(d)
            self.together = self.together.peak(_total(now.values()))
            self.samples += 1
            n += 1
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=10)


def load_record(path=None):
    """The stored measurement: ``{"peak": {...}, "notebooks": {...}, "date": ..., "commit": ...}``."""
    path = Path(path or RECORD)
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        raise BadArgument(f"no measured per-student peak at {path}: as root, run "
                          "`python bench/classroom.py --users 1 --record` once") from None
    record["peak"] = Demand(**record["peak"])
    return record


def limits():
    """The kernel limits a class runs into, as ``{name: value}`` (None where unreadable)."""
    return kernel_limits.all_limits()


@dataclass
class Row:
    """One limit: what it is, its value, the class's demand on it, and the fix if it does not hold."""
    limit: str
    value: object
    demand: int
    per: str            # "system" (shared by the class) or "user" (each student alone)
    ok: bool
    fix: list

    def as_dict(self):
        return asdict(self)


def _need(n, per_student, in_use=0):
    return in_use + int(n * per_student * MARGIN + 0.999)


def plan(n, record=None, lim=None, in_use=None):
    """One :class:`Row` per limit for a class of *n* students running the course at once.

    *record* is the measured peak (default: the stored one), *lim* the limits (default: this
    machine's), *in_use* what every user holds now (default: sampled; pass ``Demand()`` to ignore).
    """
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise BadArgument(f"--class needs a number of students >= 1, got {n!r}")
    peak = (record or load_record())["peak"]
    lim = lim or limits()
    used = in_use if in_use is not None else _in_use_all()
    rows = []

    def add(limit, value, demand, per, fix):
        ok = value is None and per == "user" or (value is not None and demand <= value)
        rows.append(Row(limit, value, demand, per, ok, [] if ok else fix))

    semmns = _need(n, peak.sems, used.sems)
    semmni = _need(n, peak.sem_sets, used.sem_sets)
    sem_line = (f"{lim['semmsl']} {max(semmns, lim['semmns'] or 0)} {lim['semopm']} "
                f"{max(semmni, lim['semmni'] or 0)}")
    sem_fix = [f"sysctl -w kernel.sem=\"{sem_line}\"",
               f"echo 'kernel.sem = {sem_line}' > /etc/sysctl.d/90-ipclab-class.conf"]
    add("SEMMNI (kernel.sem[3], semaphore sets)", lim["semmni"], semmni, "system", sem_fix)
    add("SEMMNS (kernel.sem[1], semaphores)", lim["semmns"], semmns, "system", sem_fix)
    msgmni = _need(n, peak.msg_queues, used.msg_queues)
    add("MSGMNI (kernel.msgmni, System V queues)", lim["msgmni"], msgmni, "system",
        [f"sysctl -w kernel.msgmni={msgmni}",
         f"echo 'kernel.msgmni = {msgmni}' >> /etc/sysctl.d/90-ipclab-class.conf"])
    shmmni = _need(n, peak.shm_segments, used.shm_segments)
    add("SHMMNI (kernel.shmmni, System V segments)", lim["shmmni"], shmmni, "system",
        [f"sysctl -w kernel.shmmni={shmmni}",
         f"echo 'kernel.shmmni = {shmmni}' >> /etc/sysctl.d/90-ipclab-class.conf"])
    qmax = _need(n, peak.posix_mqs, used.posix_mqs)
    add("fs.mqueue.queues_max (POSIX queues)", lim["queues_max"], qmax, "system",
        [f"sysctl -w fs.mqueue.queues_max={qmax}",
         f"echo 'fs.mqueue.queues_max = {qmax}' >> /etc/sysctl.d/90-ipclab-class.conf"])
    shm = _need(n, peak.devshm_bytes, used.devshm_bytes)
    mib = -(-shm // 2**20)
    add("/dev/shm size (tmpfs, POSIX segments)", lim["devshm_size"], shm, "system",
        [f"mount -o remount,size={mib}M /dev/shm",
         f"in /etc/fstab: tmpfs /dev/shm tmpfs defaults,nosuid,nodev,size={mib}M 0 0"])
    mq = int(peak.mq_bytes * MARGIN + 0.999)
    add("RLIMIT_MSGQUEUE (bytes of POSIX queues, per student)", lim["rlimit_msgqueue"], mq, "user",
        [f"in /etc/security/limits.d/90-ipclab.conf: @students hard msgqueue {mq}",
         f"(the hub's spawner sets it itself: IPCLAB_RLIMIT_MSGQUEUE={mq} in deploy/jupyterhub_config.py)"])
    tasks = int(peak.tasks * MARGIN + 0.999)
    add("RLIMIT_NPROC (tasks per student)", lim["rlimit_nproc"], tasks, "user",
        [f"in /etc/security/limits.d/90-ipclab.conf: @students hard nproc {tasks}"])
    pids = _need(n, peak.tasks, used.tasks)
    add("kernel.pid_max (tasks, all students)", lim["pid_max"], pids, "system",
        [f"sysctl -w kernel.pid_max={max(pids, 32768)}"])
    add("kernel.threads-max (tasks, all students)", lim["threads_max"], pids, "system",
        [f"sysctl -w kernel.threads-max={pids}"])
    return rows


def _in_use_all():
    """What every user together holds now: the class shares the system-wide tables with it."""
    sems, msgs, shms = (_sysv_all(t) for t in ("sem", "msg", "shm"))
    d = Demand(sem_sets=len(sems), sems=sum(int(r["nsems"]) for r in sems),
               msg_queues=len(msgs), shm_segments=len(shms))
    try:
        st = os.statvfs("/dev/shm")
        d.devshm_bytes = (st.f_blocks - st.f_bfree) * st.f_frsize
    except OSError:
        pass
    try:
        d.posix_mqs = len(os.listdir("/dev/mqueue"))
    except OSError:
        pass
    d.tasks = sum(1 for p in os.listdir("/proc") if p.isdigit())  # processes, a lower bound of tasks
    return d


def format_plan(n, rows, record=None):
    """The text ``ipclab doctor --class N`` prints: one line per limit, fixes under what fails."""
    record = record or load_record()
    out = [f"a class of {n} running the course at once (measured per-student peak from "
           f"{record['date']} at commit {record['commit'][:10]}, x{MARGIN} margin, plus what is in use now):"]
    width = max(len(r.limit) for r in rows)
    for r in rows:
        mark = "ok  " if r.ok else "FAIL"
        value = "unlimited" if r.value is None else r.value
        out.append(f"{mark}  {r.limit.ljust(width)}  limit {value}, needs {r.demand} ({r.per})")
        out += [f"      -> {line}" for line in r.fix]
    bad = [r for r in rows if not r.ok]
    out.append(f"{'holds' if not bad else 'does NOT hold'}: {len(rows) - len(bad)} of {len(rows)} limits suffice")
    return "\n".join(out)


def new_record(peak, notebooks, commit, users=1, note=""):
    """A record to store: the overall peak, per-notebook peaks, date and commit."""
    return {"peak": asdict(peak), "notebooks": {k: asdict(v) for k, v in notebooks.items()},
            "date": datetime.date.today().isoformat(), "commit": commit, "users": users,
            "margin": MARGIN, "note": note, "recorded_at": time.time()}
