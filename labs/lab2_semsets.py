# Your file for lab2: replace each `raise NotImplementedError` with your code.
# The brief is labs/lab2_semsets.ipynb; check your work with ipclab.check("lab2").
# (Course maintainers: this file is generated from solutions/lab2_semsets.py by
#  `python -m ipclab.tooling.labgen`; edit the solution, not this file.)
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

PROTOCOL = """
(Write your synchronisation protocol here, in your own words; your teacher reads it
with your grade. Replace every line in brackets.)
Shared state: [what lives in shared memory / the file / the queues, and its layout]
Locks: [each semaphore or lock, its initial value, and exactly what it guards]
Order: [if a process ever holds two locks, the order it takes them in, and why no deadlock]
Invariants: [what is true of the shared state whenever no process holds its lock]
Waiting: [every blocking call, and its timeout]
Death: [what happens when a process dies while holding a lock, and who cleans up]
"""


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
        """Take both forks of philosopher *i*, waiting while a neighbour eats.

        While it waits it holds no fork. Wait at most *timeout* seconds, then raise
        ``TimeoutError`` having taken nothing. If this process dies while eating, the forks
        must go back on the table.
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
