"""Visible tests of lab 9: a record in System V shared memory read through a seqlock (19.7).

The tests never trust what the submission reports about its segment: they attach it
themselves (``shmat`` on the handle, the brief's layout: seq, x, y, total as native u64
words), read ``/proc/sysvipc/shm`` for its mode and ``nattch``, and make the races happen on
purpose: the test writes half a record and leaves it there, or writes with long pauses at
the point where the protocol must hold, while the student's code is slowed line by line
(:func:`labkit.slow_student`) and more processes than CPUs run at once.
"""

import contextlib
import os
import threading
import time

import sysv_ipc

from ipclab.core import inventory, procs
from ipclab.tooling.grading import labkit
from ipclab.tooling.grading.labkit import expect, expect_equal, expect_raises, student

LAB = "lab9"
TITLE = "System V shared memory: a record read without a lock through a seqlock"
MODULE = "lab9_seqlock"
HIDDEN = 2
WORKER_TIMEOUT = 20
MASK = 2**64 - 1
WORDS = 4                 # seq, x, y, total: the brief's layout
SLOW_WRITER = 0.02        # seconds added to each line of the student's write() (writer_marks_odd)
SLOW_LOADED = 0.004       # ... of the writer under load (readers_under_load)
SLOW_READER = 0.01        # ... of the student's read() (reader_rechecks)


def cpus():
    """CPUs this process may run on (the tests start more processes than that)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def values(rng, n, edge=False):
    """*n* random (x, y) pairs; with *edge*, near 2**64 so that total wraps."""
    lo = 2**63 if edge else 1
    return [(rng.randint(lo, MASK), rng.randint(lo, MASK)) for _ in range(n)]


def records(pairs):
    """The record after write k (k = 0: the fresh segment): (2k, x, y, total) for each."""
    return [(0, 0, 0, 0)] + [(2 * (k + 1), x, y, (x + y) & MASK) for k, (x, y) in enumerate(pairs)]


def shm_row(handle, what="the record's handle"):
    """The segment's line of /proc/sysvipc/shm (what ``ipcs -m`` shows); Fail if there is none."""
    row = inventory.sysv_row("shm", handle) if isinstance(handle, int) and not isinstance(handle, bool) else None
    expect(row is not None, f"{what} must be the id of a System V shared memory segment that exists",
           f"BAD  (got) handle {handle!r}, and /proc/sysvipc/shm has no segment with that id",
           "(create it with shmget: objects.create_sysv_shm or sysv_ipc.SharedMemory; handle = its id)")
    return row


@contextlib.contextmanager
def kernel_words(handle):
    """The test's own attachment of the segment: its 4 words, as the kernel holds them.

    C: ``shmat(id, NULL, 0)``, then aligned 8-byte loads and stores. While it is open the
    segment counts one more attachment (nattch).
    """
    row = shm_row(handle)
    expect(row["size"] >= 8 * WORDS, f"the segment holds the 4-word record ({8 * WORDS} bytes)",
           f"BAD  (got) a segment of {row['size']} bytes")
    seg = sysv_ipc.attach(handle)
    base = memoryview(seg)
    words = base[:8 * WORDS].cast("Q")
    try:
        yield words
    finally:
        words.release()
        base.release()
        seg.detach()


def torn_lines(got, expected, limit=6):
    """Explanation lines for the records in *got* that no write produced; [] if none."""
    bad = [r for r in got if not (isinstance(r, tuple) and len(r) == 4 and r[0] % 2 == 0
                                  and r[0] // 2 < len(expected) and expected[r[0] // 2] == r)]
    lines = []
    for r in bad[:limit]:
        k = r[0] // 2 if isinstance(r, tuple) and r and isinstance(r[0], int) else None
        want = expected[k] if k is not None and 0 <= k < len(expected) else "no write has this seq"
        lines.append(f"BAD      read() returned {labkit._show(r, 60)}")
        lines.append(f"GOOD     write {k} stored   {labkit._show(want, 60)}")
    if len(bad) > limit:
        lines.append(f"...      and {len(bad) - limit} more")
    return bad, lines


# -- workers (run in their own processes) ----------------------------------------------

def write_all(handle, pairs, gate=None, slow=0.0):
    """Attach and write each pair (the student's write(), slowed by *slow* s a line)."""
    rec = student().SeqRecord.attach(handle)
    try:
        if slow:
            labkit.slow_student(slow)
        if gate is not None:
            labkit.Gate.wait(gate)
        for x, y in pairs:
            rec.write(x, y)
    finally:
        rec.close()
        labkit.close_agents()


def read_until(handle, final, gate=None, slow=0.0, deadline=WORKER_TIMEOUT):
    """Attach and read again and again until the record with seq *final* comes back.

    Returns (reads, the records that were not the same as the previous one): what the
    test checks against the writes.
    """
    rec = student().SeqRecord.attach(handle)
    seen, last, n = [], None, 0
    try:
        if slow:
            labkit.slow_student(slow)
        if gate is not None:
            labkit.Gate.wait(gate)
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            r = rec.read(timeout=deadline)
            n += 1
            if r != last:
                seen.append(r)
                last = r
            if isinstance(r, tuple) and r and r[0] == final:
                break
    finally:
        rec.close()
        labkit.close_agents()
    return n, seen


def read_once(handle):
    """Attach, read once, detach."""
    rec = student().SeqRecord.attach(handle)
    try:
        return rec.read(timeout=5)
    finally:
        rec.close()
        labkit.close_agents()


# -- shared checks ---------------------------------------------------------------------

def under_load(lab, rng, readers, pairs, start_method, what):
    """The student's write(), slowed, in this process while *readers* reader processes read: no torn record."""
    expected = records(pairs)
    final = expected[-1][0]
    rec = lab.SeqRecord.create()
    try:
        handle = rec.handle
        shm_row(handle)
        failed = []
        with labkit.Gate(readers + 1) as gate:
            def writer():
                try:
                    labkit.Gate.wait(gate.handle)
                    for x, y in pairs:
                        rec.write(x, y)
                except Exception as e:  # noqa: BLE001 - reported below
                    failed.append(e)
            labkit.slow_student(SLOW_LOADED)
            t = threading.Thread(target=writer, daemon=True)
            t.start()
            try:
                results = procs.run(read_until, [(handle, final, gate.handle)] * readers, start_method=start_method,
                                    timeout=WORKER_TIMEOUT + 10, relay=False)
            finally:
                t.join(WORKER_TIMEOUT)
        if failed:
            raise failed[0]
        with kernel_words(handle) as words:
            after = tuple(words)
    finally:
        rec.destroy()
    got = [r for _, seen in results for r in seen]
    reads = sum(n for n, _ in results)
    bad, lines = torn_lines(got, expected)
    expect(not bad, f"{what}: {len(bad)} torn record(s) returned by read() ({reads} reads)", *lines,
           "a record is stable only if seq was even before AND unchanged after reading x, y, total")
    expect_equal(expected[-1], after, f"the kernel's words after {len(pairs)} writes (seq = 2 x writes)")


def _call(fn, args):
    """Run fn(*args): one procs target for workers of two kinds."""
    return fn(*args)


# -- the tests ---------------------------------------------------------------------------

@labkit.test("a System V segment, mode 0600, laid out as the brief says", points=1,
             timeout=20, hint="create() calls shmget (objects.create_sysv_shm: a course key, 0600) and clears the "
                              "record (sysv_ipc fills a new segment with spaces); word 0 is seq, then x, y, total.")
def round_trip(lab, rng):
    (x, y), = values(rng, 1)
    rec = lab.SeqRecord.create()
    try:
        handle = rec.handle
        row = shm_row(handle)
        expect_equal(0o600, row["perms"] & 0o777, "the segment's mode (perms in /proc/sysvipc/shm)")
        with kernel_words(handle) as words:
            expect_equal((0, 0, 0, 0), tuple(words), "the kernel's words of a fresh record (seq, x, y, total)")
            expect_equal((0, 0, 0, 0), rec.read(timeout=1), "read() of a fresh record")
            rec.write(x, y)
            expect_equal((2, x, y, (x + y) & MASK), tuple(words),
                         "the kernel's words after one write(x, y) (seq 2, x, y, (x + y) mod 2**64)")
        expect_equal((2, x, y, (x + y) & MASK), rec.read(timeout=1), "read() in the writing process")
        expect_raises(ValueError, rec.write, "write(-1, 0)", -1, 0)
        expect_raises(ValueError, rec.write, "write(0, 2**64)", 0, 2**64)
    finally:
        rec.destroy()


@labkit.test("the writer makes seq odd before it touches x, y, total, and even after", points=2, timeout=30,
             hint="a reader that sees the same EVEN seq before and after reading believes the record is "
                  "stable: store seq + 1 first, then the fields, then seq + 2, each as one whole word.")
def writer_marks_odd(lab, rng):
    pairs = values(rng, 3)
    expected = records(pairs)
    rec = lab.SeqRecord.create()
    try:
        handle = rec.handle
        bad, odd, samples = [], [0], [0]
        stop = threading.Event()
        with kernel_words(handle) as words:
            raw = words.cast("B")

            def sample():       # copies of the 32 bytes (one memcpy each): the writer stores once per 20 ms
                while not stop.is_set():
                    r = tuple(memoryview(bytes(raw)).cast("Q"))
                    if r[0] % 2:
                        odd[0] += 1
                        continue
                    samples[0] += 1
                    k = r[0] // 2
                    if (k >= len(expected) or expected[k] != r) and len(bad) < 20:
                        bad.append(r)
            t = threading.Thread(target=sample, daemon=True)
            t.start()
            try:
                labkit.slow_student(SLOW_WRITER)   # every line of write() lasts 20 ms more
                for x, y in pairs:
                    rec.write(x, y)
            finally:
                stop.set()
                t.join(5)
            after = tuple(words)
            raw.release()
        _, lines = torn_lines(bad, expected)
        expect(not bad, f"while write() ran, the segment showed an even seq beside a half-written record "
                        f" ({len(bad)} time(s) in {samples[0]} samples)", *lines,
               "readers trust an even seq: make it odd BEFORE the first field, even AFTER the last")
        expect(odd[0] > 0, "seq was never odd while write() ran (slowed to 20 ms a line)",
               "GOOD     seq + 1 (odd) is stored before x, y and total")
        expect_equal(expected[-1], after, f"the kernel's words after {len(pairs)} writes (seq = 2 x writes)")
    finally:
        rec.destroy()


@labkit.test("read() does not return while a write is in progress, and returns once it ends", points=2,
             timeout=30, hint="an odd seq means a writer is between its first and last store: the fields are "
                              "half old, half new. Retry (until the timeout) while seq is odd.")
def reader_waits_out_a_write(lab, rng):
    (x1, y1), (x2, y2) = values(rng, 2)
    rec = lab.SeqRecord.create()
    try:
        handle = rec.handle
        rec.write(x1, y1)
        with kernel_words(handle) as words:
            expect_equal((2, x1, y1, (x1 + y1) & MASK), tuple(words), "the kernel's words after one write")
            words[0] = 3                                  # the test writes half a record, and stops there
            words[1] = x2
            try:
                got = rec.read(timeout=0.4)
            except TimeoutError:
                got = None
            expect(got is None, "read() returned while a write was in progress (seq odd, x new, y and total old)",
                   "GOOD     read() retries while seq is odd, then raises TimeoutError after its timeout",
                   f"BAD      read(timeout=0.4) returned {labkit._show(got, 60)}")

            def finish():                                 # the rest of the write, 0.3 s later
                time.sleep(0.3)
                words[2] = y2
                words[3] = (x2 + y2) & MASK
                words[0] = 4
            t = threading.Thread(target=finish, daemon=True)
            t.start()
            try:
                got = rec.read(timeout=5)
            except TimeoutError:
                got = "TimeoutError"
            t.join(5)
        expect_equal((4, x2, y2, (x2 + y2) & MASK), got,
                     "read(timeout=5) started during a write that ends 0.3 s later (it must wait for it)")
    finally:
        rec.destroy()


@labkit.test("read() checks seq again after reading the fields, in reader processes slowed down", points=2,
             timeout=40, hint="seq even before the read is not enough: a write may start while you read x, "
                              "y, total. Load seq again after them and retry unless it is unchanged.")
def reader_rechecks(lab, rng):
    readers = max(3, cpus() + 1)
    pairs = values(rng, 14)
    expected = records(pairs)
    final = expected[-1][0]
    rec = lab.SeqRecord.create()
    try:
        handle = rec.handle
        with kernel_words(handle) as words, labkit.Gate(readers + 1) as gate:
            def writer():     # the test writes, with a long pause after x: the half-written record stays
                labkit.Gate.wait(gate.handle)
                for k, (x, y) in enumerate(pairs):
                    time.sleep(rng_q[k])                 # stable (seq even) for 10-16 ms
                    words[0] = 2 * k + 1
                    words[1] = x
                    time.sleep(rng_p[k])                 # half-written (seq odd) for 35-45 ms
                    words[2] = y
                    words[3] = (x + y) & MASK
                    words[0] = 2 * k + 2
            rng_q = [rng.uniform(0.010, 0.016) for _ in pairs]
            rng_p = [rng.uniform(0.035, 0.045) for _ in pairs]
            t = threading.Thread(target=writer, daemon=True)
            t.start()
            try:
                results = procs.run(read_until, [(handle, final, gate.handle, SLOW_READER)] * readers,
                                    start_method=labkit.start_method(), timeout=WORKER_TIMEOUT + 10, relay=False)
            finally:
                t.join(10)
    finally:
        rec.destroy()
    got = [r for _, seen in results for r in seen]
    bad, lines = torn_lines(got, expected)
    expect(not bad, f"{readers} slowed readers returned {len(bad)} torn record(s) while the test wrote",
           *lines, "a write can start after your first load of seq: check seq again after x, y, total")


@labkit.test("readers in more processes than CPUs, a slowed writer: no torn record", points=2, timeout=40,
             hint="readers and writer must follow the same protocol: the writer marks the write (odd), the "
                  "reader trusts only an even seq that did not change while it read.")
def readers_under_load(lab, rng):
    under_load(lab, rng, cpus() + 1, values(rng, 12), labkit.start_method(),
               f"{cpus() + 1} reader processes on {cpus()} CPUs")


@labkit.test("the record lives in the segment: a writer in another process continues the same seq", points=1,
             timeout=30, hint="nothing of the record may live in your Python object: every process that "
                              "attaches must see, and continue, the seq and fields in the segment.")
def shared_state(lab, rng):
    first, second = values(rng, rng.randint(2, 4)), values(rng, rng.randint(2, 4))
    expected = records(first + second)
    rec = lab.SeqRecord.create()
    try:
        handle = rec.handle
        for x, y in first:
            rec.write(x, y)
        procs.run(write_all, [(handle, second)], start_method=labkit.start_method(), timeout=WORKER_TIMEOUT,
                  relay=False)
        with kernel_words(handle) as words:
            expect_equal(expected[-1], tuple(words),
                         f"the kernel's words after {len(first)} writes here, then {len(second)} in another process")
        expect_equal(expected[-1], rec.read(timeout=1), "read() in the creating process after the other's writes")
        (x, y), = values(rng, 1)
        rec.write(x, y)
        with kernel_words(handle) as words:
            expect_equal(records(first + second + [(x, y)])[-1], tuple(words),
                         "the kernel's words after one more write in the creating process")
    finally:
        rec.destroy()


@labkit.test("close() detaches, destroy() detaches and removes: nattch 0, the segment gone", points=1,
             timeout=30, hint="shmdt (sysv_ipc: detach()) drops one attachment; IPC_RMID (remove()) only marks "
                              "the segment: the kernel destroys it at the last detach (man 2 shmctl).")
def attach_and_destroy(lab, rng):
    rec = lab.SeqRecord.create()
    handle, destroyed = rec.handle, False
    try:
        expect_equal(1, shm_row(handle)["nattch"], "nattch (/proc/sysvipc/shm) right after create()")
        got = procs.run(read_once, [(handle,)], start_method=labkit.start_method(), timeout=WORKER_TIMEOUT,
                        relay=False)[0]
        expect_equal((0, 0, 0, 0), got, "read() of the fresh record in another process that attached the handle")
        expect_equal(1, shm_row(handle)["nattch"], "nattch once that reader process has closed and exited")
        other = lab.SeqRecord.attach(handle)
        expect_equal(2, shm_row(handle)["nattch"], "nattch with a second attachment in the creating process")
        other.close()
        expect_equal(1, shm_row(handle)["nattch"], "nattch after close() of that second attachment")
        rec.destroy()
        destroyed = True
        row = inventory.sysv_row("shm", handle)
        expect(row is None, "after destroy() the segment still exists (/proc/sysvipc/shm)",
               f"BAD      nattch {row and row['nattch']}, perms {row and oct(row['perms'])}"
               + (" (SHM_DEST: marked, but still attached: shmdt missing)" if row and row["perms"] & 0o1000 else
                  " (never marked for removal: IPC_RMID missing)"),
               "GOOD     the segment is gone: detached (shmdt) and removed (shmctl IPC_RMID)")
    finally:
        if not destroyed:
            rec.destroy()
        with contextlib.suppress(sysv_ipc.Error):
            sysv_ipc.remove_shared_memory(handle)   # the test's own cleanup of a mutant's segment


def demo(lab, seed=1, readers=4, writes=30):
    """For the brief: a writer process and *readers* reader processes; (reads, torn) of each reader."""
    import random
    labkit.use_student(lab)
    rng = random.Random(seed)
    pairs = values(rng, writes)
    expected = records(pairs)
    rec = lab.SeqRecord.create()
    try:
        jobs = [(write_all, (rec.handle, pairs))] + \
               [(read_until, (rec.handle, expected[-1][0])) for _ in range(readers)]
        results = procs.run(_call, jobs, start_method="fork", timeout=WORKER_TIMEOUT + 10, relay=False)
    finally:
        rec.destroy()
    return [(n, len(torn_lines(seen, expected)[0])) for n, seen in results[1:]]
