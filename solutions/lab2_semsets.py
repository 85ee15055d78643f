"""Lab 2 (19.2): a deadlock-free dining table on one System V semaphore set.

n philosophers sit round a table with n forks; philosopher i eats with forks i and
(i + 1) % n. Taking the left fork then the right one deadlocks as soon as everyone holds
a left fork. A System V semaphore *set* removes the problem at its root: one ``semop``
takes **both** forks atomically, or waits without taking either.

    set of n semaphores, all starting at 1 (fork free)
    pick_up(i):  semtimedop([(i, -1, SEM_UNDO), ((i+1)%n, -1, SEM_UNDO)], timeout)
    put_down(i): semop([(i, +1, SEM_UNDO), ((i+1)%n, +1, SEM_UNDO)])

``SEM_UNDO`` makes the kernel give the forks back if a philosopher is killed while eating.
The set comes from :mod:`ipclab.mechanisms.semset` (sysv_ipc cannot do sets, nor timed waits here).
"""

from ipclab import semset
from ipclab.mechanisms.semset import SEM_UNDO

DEFAULT_TIMEOUT = 10.0


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
        """Take both forks of philosopher *i* in ONE atomic operation (with SEM_UNDO).

        Wait at most *timeout* seconds, then raise ``TimeoutError`` having taken nothing.
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
