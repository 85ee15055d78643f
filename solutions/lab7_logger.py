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


### BEGIN SOLUTION
PROTOCOL = """
Shared state: ONE POSIX message queue (created and unlinked by the master); the log file,
written by the logger process only.
Locks: none of mine: the kernel serialises the queue, and a single reader means the file
has a single writer, so its lines never interleave. Each source's seq is private to it.
Order: priorities order the queue: mq_receive hands out the oldest message of the highest
priority, ERROR (4) first, DEBUG (1) last, STOP (0) after everything.
Invariants: for each source, the seqs in the file are 0..n-1 with none missing or
repeated; within one source and one level they are in increasing order.
Waiting: sources send with mq_timedsend (TimeoutError, the seq is not used up); the
logger receives with the time left until its lifetime, never a short timeout that ends it.
Death: a source that dies just stops sending (the queue does not care); the logger stops
only on STOP; stop() sends STOP, joins the logger and unlinks the queue in a finally.
"""
### END SOLUTION


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
    ### BEGIN SOLUTION
    mq = posix_ipc.MessageQueue(handle)  # C: mq_open(name, O_RDONLY)
    deadline = time.monotonic() + lifetime
    counts = {}
    try:
        with open(path, "a", encoding="utf-8") as f:
            while True:
                left = deadline - time.monotonic()
                try:
                    data, _prio = mq.receive(timeout=max(0.0, left))  # C: mq_timedreceive: highest prio first
                except posix_ipc.BusyError:
                    raise TimeoutError(f"the logger got no STOP within {lifetime} s") from None
                record = json.loads(data)
                if record == STOP:
                    return counts
                f.write(format_line(record))
                counts[record["src"]] = counts.get(record["src"], 0) + 1
    finally:
        mq.close()
    ### END SOLUTION


class Source:
    """A process that logs: ``Source.attach(logger.handle, "web").log("INFO", "started")``."""

    def __init__(self, mq, name):
        self.mq = mq          # posix_ipc.MessageQueue, opened for sending
        self.name = name      # the source's name (no spaces)
        self.seq = 0          # seq of this source's next record

    @classmethod
    def attach(cls, handle, name):
        """Open the logger's queue (by its name *handle*) as source *name*."""
        ### BEGIN SOLUTION
        return cls(posix_ipc.MessageQueue(handle), name)  # C: mq_open(name, O_WRONLY)
        ### END SOLUTION

    def log(self, level, text, timeout=DEFAULT_TIMEOUT):
        """Send one record at priority ``LEVELS[level]``; return its seq (0, 1, 2... per source).

        ``ValueError`` for an unknown level; ``TimeoutError`` if the queue stays full
        *timeout* s (the seq is then not used up).
        """
        ### BEGIN SOLUTION
        if level not in LEVELS:
            raise ValueError(f"unknown level {level!r}: one of {', '.join(LEVELS)}")
        record = {"src": self.name, "seq": self.seq, "level": level, "text": text}
        try:
            self.mq.send(json.dumps(record).encode(), timeout=timeout, priority=LEVELS[level])
        except posix_ipc.BusyError:
            raise TimeoutError(f"the log queue stayed full for {timeout} s") from None
        self.seq += 1
        return record["seq"]
        ### END SOLUTION

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
        ### BEGIN SOLUTION
        return cls(objects.create_posix_mq(max_messages=capacity, max_message_size=MSG_SIZE, tag="log"), path)
        ### END SOLUTION

    def start(self, start_method="fork", lifetime=60.0):
        """Start the logger process (:func:`serve`) with ``procs.start(..., relay=False)``."""
        ### BEGIN SOLUTION
        self.group = procs.start(serve, [(self.handle, self.path, lifetime)], start_method=start_method,
                                 timeout=lifetime, relay=False)
        ### END SOLUTION

    def stop(self, timeout=DEFAULT_TIMEOUT):
        """Flush and stop: STOP at ``STOP_PRIORITY``, join the logger (it must exit 0), then
        remove the queue -- in a finally, even if the logger failed. Return the logger's
        ``{src: count}``."""
        ### BEGIN SOLUTION
        try:
            self.mq.send(json.dumps(STOP).encode(), timeout=timeout, priority=STOP_PRIORITY)
            return self.group.join()[0]
        finally:
            if self.group is not None:
                self.group.kill()
            objects.remove_posix_mq(self.mq)
        ### END SOLUTION
