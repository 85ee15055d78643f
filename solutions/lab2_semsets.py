"""Lab 2 (19.2): a deadlock-free dining table on one System V semaphore set.

n philosophers sit round a table with n forks; philosopher i eats with forks i and
(i + 1) % n. The contract (what the tests check, from the kernel):

* the table is ONE System V semaphore set of n semaphores, semaphore k being fork k:
  1 while it lies on the table, 0 while a philosopher holds it; ``handle`` is the set's id;
* two neighbours never eat at once, and any number of philosopher processes eat for ever
  without deadlock, however the scheduler interleaves them;
* a philosopher waiting for its forks holds none of them, and one whose wait times out
  takes nothing;
* a philosopher killed while eating does not take its forks to the grave;
* every wait has a timeout.

How to get there is yours to decide, and to explain in ``PROTOCOL``.
The set comes from :mod:`ipclab.mechanisms.semset` (sysv_ipc cannot do sets, nor timed waits here).
"""

from ipclab import semset
from ipclab.mechanisms.semset import SEM_UNDO

DEFAULT_TIMEOUT = 10.0

### BEGIN SOLUTION
PROTOCOL = """
Shared state: one System V set of n semaphores; semaphore k is fork k (1 on the table,
0 in a hand). Nothing else is shared.
Locks: fork k guards itself; philosopher i needs forks i and (i+1) % n.
Order: there is none to respect: pick_up takes both forks in ONE semtimedop, which the
kernel applies all at once or not at all, so nobody ever holds one fork while waiting for
the other, and the circular wait behind the deadlock cannot form.
Invariants: every value is 0 or 1; forks i and (i+1) % n are both 0 iff philosopher i
eats; two neighbours never eat together, since they share a fork.
Waiting: pick_up is semtimedop with the caller's timeout; a timeout takes nothing.
put_down never waits (it only adds).
Death: every operation carries SEM_UNDO, in pick_up AND put_down, so the kernel's
per-process adjustment is 0 between meals and +1 per fork during one: a philosopher killed
while eating gets its forks put back by the kernel at exit.
"""
### END SOLUTION


class Table:
    """The forks of *n* philosophers as one semaphore set.

    ``Table.create(n)`` makes the set (its creator calls ``destroy()``); other processes call
    ``Table.attach(table.handle)``.
    """

    def __init__(self, sems):
        self.sems = sems            # an ipclab.mechanisms.semset.SemaphoreSet
        self.n = sems.nsems         # number of philosophers = number of forks

    @property
    def handle(self):
        """What another process needs to attach: the set's id."""
        return self.sems.id

    def forks_of(self, i):
        """(left, right): the two forks philosopher *i* needs."""
        return i, (i + 1) % self.n

    @classmethod
    def create(cls, n):
        """A table of *n* >= 2 philosophers: a set of n semaphores, all 1; ValueError for n < 2."""
        ### BEGIN SOLUTION
        if not isinstance(n, int) or n < 2:
            raise ValueError(f"a table needs at least 2 philosophers, got {n!r}")
        return cls(semset.create(n, values=[1] * n, note="lab2 forks"))  # C: semget(IPC_CREAT|IPC_EXCL) + semctl(SETALL)
        ### END SOLUTION

    @classmethod
    def attach(cls, handle):
        """Open the table whose set id is *handle*."""
        ### BEGIN SOLUTION
        return cls(semset.SemaphoreSet.attach(handle))
        ### END SOLUTION

    def pick_up(self, i, timeout=DEFAULT_TIMEOUT):
        """Take both forks of philosopher *i*, waiting while a neighbour eats.

        While it waits it holds no fork. Wait at most *timeout* seconds, then raise
        ``TimeoutError`` having taken nothing. If this process dies while eating, the forks
        must go back on the table.
        """
        ### BEGIN SOLUTION
        left, right = self.forks_of(i)
        self.sems.op([(left, -1, SEM_UNDO), (right, -1, SEM_UNDO)], timeout=timeout)  # C: semtimedop
        ### END SOLUTION

    def put_down(self, i):
        """Give both forks of philosopher *i* back (never blocks)."""
        ### BEGIN SOLUTION
        left, right = self.forks_of(i)
        self.sems.op([(left, +1, SEM_UNDO), (right, +1, SEM_UNDO)], timeout=0)  # C: semop
        ### END SOLUTION

    def free_forks(self):
        """The value of every fork (1 = on the table, 0 = in a hand), e.g. [1, 0, 0, 1]."""
        ### BEGIN SOLUTION
        return self.sems.getall()  # C: semctl(GETALL)
        ### END SOLUTION

    def destroy(self):
        """Owner only: remove the set from the system (``semctl(IPC_RMID)``)."""
        ### BEGIN SOLUTION
        self.sems.remove()
        ### END SOLUTION
