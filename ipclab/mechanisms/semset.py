"""System V semaphore *sets*: semget/semop/semtimedop/semctl over libc, via ctypes.

Why not sysv_ipc: it only ever creates sets of one semaphore (``semget(key, 1, ...)``),
opens a set of 3 made elsewhere but sees only semaphore 0, cannot apply several operations
atomically, and its Linux wheel has ``SEMAPHORE_TIMEOUT_SUPPORTED = False`` (a timed
``acquire`` blocks for ever). The point of System V semaphores is exactly sets, atomic
multi-operations, ``SEM_UNDO`` and (with ``semtimedop``) timed waits; this module offers
them on the real kernel object: ``ipcs -s -i ID``, a C program and sysv_ipc all see the
same state.

    with semset.create(2, values=[1, 1], note="forks") as s:   # semget(IPC_CREAT|IPC_EXCL, 0600) + SETALL
        s.op([(0, -1, SEM_UNDO), (1, -1, SEM_UNDO)], timeout=2)  # semtimedop: both or neither
        s.getall()                                              # semctl(GETALL) -> [0, 0]
        s.op([(0, +1, SEM_UNDO), (1, +1, SEM_UNDO)])

For a hot loop (a benchmark), ``s.prepare(ops, timeout)`` returns a zero-argument function
doing the same ``semtimedop`` with prebuilt arguments.

In a worker, attach by id (``SemaphoreSet.attach(semid)``), or pass the set itself as an
argument: it pickles as its id, and only the creator's ``with`` removes it.

Every blocking call takes a timeout (default :data:`DEFAULT_TIMEOUT`): a wait that runs
out raises :class:`ipclab.core.errors.WaitTimeout` naming the set and the operations.

Defined in :mod:`ipclab.mechanisms.semset`; taught in notebook 02 (19.2 System V semaphores).
"""

import contextlib
import ctypes
import ctypes.util
import errno
import os
import platform
import time
from dataclasses import dataclass

from ipclab.core import limits as kernel_limits
from ipclab.core import names, registry
from ipclab.core.errors import BadArgument, IpclabError, LimitReached, ObjectGone, WaitTimeout

__all__ = ["SemaphoreSet", "SemStat", "WouldBlock", "create", "attach", "open_key", "ftok",
           "limits", "IPC_PRIVATE", "IPC_CREAT", "IPC_EXCL", "IPC_NOWAIT", "SEM_UNDO",
           "SEMVMX", "DEFAULT_TIMEOUT"]

# <sys/ipc.h>, <sys/sem.h> (Linux)
IPC_PRIVATE = 0
IPC_CREAT = 0o1000
IPC_EXCL = 0o2000
IPC_NOWAIT = 0o4000
IPC_RMID, IPC_SET, IPC_STAT = 0, 1, 2
GETPID, GETVAL, GETALL, GETNCNT, GETZCNT, SETVAL, SETALL = 11, 12, 13, 14, 15, 16, 17
SEM_UNDO = 0x1000
SEMVMX = 32767  # largest value a semaphore can hold (Linux)
DEFAULT_MODE = 0o600
DEFAULT_TIMEOUT = 30.0
_KEY_TRIES = 64

COMMANDS = {"GETPID": GETPID, "GETVAL": GETVAL, "GETALL": GETALL, "GETNCNT": GETNCNT,
            "GETZCNT": GETZCNT, "SETVAL": SETVAL, "SETALL": SETALL, "IPC_STAT": IPC_STAT,
            "IPC_RMID": IPC_RMID}


class WouldBlock(WaitTimeout):
    """An operation with ``IPC_NOWAIT`` (or ``timeout=0``) could not proceed at once (EAGAIN)."""


# -- libc --------------------------------------------------------------------------------
class _Sembuf(ctypes.Structure):
    _fields_ = [("sem_num", ctypes.c_ushort), ("sem_op", ctypes.c_short), ("sem_flg", ctypes.c_short)]


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _IpcPerm(ctypes.Structure):
    _fields_ = [("key", ctypes.c_int32), ("uid", ctypes.c_uint32), ("gid", ctypes.c_uint32),
                ("cuid", ctypes.c_uint32), ("cgid", ctypes.c_uint32), ("mode", ctypes.c_uint32),
                ("seq", ctypes.c_ushort), ("_pad2", ctypes.c_ushort),
                ("_reserved1", ctypes.c_ulong), ("_reserved2", ctypes.c_ulong)]


if platform.machine() in ("x86_64", "i686", "i386"):  # x86 keeps a padding word after each time
    _time_fields = [("sem_otime", ctypes.c_long), ("_otime_high", ctypes.c_ulong),
                    ("sem_ctime", ctypes.c_long), ("_ctime_high", ctypes.c_ulong)]
else:  # generic 64-bit layout (aarch64, riscv64, ...)
    _time_fields = [("sem_otime", ctypes.c_long), ("sem_ctime", ctypes.c_long)]


class _SemidDs(ctypes.Structure):
    _fields_ = ([("sem_perm", _IpcPerm)] + _time_fields +
                [("sem_nsems", ctypes.c_ulong), ("_reserved3", ctypes.c_ulong), ("_reserved4", ctypes.c_ulong)])


_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
_c_semget = _libc.semget
_c_semget.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
_c_semget.restype = ctypes.c_int
_semtimedop = _libc.semtimedop
_semtimedop.argtypes = [ctypes.c_int, ctypes.POINTER(_Sembuf), ctypes.c_size_t, ctypes.POINTER(_Timespec)]
_semtimedop.restype = ctypes.c_int
_semctl = _libc.semctl  # variadic: the 4th argument (union semun) is passed untyped
_semctl.restype = ctypes.c_int
_ftok = _libc.ftok
_ftok.argtypes = [ctypes.c_char_p, ctypes.c_int]
_ftok.restype = ctypes.c_int


def _err():
    return ctypes.get_errno()


# -- module-level helpers -----------------------------------------------------------------
def ftok(path, proj_id):
    """``ftok(path, proj_id)``: a key made from the file's inode and device and 8 bits of *proj_id*.

    Every user calling it on the same file gets the same key, and two files can collide.
    """
    if not isinstance(proj_id, int) or not 1 <= proj_id <= 255:
        raise BadArgument(f"proj_id must be 1..255 (only its low 8 bits are used; 0 is "
                          f"reserved), got {proj_id!r}")
    key = _ftok(os.fsencode(path), proj_id)
    if key == -1:
        e = _err()
        raise FileNotFoundError(e, f"ftok: {os.strerror(e)}: {path} (ftok needs an existing file)", str(path))
    return key & 0xFFFFFFFF


@dataclass(frozen=True)
class Limits:
    """``/proc/sys/kernel/sem``: SEMMSL (per set), SEMMNS (system-wide), SEMOPM (per semop), SEMMNI (sets)."""
    semmsl: int
    semmns: int
    semopm: int
    semmni: int


def limits():
    """The kernel's semaphore limits, read from ``/proc/sys/kernel/sem`` (:mod:`ipclab.core.limits`)."""
    return Limits(*kernel_limits.sem())


@dataclass(frozen=True)
class SemStat:
    """``semctl(IPC_STAT)``: the set's ``struct semid_ds``; times are Unix seconds (0 = never)."""
    key: int
    uid: int
    gid: int
    cuid: int
    cgid: int
    mode: int
    nsems: int
    otime: int  # last semop
    ctime: int  # creation or last semctl change


def _gone(semid, what):
    return ObjectGone(f"semaphore set id {semid} no longer exists ({what}): it was removed "
                      "(IPC_RMID by its creator, `ipcrm -s`, or `ipclab clean`). Create a new one.")


def _raise_ctl(semid, cmd_name, e, index=None, value=None):
    if e in (errno.EINVAL, errno.EIDRM):
        raise _gone(semid, f"semctl {cmd_name}")
    if e == errno.ERANGE:
        raise BadArgument(f"semctl {cmd_name}: value {value!r} is outside 0..{SEMVMX} (SEMVMX)")
    if e in (errno.EACCES, errno.EPERM):
        raise PermissionError(e, f"semctl {cmd_name} on set {semid}: {os.strerror(e)}; "
                                 "check the set's mode and owner with `ipcs -s -i {semid}`")
    raise OSError(e, f"semctl {cmd_name} on set {semid}: {os.strerror(e)}")


def _check_nsems(nsems):
    if not isinstance(nsems, int) or isinstance(nsems, bool) or nsems < 1:
        raise BadArgument(f"a semaphore set needs nsems >= 1 semaphores, got {nsems!r}")
    msl = limits().semmsl
    if nsems > msl:
        raise LimitReached(f"nsems={nsems} is more than SEMMSL={msl}, the kernel's limit per set "
                           "(first field of /proc/sys/kernel/sem); use fewer or raise it with sysctl kernel.sem")


def _check_value(value, what="value"):
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= SEMVMX:
        raise BadArgument(f"semaphore {what} must be an integer 0..{SEMVMX} (SEMVMX), got {value!r}")
    return value


def _semget(key, nsems, flags):
    semid = _c_semget(key if key < 2**31 else key - 2**32, nsems, flags)
    if semid == -1:
        e = _err()
        if e == errno.EEXIST:
            raise FileExistsError(e, f"semget: a set with key 0x{key:08x} already exists (IPC_EXCL)")
        if e == errno.ENOENT:
            raise FileNotFoundError(e, f"semget: no semaphore set has key 0x{key:08x} (and no IPC_CREAT)")
        if e == errno.ENOSPC:
            lim = limits()
            raise LimitReached(f"semget: the system's semaphore limit is reached (SEMMNI={lim.semmni} "
                               f"sets, SEMMNS={lim.semmns} semaphores; /proc/sys/kernel/sem). "
                               "Remove leftovers: `ipcs -s`, `ipclab clean`.")
        if e == errno.EINVAL:
            raise BadArgument(f"semget(key=0x{key:08x}, nsems={nsems}): EINVAL: nsems is more than "
                              "SEMMSL, or the existing set with this key has fewer semaphores")
        if e == errno.EACCES:
            raise PermissionError(e, f"semget: the set with key 0x{key:08x} is not yours to use "
                                     "(its mode forbids it)")
        raise OSError(e, f"semget: {os.strerror(e)}")
    return semid


# -- the set --------------------------------------------------------------------------------
class SemaphoreSet:
    """A System V semaphore set, by id. Make one with :func:`create`; in workers, :meth:`attach`.

    Semaphores are numbered ``0..nsems-1``. Only the creator (``owner=True``) removes it on
    ``with`` exit; :meth:`remove` does ``semctl(IPC_RMID)`` from anywhere.
    """

    def __init__(self, semid, nsems=None, *, key=None, owner=False):
        self.id = semid
        self.owner = owner
        st = self.stat()
        self.nsems = st.nsems if nsems is None else nsems
        self.key = st.key if key is None else key
        self.removed = False

    @classmethod
    def attach(cls, semid):
        """Use an existing set by its id (what a worker does); never removes it on exit."""
        if not isinstance(semid, int) or semid < 0:
            raise BadArgument(f"a semaphore set id is an integer >= 0, got {semid!r}")
        return cls(semid)

    def __reduce__(self):  # a set travels to workers as its id
        return (attach, (self.id,))

    def __repr__(self):
        state = "removed" if self.removed else f"values={self._safe_values()}"
        return f"<SemaphoreSet id={self.id} key=0x{self.key:08x} nsems={self.nsems} {state}>"

    def _safe_values(self):
        try:
            return self.getall()
        except IpclabError:
            return "?"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.owner:
            self.remove()
        return False

    def __len__(self):
        return self.nsems

    # -- semop / semtimedop -------------------------------------------------------------
    def _check_index(self, index):
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < self.nsems:
            raise BadArgument(f"semaphore index {index!r} is not in 0..{self.nsems - 1} "
                              f"(set {self.id} has {self.nsems} semaphores)")
        return index

    def _sembufs(self, ops):
        if isinstance(ops, tuple) and ops and isinstance(ops[0], int):
            ops = [ops]  # a single (index, delta[, flags])
        ops = list(ops)
        if not ops:
            raise BadArgument("op() needs at least one (index, delta[, flags]) operation")
        bufs = (_Sembuf * len(ops))()
        for b, o in zip(bufs, ops):
            if not isinstance(o, (tuple, list)) or len(o) not in (2, 3):
                raise BadArgument(f"each operation is (index, delta) or (index, delta, flags), got {o!r}")
            index, delta, flags = (*o, 0) if len(o) == 2 else o
            self._check_index(index)
            if not isinstance(delta, int) or not -SEMVMX <= delta <= SEMVMX:
                raise BadArgument(f"delta {delta!r} must be an integer in -{SEMVMX}..{SEMVMX}: "
                                  "<0 waits to take (P), >0 gives (V), 0 waits for zero")
            if not isinstance(flags, int) or flags & ~(IPC_NOWAIT | SEM_UNDO):
                raise BadArgument(f"flags {flags!r} may only combine IPC_NOWAIT and SEM_UNDO")
            b.sem_num, b.sem_op, b.sem_flg = index, delta, flags
        return bufs, ops  # more than SEMOPM operations: the kernel's E2BIG, see _raise_op

    def op(self, ops, timeout=DEFAULT_TIMEOUT):
        """Apply operations ``[(index, delta, flags), ...]`` atomically: all at once, or none.

        ``delta < 0`` takes (P, waits while the value is too small), ``> 0`` gives (V),
        ``0`` waits for the value to be zero. *flags* combine ``SEM_UNDO`` (the kernel undoes
        this process's change when it exits) and ``IPC_NOWAIT`` (fail at once: WouldBlock).
        Waits at most *timeout* seconds (``semtimedop``), then raises WaitTimeout;
        ``timeout=None`` waits for ever (``semop``): avoid it in the course.
        """
        bufs, ops = self._sembufs(ops)
        if timeout is not None and (not isinstance(timeout, (int, float)) or timeout < 0):
            raise BadArgument(f"timeout must be seconds >= 0 or None, got {timeout!r}")
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            ts = None
            if deadline is not None:
                left = max(0.0, deadline - time.monotonic())
                ts = ctypes.byref(_Timespec(int(left), int((left - int(left)) * 1e9)))
            if _semtimedop(self.id, bufs, len(bufs), ts) == 0:
                return
            e = _err()
            if e == errno.EINTR:  # a signal (e.g. SIGCHLD) interrupted the wait: retry with what is left
                continue
            self._raise_op(e, ops, timeout)

    def prepare(self, ops, timeout=DEFAULT_TIMEOUT):
        """The same :meth:`op`, as a zero-argument function with prebuilt arguments, for hot loops.

        The ``sembuf`` array and the ``timespec`` are built once; each call is one
        ``semtimedop`` (the full *timeout* again after an EINTR). Errors are those of :meth:`op`.
        """
        bufs, ops = self._sembufs(ops)
        if timeout is not None and (not isinstance(timeout, (int, float)) or timeout < 0):
            raise BadArgument(f"timeout must be seconds >= 0 or None, got {timeout!r}")
        ts = None if timeout is None else _Timespec(int(timeout), int((timeout - int(timeout)) * 1e9))
        semid, n, pts = self.id, len(bufs), None if ts is None else ctypes.byref(ts)

        def run_op():
            while _semtimedop(semid, bufs, n, pts) != 0:
                e = _err()
                if e != errno.EINTR:
                    self._raise_op(e, ops, timeout)
        run_op.__doc__ = f"semtimedop on set {semid}: [{', '.join(_describe(o) for o in ops)}]"
        return run_op

    def _raise_op(self, e, ops, timeout):
        desc = ", ".join(_describe(o) for o in ops)
        if e == errno.EAGAIN:
            nowait = timeout == 0 or any(len(o) == 3 and o[2] & IPC_NOWAIT for o in ops)
            if nowait:
                raise WouldBlock(f"semop on set {self.id} would block ({desc}); values now {self._safe_values()}")
            raise WaitTimeout(f"semtimedop on set {self.id} waited {timeout:g} s for [{desc}] and "
                              f"gave up; values now {self._safe_values()}. Who holds it? "
                              "ncnt()/zcnt()/pid() and `ipcs -s -i` tell.")
        if e in (errno.EINVAL, errno.EIDRM):
            raise _gone(self.id, "semop")
        if e == errno.ERANGE:
            raise BadArgument(f"semop [{desc}] would take a value above {SEMVMX} (SEMVMX)")
        if e == errno.E2BIG:
            raise LimitReached(f"{len(ops)} operations in one semop is more than SEMOPM={limits().semopm} "
                               "(third field of /proc/sys/kernel/sem): split them or raise it with sysctl kernel.sem")
        if e == errno.ENOSPC:
            raise LimitReached("SEM_UNDO: the kernel's undo structures are full (SEMUME); "
                               "use fewer SEM_UNDO operations")
        if e == errno.EFBIG:
            raise BadArgument(f"semaphore index out of range in [{desc}]")
        if e == errno.EACCES:
            raise PermissionError(e, f"semop on set {self.id}: permission denied (mode)")
        raise OSError(e, f"semop on set {self.id} [{desc}]: {os.strerror(e)}")

    def acquire(self, index=0, n=1, *, undo=False, timeout=DEFAULT_TIMEOUT):
        """P: take *n* units of semaphore *index*, waiting at most *timeout* s."""
        self.op([(index, -n, SEM_UNDO if undo else 0)], timeout=timeout)

    def release(self, index=0, n=1, *, undo=False):
        """V: give *n* units back to semaphore *index* (never blocks)."""
        self.op([(index, n, SEM_UNDO if undo else 0)], timeout=0)

    def wait_zero(self, index=0, *, timeout=DEFAULT_TIMEOUT):
        """Z: wait until semaphore *index* is 0, at most *timeout* s."""
        self.op([(index, 0, 0)], timeout=timeout)

    # -- semctl ---------------------------------------------------------------------------
    def _ctl(self, index, cmd, name, arg=None, value=None):
        res = _semctl(self.id, index, cmd) if arg is None else _semctl(self.id, index, cmd, arg)
        if res == -1:
            _raise_ctl(self.id, name, _err(), index, value)
        return res

    def getval(self, index):
        """``semctl(id, index, GETVAL)``: the semaphore's value."""
        return self._ctl(self._check_index(index), GETVAL, "GETVAL")

    def setval(self, index, value):
        """``semctl(id, index, SETVAL, value)``; clears every process's undo for it."""
        self._ctl(self._check_index(index), SETVAL, "SETVAL", ctypes.c_int(_check_value(value)), value)

    def getall(self):
        """``semctl(id, 0, GETALL, array)``: every value, as a list."""
        arr = (ctypes.c_ushort * self.nsems)()
        self._ctl(0, GETALL, "GETALL", arr)
        return list(arr)

    def setall(self, values):
        """``semctl(id, 0, SETALL, array)``: set every value at once."""
        values = list(values)
        if len(values) != self.nsems:
            raise BadArgument(f"setall needs {self.nsems} values (one per semaphore), got {len(values)}")
        for v in values:
            _check_value(v)
        self._ctl(0, SETALL, "SETALL", (ctypes.c_ushort * self.nsems)(*values), values)

    def pid(self, index):
        """``semctl(GETPID)``: pid of the last process to semop on semaphore *index* (0 if none)."""
        return self._ctl(self._check_index(index), GETPID, "GETPID")

    def ncnt(self, index):
        """``semctl(GETNCNT)``: how many processes wait for semaphore *index* to grow."""
        return self._ctl(self._check_index(index), GETNCNT, "GETNCNT")

    def zcnt(self, index):
        """``semctl(GETZCNT)``: how many processes wait for semaphore *index* to be zero."""
        return self._ctl(self._check_index(index), GETZCNT, "GETZCNT")

    def stat(self):
        """``semctl(IPC_STAT)``: key, owner, mode, nsems, last semop time, change time."""
        ds = _SemidDs()
        self._ctl(0, IPC_STAT, "IPC_STAT", ctypes.byref(ds))
        p = ds.sem_perm
        return SemStat(key=p.key & 0xFFFFFFFF, uid=p.uid, gid=p.gid, cuid=p.cuid, cgid=p.cgid,
                       mode=p.mode & 0o777, nsems=ds.sem_nsems, otime=ds.sem_otime, ctime=ds.sem_ctime)

    def snapshot(self):
        """Values, waiters and last pids of every semaphore, as rows a notebook can print."""
        return [{"sem": i, "value": v, "ncnt": self.ncnt(i), "zcnt": self.zcnt(i), "pid": self.pid(i)}
                for i, v in enumerate(self.getall())]

    def remove(self):
        """``semctl(id, 0, IPC_RMID)``: remove the set now (waiters wake with EIDRM); idempotent."""
        if _semctl(self.id, 0, IPC_RMID) == -1 and _err() not in (errno.EINVAL, errno.EIDRM):
            _raise_ctl(self.id, "IPC_RMID", _err())
        self.removed = True
        registry.unregister("sysv_sem", id=self.id)


def _describe(o):
    index, delta = o[0], o[1]
    flags = o[2] if len(o) == 3 else 0
    word = "wait-zero" if delta == 0 else (f"P{-delta}" if delta < 0 else f"V{delta}")
    extra = "".join(f"|{n}" for n, f in (("UNDO", SEM_UNDO), ("NOWAIT", IPC_NOWAIT)) if flags & f)
    return f"sem{index}:{word}{extra}"


def attach(semid):
    """The set with id *semid* (made elsewhere); for workers. Not removed on ``with`` exit."""
    return SemaphoreSet.attach(semid)


def open_key(key, nsems=0):
    """``semget(key, nsems, 0)``: open an existing set by key (FileNotFoundError if none)."""
    names.check_sysv_key(key)
    return SemaphoreSet(_semget(key, nsems, 0))


def create(nsems=1, values=None, *, key=None, mode=DEFAULT_MODE, note="sysv sem set"):
    """``semget(key, nsems, IPC_CREAT|IPC_EXCL|mode)`` + ``semctl(SETALL, values)``; registered.

    *key* defaults to a fresh course key (retried on collision); ``IPC_PRIVATE`` makes a set
    no one can open by key. *values* defaults to all zeros. Use it as a context manager, or
    call :meth:`SemaphoreSet.remove` in a ``finally``.
    """
    _check_nsems(nsems)
    values = [0] * nsems if values is None else list(values)
    if len(values) != nsems:
        raise BadArgument(f"values must give one initial value per semaphore ({nsems}), got {len(values)}")
    for v in values:
        _check_value(v, "initial value")
    if not isinstance(mode, int) or not 0 <= mode <= 0o777:
        raise BadArgument(f"mode must be permission bits such as 0o600, got {mode!r}")
    tries = 1 if key is not None else _KEY_TRIES
    for _ in range(tries):
        k = names.check_sysv_key(key) if key is not None else names.sysv_key()
        try:
            semid = _semget(k, nsems, IPC_CREAT | IPC_EXCL | mode)
        except FileExistsError:
            if key is not None:
                raise
            continue
        registry.register_or_undo("sysv_sem", lambda: _semctl(semid, 0, IPC_RMID), id=semid, key=k, note=note)
        try:
            s = SemaphoreSet(semid, nsems, key=k, owner=True)
            if any(values):
                s.setall(values)
        except BaseException:
            with contextlib.suppress(Exception):
                SemaphoreSet.remove(s) if "s" in locals() else _semctl(semid, 0, IPC_RMID)
            registry.unregister("sysv_sem", id=semid)
            raise
        return s
    raise LimitReached(f"no free System V key after {_KEY_TRIES} tries; run `ipclab clean`")
