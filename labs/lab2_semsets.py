# Your file for lab2: replace each `raise NotImplementedError` with your code.
# The brief is labs/lab2_semsets.ipynb; check your work with ipclab.check("lab2").
# (Course maintainers: this file is generated from solutions/lab2_semsets.py by
#  `python -m ipclab.tooling.labgen`; edit the solution, not this file.)
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
        # YOUR CODE HERE
        raise NotImplementedError("lab2: write Table.create() (see labs/lab2_semsets.ipynb)")

    @classmethod
    def attach(cls, handle):
        """Open the table whose set id is *handle*."""
        # YOUR CODE HERE
        raise NotImplementedError("lab2: write Table.attach() (see labs/lab2_semsets.ipynb)")

    def pick_up(self, i, timeout=DEFAULT_TIMEOUT):
        """Take both forks of philosopher *i* in ONE atomic operation (with SEM_UNDO).

        Wait at most *timeout* seconds, then raise ``TimeoutError`` having taken nothing.
        """
        # YOUR CODE HERE
        raise NotImplementedError("lab2: write Table.pick_up() (see labs/lab2_semsets.ipynb)")

    def put_down(self, i):
        """Give both forks of philosopher *i* back (never blocks)."""
        # YOUR CODE HERE
        raise NotImplementedError("lab2: write Table.put_down() (see labs/lab2_semsets.ipynb)")

    def free_forks(self):
        """The value of every fork (1 = on the table, 0 = in a hand), e.g. [1, 0, 0, 1]."""
        # YOUR CODE HERE
        raise NotImplementedError("lab2: write Table.free_forks() (see labs/lab2_semsets.ipynb)")

    def destroy(self):
        """Owner only: remove the set from the system (``semctl(IPC_RMID)``)."""
        # YOUR CODE HERE
        raise NotImplementedError("lab2: write Table.destroy() (see labs/lab2_semsets.ipynb)")
