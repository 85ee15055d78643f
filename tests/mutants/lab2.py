"""Lab 2 mutants (see __init__.py)."""

LAB = "lab2"
SOLUTION = "lab2_semsets.py"
PICK = "self.sems.op([(left, -1, SEM_UNDO), (right, -1, SEM_UNDO)], timeout=timeout)  # C: semtimedop"

MUTANTS = {
    # left fork, then right fork, in two semops (and the left one given back on a timeout)
    "two_semops": ([(PICK, "self.sems.op([(left, -1, SEM_UNDO)], timeout=timeout)\n"
                           "        try:\n"
                           "            self.sems.op([(right, -1, SEM_UNDO)], timeout=timeout)\n"
                           "        except TimeoutError:\n"
                           "            self.sems.op([(left, +1, SEM_UNDO)], timeout=0)\n"
                           "            raise")],
                   ["atomic_timeout", "dinner_party"]),
    # no SEM_UNDO: a philosopher killed while eating keeps the forks
    "no_sem_undo": ([(PICK, "self.sems.op([(left, -1, 0), (right, -1, 0)], timeout=timeout)"),
                     ("self.sems.op([(left, +1, SEM_UNDO), (right, +1, SEM_UNDO)], timeout=0)",
                      "self.sems.op([(left, +1, 0), (right, +1, 0)], timeout=0)")],
                    ["killed_while_eating"]),
    # SEM_UNDO on the take only: each meal leaves +1 in the process's adjustment, applied at exit
    "undo_on_take_only": ([("self.sems.op([(left, +1, SEM_UNDO), (right, +1, SEM_UNDO)], timeout=0)",
                            "self.sems.op([(left, +1, 0), (right, +1, 0)], timeout=0)")],
                          ["dinner_party"]),
    # nothing shared: the forks are a list in each process's memory
    "nothing_shared": ([('return cls(semset.create(n, values=[1] * n, note="lab2 forks"))',
                         "return cls(_LocalForks(n))"),
                        ("return cls(semset.SemaphoreSet.attach(handle))",
                         "return cls(_LocalForks(_SIZES.get(handle, 5), handle))"),
                        ("class Table:", '''import random as _random
import time as _time

_SIZES = {}


class _LocalForks:
    def __init__(self, n, ident=None):
        self.nsems, self.values = n, [1] * n
        self.id = ident if ident is not None else _random.randrange(1 << 20, 1 << 30)
        _SIZES[self.id] = n

    def op(self, ops, timeout=None):
        deadline = _time.monotonic() + (timeout or 0)
        while any(self.values[i] + d < 0 for i, d, _ in ops):
            if _time.monotonic() >= deadline:
                raise TimeoutError("forks busy")
            _time.sleep(0.01)
        for i, d, _ in ops:
            self.values[i] += d

    def getall(self):
        return list(self.values)

    def remove(self):
        pass


class Table:''')],
                       ["both_forks", "killed_while_eating"]),
}
