# Your file for lab7: replace each `raise NotImplementedError` with your code.
# The brief is labs/lab7_logger.ipynb; check your work with ipclab.check("lab7").
# (Course maintainers: this file is generated from solutions/lab7_logger.py by
#  `python -m ipclab.tooling.labgen`; edit the solution, not this file.)
"""Lab 7 (project): a centralised logging service -- many sources, one logger, priorities.

Any number of *source* processes send log records to ONE POSIX message queue; ONE *logger*
process receives them and appends them to a file. The queue's priorities do the triage:

    priority  level          mq_receive always hands out the oldest message of the
       4      ERROR          highest priority waiting: under a backlog, errors are
       3      WARNING        written first; records of one priority stay in FIFO order.
       2      INFO
       1      DEBUG
       0      STOP           the master's "flush and stop": lowest, so received last

A record is JSON ``{"src": "web", "seq": 7, "level": "INFO", "text": "..."}``. ``seq``
counts the records of one source (0, 1, 2...): with it a reader of the file can check that
nothing from a source is missing or repeated, and that each source's records of one level
are in the order it sent them. The file gets one line per record, :func:`format_line`.

Lifetimes: the master calls ``Logger.create(path)`` (the queue), ``start()`` (the logger
process), and at the end ``stop()``: STOP at priority 0, so every record already queued is
received and written first; the logger closes its file (flushing it) and returns how many
records it wrote per source; the master joins it and removes the queue. Sources come and
go (or are killed) without the logger noticing: it stops only on STOP.
"""

import json
import time

import posix_ipc

from ipclab import objects, procs

LEVELS = {"DEBUG": 1, "INFO": 2, "WARNING": 3, "ERROR": 4}   # level -> mq priority
STOP_PRIORITY = 0
STOP = {"stop": True}
MSG_SIZE = 1024
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


def format_line(record):
    """The line the logger writes for *record*: ``'ERROR web 7 disk full\\n'``."""
    return f"{record['level']} {record['src']} {record['seq']} {record['text']}\n"


def serve(handle, path, lifetime=60.0):
    """The logger process: append every record received on queue *handle* (its name) to *path*.

    Receive (highest priority first) until STOP, writing :func:`format_line` of each
    record; a quiet spell is not a reason to stop (wait for STOP, at most *lifetime* s in
    all, then TimeoutError). Close the file (that flushes it) and the queue (never
    unlink it: the master owns it). Return ``{src: number of records written}``.
    """
    # YOUR CODE HERE
    raise NotImplementedError("lab7: write serve() (see labs/lab7_logger.ipynb)")


class Source:
    """A process that logs: ``Source.attach(logger.handle, "web").log("INFO", "started")``."""

    def __init__(self, mq, name):
        self.mq = mq          # posix_ipc.MessageQueue, opened for sending
        self.name = name      # the source's name (no spaces)
        self.seq = 0          # seq of this source's next record

    @classmethod
    def attach(cls, handle, name):
        """Open the logger's queue (by its name *handle*) as source *name*."""
        # YOUR CODE HERE
        raise NotImplementedError("lab7: write Source.attach() (see labs/lab7_logger.ipynb)")

    def log(self, level, text, timeout=DEFAULT_TIMEOUT):
        """Send one record at priority ``LEVELS[level]``; return its seq (0, 1, 2... per source).

        ``ValueError`` for an unknown level; ``TimeoutError`` if the queue stays full
        *timeout* s (the seq is then not used up).
        """
        # YOUR CODE HERE
        raise NotImplementedError("lab7: write Source.log() (see labs/lab7_logger.ipynb)")

    def close(self):
        """``mq_close``: this source is done (the queue stays)."""
        self.mq.close()


class Logger:
    """The master's side: the queue, the logger process, the stop protocol."""

    def __init__(self, mq, path):
        self.mq = mq          # posix_ipc.MessageQueue (created here)
        self.path = path      # the log file
        self.group = None     # procs.Group of the one logger process, once started

    @property
    def handle(self):
        """What sources and the logger need: the queue's name."""
        return self.mq.name

    @classmethod
    def create(cls, path, capacity=8):
        """Make the queue: ``objects.create_posix_mq(max_messages=capacity, max_message_size=MSG_SIZE)``."""
        # YOUR CODE HERE
        raise NotImplementedError("lab7: write Logger.create() (see labs/lab7_logger.ipynb)")

    def start(self, start_method="fork", lifetime=60.0):
        """Start the logger process (:func:`serve`) with ``procs.start(..., relay=False)``."""
        # YOUR CODE HERE
        raise NotImplementedError("lab7: write Logger.start() (see labs/lab7_logger.ipynb)")

    def stop(self, timeout=DEFAULT_TIMEOUT):
        """Flush and stop: STOP at ``STOP_PRIORITY``, join the logger (it must exit 0), then
        remove the queue -- in a finally, even if the logger failed. Return the logger's
        ``{src: count}``."""
        # YOUR CODE HERE
        raise NotImplementedError("lab7: write Logger.stop() (see labs/lab7_logger.ipynb)")
