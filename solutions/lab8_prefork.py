"""Lab 8 (project): Apache prefork accept serialisation -- a pre-forked server whose workers take turns at accept().

A *master* process opens ONE listening socket (loopback TCP), then forks N *workers*. With
``fork`` each worker inherits the master's file descriptors, so all of them hold the same
listening socket: one kernel object, one queue of pending connections. Any worker may
``accept()`` the next connection; the kernel hands each connection to one of them only.

What the workers share, besides the socket:

    System V semaphore set (2 semaphores, both start at 1, always used with SEM_UNDO)
      ACCEPT  the accept lock: only its holder calls accept() (no thundering herd), and
              releases it as soon as it has a connection -- BEFORE serving it
      STATS   guards the counters below

    POSIX shared memory segment
      | stop u32 | n_workers u32 | total u64 | served[0] u64 | served[1] u64 | ... |
      stop      set to 1 by the master: workers finish their request and exit
      total     requests served by all workers = sum of served[i]
      served[i] requests served by worker i

SEM_UNDO is the point of the semaphores' flags: a worker killed while it holds a lock
cannot release it, but the kernel undoes its operations when it dies, and the others go on.

A request is one line ``"word ms\\n"`` on its own connection; the worker sleeps *ms*
milliseconds (the "work") and replies ``"WORD i\\n"`` (i = its index). Every socket
operation has a timeout.
"""

import socket
import struct
import time

from ipclab import procs, semset
from ipclab.mechanisms.shm import Segment

ACCEPT, STATS = 0, 1                  # the two semaphores of the set
HEADER = struct.Struct("<IIQ")        # stop, n_workers, total
COUNTER = struct.Struct("<Q")         # served[i], after the header; also the total, at TOTAL_AT
TOTAL_AT = 8                          # offset of total in the header
# Each field is written on its own: struct.pack_into clears the bytes it is about to write
# before writing them, so rewriting the whole header to bump total would (for an instant)
# show stop = 0 and n_workers = 0 to processes reading without the lock, and could undo a
# stop flag the master set in between.
CONN_TIMEOUT = 5.0                    # seconds a worker waits for a client's request line
POLL = 0.1                            # seconds between two looks at the stop flag
LOCK_TIMEOUT = 5.0                    # seconds to wait for the STATS lock


### BEGIN SOLUTION
PROTOCOL = """
Shared state: the listening socket (one kernel object, inherited over fork); a System V
set of two semaphores; a POSIX shared memory segment | stop | n_workers | total |
served[0..n-1] |.
Locks: ACCEPT (starts at 1) serialises accept(): only its holder polls and accepts, and it
releases it as soon as accept() returns, BEFORE serving. STATS (starts at 1) guards total
and every served[i]. stop is written by the master alone (one 4-byte store) and read
without a lock; n_workers is written once, before the workers start.
Order: a worker never holds both: ACCEPT is released before count() takes STATS.
Invariants (whenever STATS is 1): total == sum(served); served[i] counts the replies
worker i sent.
Waiting: ACCEPT and STATS are taken with semtimedop (POLL, LOCK_TIMEOUT); accept() and
recv() have socket timeouts; the master's join has the workers' lifetime.
Death: every semop uses SEM_UNDO, so a worker killed while holding ACCEPT or STATS gives
it back when it dies; the others go on. The master destroys the set and the segment
in stop(), in a finally.
"""
### END SOLUTION


def serve_connection(conn, index):
    """Read one request line from *conn*, do the work, reply; True if a reply was sent."""
    conn.settimeout(CONN_TIMEOUT)
    data = b""
    try:
        while not data.endswith(b"\n") and len(data) < 1024:
            chunk = conn.recv(1024)  # C: recv(fd, buf, 1024, 0), after poll() for the timeout
            if not chunk:
                return False
            data += chunk
        word, ms = data.decode().split()
        time.sleep(min(int(ms), 1000) / 1000)
        conn.sendall(f"{word.upper()} {index}\n".encode())
        return True
    except (OSError, ValueError):  # timeout, reset, a malformed request: drop this client
        return False


class Shared:
    """The semaphore set and the segment, seen from the master or from a worker."""

    def __init__(self, sems, seg, owner):
        self.sems = sems      # semset.SemaphoreSet of 2: ACCEPT, STATS
        self.seg = seg        # shm.Segment: header + one counter per worker
        self.owner = owner    # True in the master that created them

    @property
    def handle(self):
        """What a process needs to attach: ``(semaphore set id, segment name)``."""
        return (self.sems.id, self.seg.name)

    @property
    def n_workers(self):
        return HEADER.unpack_from(self.seg.buf, 0)[1]

    @classmethod
    def create(cls, n_workers):
        """A set of 2 semaphores at 1 (``semset.create(2, values=[1, 1])``) and a segment
        with room for the header and *n_workers* counters (``Segment.create``), header
        written (stop 0, n_workers, total 0), counters 0."""
        ### BEGIN SOLUTION
        sems = semset.create(2, values=[1, 1], note="lab8 accept+stats")  # C: semget + semctl(SETALL)
        try:
            seg = Segment.create(HEADER.size + COUNTER.size * n_workers, tag="stats")  # shm_open+ftruncate+mmap
        except BaseException:
            sems.remove()
            raise
        HEADER.pack_into(seg.buf, 0, 0, n_workers, 0)  # a new segment is all zeros; say how many workers
        return cls(sems, seg, owner=True)
        ### END SOLUTION

    @classmethod
    def attach(cls, handle):
        """Attach both by *handle* (``semset.attach(id)``, ``Segment.attach(name)``)."""
        ### BEGIN SOLUTION
        return cls(semset.attach(handle[0]), Segment.attach(handle[1]), owner=False)
        ### END SOLUTION

    def acquire_accept(self, timeout):
        """Take the accept lock (SEM_UNDO), waiting at most *timeout* s, else TimeoutError."""
        ### BEGIN SOLUTION
        self.sems.acquire(ACCEPT, undo=True, timeout=timeout)  # C: semtimedop({ACCEPT, -1, SEM_UNDO})
        ### END SOLUTION

    def release_accept(self):
        """Give the accept lock back (SEM_UNDO, so the two undo adjustments cancel out)."""
        ### BEGIN SOLUTION
        self.sems.release(ACCEPT, undo=True)  # C: semop({ACCEPT, +1, SEM_UNDO})
        ### END SOLUTION

    def count(self, index):
        """One more request served by worker *index*: ``total += 1`` and ``served[index] += 1``,
        both under the STATS lock (SEM_UNDO, LOCK_TIMEOUT)."""
        ### BEGIN SOLUTION
        self.sems.acquire(STATS, undo=True, timeout=LOCK_TIMEOUT)
        try:
            buf = self.seg.buf
            COUNTER.pack_into(buf, TOTAL_AT, COUNTER.unpack_from(buf, TOTAL_AT)[0] + 1)  # total += 1 only
            off = HEADER.size + COUNTER.size * index
            COUNTER.pack_into(buf, off, COUNTER.unpack_from(buf, off)[0] + 1)
        finally:
            self.sems.release(STATS, undo=True)
        ### END SOLUTION

    def stats(self):
        """``(total, [served[0], served[1], ...])``, read under the STATS lock (a consistent pair)."""
        ### BEGIN SOLUTION
        self.sems.acquire(STATS, undo=True, timeout=LOCK_TIMEOUT)
        try:
            n, total = HEADER.unpack_from(self.seg.buf, 0)[1:]
            return total, [COUNTER.unpack_from(self.seg.buf, HEADER.size + COUNTER.size * i)[0] for i in range(n)]
        finally:
            self.sems.release(STATS, undo=True)
        ### END SOLUTION

    def stopping(self):
        """Has the master asked the workers to stop?"""
        return HEADER.unpack_from(self.seg.buf, 0)[0] != 0

    def request_stop(self):
        """Master: set the stop flag (a 4-byte store; workers read it between two accepts)."""
        struct.pack_into("<I", self.seg.buf, 0, 1)

    def close(self):
        """This process stops using the segment (``munmap``); the objects stay."""
        self.seg.close()

    def destroy(self):
        """Master: remove the segment and the semaphore set from the system."""
        self.seg.close()
        self.seg.unlink()
        self.sems.remove()


def worker(sock, handle, index, lifetime=60.0):
    """A worker process: until the stop flag is set, take the accept lock (timeout POLL),
    accept one connection (timeout POLL), release the lock, serve the connection, count it.

    *sock* is the listening socket inherited from the master. Return how many requests this
    worker served; raise TimeoutError if still running after *lifetime* s.
    """
    ### BEGIN SOLUTION
    shared = Shared.attach(handle)
    deadline = time.monotonic() + lifetime
    sock.settimeout(POLL)  # accept() gives up after POLL s: the stop flag is checked often
    served = 0
    try:
        while not shared.stopping():
            if time.monotonic() > deadline:
                raise TimeoutError(f"worker {index} still running after {lifetime} s (no stop?)")
            try:
                shared.acquire_accept(timeout=POLL)
            except TimeoutError:
                continue
            try:
                conn, _ = sock.accept()  # C: accept(fd, ...) after poll() for the timeout
            except (TimeoutError, BlockingIOError):
                continue
            finally:
                shared.release_accept()  # before serving: another worker may accept meanwhile
            with conn:
                if serve_connection(conn, index):
                    shared.count(index)
                    served += 1
        return served
    finally:
        shared.close()
    ### END SOLUTION


class Server:
    """The master: ``Server.create(n)``, ``address``, ``stats()``, ``stop()``."""

    def __init__(self, sock, shared, group):
        self.sock = sock          # the listening socket
        self.shared = shared      # Shared (owner)
        self.group = group        # procs.Group of the workers

    @property
    def address(self):
        """``(host, port)`` clients connect to."""
        return self.sock.getsockname()

    def stats(self):
        return self.shared.stats()

    @classmethod
    def create(cls, n_workers=3, lifetime=60.0):
        """Listen on 127.0.0.1, port 0 (the kernel picks a free port), backlog 64; create the
        Shared objects; fork *n_workers* workers with ``procs.start(worker, ...,
        start_method="fork", timeout=lifetime, relay=False)`` -- fork, so they inherit the
        socket. If anything fails, close and remove what was made before raising."""
        ### BEGIN SOLUTION
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # C: socket(AF_INET, SOCK_STREAM, 0)
        try:
            sock.bind(("127.0.0.1", 0))  # C: bind(fd, {127.0.0.1, port 0}): loopback only
            sock.listen(64)  # C: listen(fd, 64)
            shared = Shared.create(n_workers)
        except BaseException:
            sock.close()
            raise
        try:
            group = procs.start(worker, [(sock, shared.handle, i, lifetime) for i in range(n_workers)],
                                start_method="fork", timeout=lifetime, relay=False)
        except BaseException:
            sock.close()
            shared.destroy()
            raise
        return cls(sock, shared, group)
        ### END SOLUTION

    def stop(self):
        """Graceful stop: set the stop flag, wait for every worker (a dead one is not an
        error: ``group.join(fail_fast=False, raise_errors=False)``), then close the socket
        and destroy the Shared objects, in a finally. Return per worker the number it
        served, or None for a worker that did not exit normally."""
        ### BEGIN SOLUTION
        try:
            self.shared.request_stop()
            outcomes = self.group.join(fail_fast=False, raise_errors=False)
            return [o[1] if o[0] == "ok" else None for o in outcomes]
        finally:
            self.group.kill()
            self.sock.close()
            self.shared.destroy()
        ### END SOLUTION
