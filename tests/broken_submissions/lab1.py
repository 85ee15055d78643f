"""Deliberately broken lab 1 submissions, as edits of the reference solution.

Each entry: the edits (old text -> new text, each old text must occur in the solution),
the test to grade it on, and the status the grader must give. Edits rather than copies
keep them in step with the solution: a test fails loudly if an old text disappears.
"""

from . import apply

SOLUTION = "lab1_ringbuffer.py"
INDENT = "        "

BROKEN = {
    # get() returns the whole slot, padding included: a plain wrong result
    "wrong_result": ([("data = bytes(self.mm[off + LENGTH.size: off + LENGTH.size + n])",
                       "data = bytes(self.mm[off + LENGTH.size: off + LENGTH.size + self.item_size])")],
                     "fifo_one_process", "failed"),
    # put() forgets to wrap tail: right until the first lap (partial credit)
    "no_wrap": ([("INDEX.pack_into(self.mm, 0, head, (tail + 1) % self.capacity)",
                  "INDEX.pack_into(self.mm, 0, head, tail + 1)")],
                "wrap_around", "failed"),
    # waits without a timeout, and put() sleeps on `empty` while holding the mutex
    "deadlock": ([("sem.acquire(timeout)", "sem.acquire()")],
                 "timeouts", "timeout"),
    # put() spins for ever
    "infinite_loop": ([("_wait(self.empty, timeout, \"put: the buffer stayed full\")",
                        "while True:\n" + INDENT + "    pass")],
                      "fifo_one_process", "timeout"),
    # get() crashes the process after the objects were created
    "crash": ([("_wait(self.full, timeout, \"get: the buffer stayed empty\")",
                "__import__('os').kill(__import__('os').getpid(), 11)")],
              "fifo_one_process", "crashed"),
    # destroy() closes the semaphores but never unlinks them
    "leak": ([("objects.remove_posix_sem(s)                         # C: sem_unlink + sem_close",
               "s.close()")],
             "fifo_one_process", "leak"),
    # create() forks 200 children that sleep
    "fork_loop": ([("for what, v in ((\"capacity\", capacity), (\"item_size\", item_size)):",
                    "for _ in range(200):\n"
                    + INDENT + "    if __import__('os').fork() == 0:\n"
                    + INDENT + "        __import__('time').sleep(30)\n"
                    + INDENT + "        __import__('os')._exit(0)\n"
                    + INDENT + "for what, v in ((\"capacity\", capacity), (\"item_size\", item_size)):")],
                  "fifo_one_process", "forkbomb"),
}


def make(kind, solution_text):
    """The broken module's text."""
    return apply(BROKEN, kind, solution_text)