"""Notebook 07's C demos of synchronisation *inside* shared memory: seqlock, robust mutex, SEM_UNDO.

Why in C: a seqlock needs atomics with chosen memory orders, and a process-shared pthread
mutex or condition variable lives *in* the shared bytes; Python has neither across
processes. Each function compiles ``ipclab/c/demos/*.c`` with :mod:`ipclab.core.cbuild`,
runs real processes on course objects (created, registered and removed here) with
:mod:`ipclab.core.cprocs`, and returns plain results for the notebook to print.

Defined in :mod:`ipclab.experiments.pshared_demos`; taught in notebook 07.
"""

import re
from dataclasses import dataclass

from ipclab.core import cbuild, cprocs, objects
from ipclab.core.errors import IpclabError

__all__ = ["SeqlockResult", "seqlock", "RobustResult", "robust_vs_undo", "condvar", "BANK_SIZE"]

BANK_SIZE = 4096  # bytes: struct bank (a pthread mutex, a condvar, the accounts) fits in a page
TIMEOUT = 30.0


def _exe(name):
    return cbuild.build_file(f"demos/{name}.c", sanitize=False)


def _check(results, what):
    bad = [r for r in results if r.timed_out or (r.returncode != 0 and r.signal != "SIGKILL")]
    if bad:
        raise IpclabError(f"{what}: {bad[0].name} {bad[0].status()}; stderr: {bad[0].stderr.strip()[-400:]!r}")
    return results


@dataclass
class SeqlockResult:
    """Reads done by the reader, how many returned a torn pair (a != b), how many retried."""
    mode: str
    reads: int
    torn: int
    retries: int


def seqlock(mode="seqlock", count=2_000_000, timeout=TIMEOUT):
    """One writer and one reader process on a fresh shm object; *mode* is ``seqlock`` or ``none``."""
    exe = _exe("seqlock")
    with objects.posix_shm(4096, tag="seqlock") as shm:
        results = cprocs.run_programs([[exe, mode, role, shm.name, count] for role in ("writer", "reader")],
                                      timeout=timeout, names=["writer", "reader"], relay=False)
    _check(results, f"seqlock ({mode})")
    m = re.search(r"reads=(\d+) torn=(\d+) retries=(\d+)", results[1].stdout)
    return SeqlockResult(mode, *(int(g) for g in m.groups()))


@dataclass
class RobustResult:
    """What the process after a SIGKILLed lock holder saw, for each kind of lock."""
    mutex_died_by: str       # how the holder ended ("SIGKILL")
    mutex_eownerdead: bool   # did pthread_mutex_lock return EOWNERDEAD?
    mutex_found: tuple       # (a, b) the next owner found before repairing
    mutex_after: tuple       # (a, b) after repair + pthread_mutex_consistent
    sem_died_by: str
    sem_found: tuple         # (a, b) the next semop holder found: no warning, no repair
    mutex_output: str
    sem_output: str


def _balance(text, word):
    m = re.search(word + r": a=(-?\d+) b=(-?\d+)", text)
    return (int(m[1]), int(m[2])) if m else None


def robust_vs_undo(timeout=TIMEOUT):
    """Kill a lock holder mid-transfer (a -= 10 done, b += 10 not), once per lock kind; what is left."""
    exe = str(_exe("robust"))

    def one(shm, *argv):
        return _check(cprocs.run_programs([[exe, argv[0], shm.name, *argv[1:]]], timeout=timeout, relay=False),
                      f"robust {argv[0]}")[0]

    with objects.posix_shm(BANK_SIZE, tag="bank") as shm:
        one(shm, "init")
        died = one(shm, "mutex-die")
        took = one(shm, "mutex-take")
    with objects.posix_shm(BANK_SIZE, tag="bank") as shm, objects.sysv_sem(1) as sem:
        key = f"0x{sem.key & 0xFFFFFFFF:08x}"
        one(shm, "init")
        sem_died = one(shm, "sem-die", key)
        sem_took = one(shm, "sem-take", key)
    return RobustResult(died.signal or died.status(), "EOWNERDEAD" in took.stdout,
                        _balance(took.stdout, "found"), _balance(took.stdout, "after"),
                        sem_died.signal or sem_died.status(), _balance(sem_took.stdout, "found"),
                        died.stdout + took.stdout, sem_died.stdout + sem_took.stdout)


def condvar(timeout=TIMEOUT):
    """A waiter blocked on a process-shared condition variable, woken by another process; the waiter's line."""
    exe = str(_exe("robust"))
    with objects.posix_shm(BANK_SIZE, tag="cond") as shm:
        _check(cprocs.run_programs([[exe, "init", shm.name]], timeout=timeout, relay=False), "init")
        waiter = cprocs.run_programs([[exe, "cond-wait", shm.name], [exe, "cond-post", shm.name]],
                                     timeout=timeout, names=["waiter", "poster"], relay=False)
        _check(waiter, "condvar")
    return waiter[0].stdout.strip()
