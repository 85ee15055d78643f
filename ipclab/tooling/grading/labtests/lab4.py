"""Visible tests of lab 4: a fixed-record file store, mapped MAP_SHARED, locked per record (19.5)."""

import fcntl
import importlib
import os
import random
import signal
import struct
import time

from ipclab.core import errors, objects, procs
from ipclab.tooling.grading import labkit
from ipclab.core import waiting
from ipclab.tooling.grading.labkit import expect, expect_equal, expect_list, expect_raises, student

LAB = "lab4"
TITLE = "mmap: a fixed-record file store, readers-writer locked per record, shared by several processes"
MODULE = "lab4_recordstore"
HIDDEN = 2
WORKER_TIMEOUT = 30
# record formats the tests draw from: an int64 counter first, then something else
FORMATS = ("<q12s", "<qI8s", "<qd", "<qq", "<qH6s")
# the file layout is part of the contract (a C program reads the same file): the tests check
# the bytes against these, never against what the submission says its layout is
MAGIC = b"IPCLAB4\0"
HEADER = struct.Struct("<8sII16s")  # magic, record size, count, struct format (NUL-padded)
FLOCK = struct.Struct("hhqqi4x")  # struct flock on Linux x86-64/arm64: type, whence, start, len, pid


def lab_module():
    """The student's module in a worker (fork: inherited; spawn: imported again by name)."""
    try:
        return student()
    except RuntimeError:
        return labkit.use_student(importlib.import_module(MODULE))


def lock_holder(path, start, length):
    """Pid of a process holding an fcntl lock overlapping bytes [start, start+length), or 0.

    C: ``fcntl(fd, F_GETLK, &fl)``: the kernel answers with a conflicting lock, or F_UNLCK.
    Call it while this process holds no lock on the file (closing a descriptor drops them).
    """
    fd = os.open(path, os.O_RDWR)
    try:
        res = fcntl.fcntl(fd, fcntl.F_GETLK, FLOCK.pack(fcntl.F_WRLCK, os.SEEK_SET, start, length, 0))
        l_type, _, _, _, pid = FLOCK.unpack(res)
        return 0 if l_type == fcntl.F_UNLCK else pid
    finally:
        os.close(fd)


def _parent(pid):
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return int(f.read().rsplit(b")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def record_range(lab, store, i):
    """(start, length) of record *i* as the lab's layout defines it (the brief's HEADER, not the submission's)."""
    size = store.record.size
    return HEADER.size + i * size, size


def random_record(rng, fmt):
    """A random tuple matching *fmt* (one of FORMATS)."""
    rec = []
    for kind, n in _codes(fmt):
        if kind == "q":
            rec.append(rng.randint(-2**40, 2**40))
        elif kind == "I":
            rec.append(rng.randrange(2**32))
        elif kind == "H":
            rec.append(rng.randrange(2**16))
        elif kind == "d":
            rec.append(rng.randint(-10**6, 10**6) / 8)
        else:
            rec.append(labkit.random_tag(rng, n).encode())
    return tuple(rec)


def _codes(fmt):
    """[('q', 1), ('s', 12)] for '<q12s'."""
    out, num = [], ""
    for ch in fmt.lstrip("<"):
        if ch.isdigit():
            num += ch
        else:
            out.append((ch, int(num or 1)))
            num = ""
    return out


# -- workers (run in their own processes) ----------------------------------------------

def read_all(path):
    """Open the store by its path and read every record."""
    store = lab_module().Store.open(path)
    try:
        return [store.read(i, timeout=WORKER_TIMEOUT) for i in range(len(store))]
    finally:
        store.close()


def increment(rec):
    """The test's change(): +1 on the counter, slowly (a wide read-modify-write window)."""
    time.sleep(0.0003)
    return (rec[0] + 1,) + tuple(rec[1:])


def incrementer(path, n, records, seed):
    """Add 1 to a random record *n* times with update(); return how many times each record was hit."""
    rng = random.Random(seed)
    store = lab_module().Store.open(path)
    done = [0] * records
    try:
        for _ in range(n):
            i = rng.randrange(records)
            store.update(i, increment, timeout=WORKER_TIMEOUT)
            done[i] += 1
    finally:
        store.close()
    return done


def hold(path, i, seconds):
    """Hold the lock on record *i* for *seconds* (the test kills us sooner)."""
    store = lab_module().Store.open(path)
    with store.lock(i, timeout=WORKER_TIMEOUT):
        time.sleep(seconds)
    store.close()


def die_holding(path, i):
    """Take the lock on record *i*, start an update, and be killed (SIGKILL) before unlocking."""
    store = lab_module().Store.open(path)
    with store.lock(i, timeout=WORKER_TIMEOUT):
        labkit.kill_student()  # the process that holds the lock dies (and is reaped) first
        os.kill(os.getpid(), signal.SIGKILL)


def raw_hold(path, start, length, seconds, shared=False):
    """Hold a plain fcntl lock (a write lock, or a read lock if *shared*) on bytes [start, start+length), as a C program would."""
    fd = os.open(path, os.O_RDWR)
    fcntl.lockf(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX, length, start)
    time.sleep(seconds)
    os.close(fd)


def wait_for_holder(path, start, length, group, what):
    """Wait until a worker of *group* holds an fcntl lock on the range; fail with advice otherwise."""
    pids = set(group.pids)

    def held_by_group():  # when graded, the lock belongs to the worker's boxed child (its agent)
        holder = lock_holder(path, start, length)
        return bool(holder) and (holder in pids or _parent(holder) in pids)
    try:
        waiting.wait_until(held_by_group, 10, what)
    except errors.WaitTimeout:
        raise labkit.Fail(f"{what}: no fcntl lock on bytes {start}..{start + length} appeared within 10 s",
                          [f"MISSING  an fcntl (lockf) lock on record bytes [{start}, {start + length})",
                           "         flock() or a lock file is invisible to fcntl: lock with fcntl.lockf"]) from None


# -- shared checks ------------------------------------------------------------------------

def concurrent_increments(lab, rng, nproc, records, per_proc, start_method):
    fmt = rng.choice(FORMATS)
    with labkit.shared_file(tag="lab4") as path:
        store = lab.Store.create(path, fmt, records)
        try:
            seeds = [rng.randrange(2**31) for _ in range(nproc)]
            done = procs.run(incrementer, [(path, per_proc, records, s) for s in seeds],
                             start_method=start_method, timeout=WORKER_TIMEOUT, relay=False)
            want = [sum(d[i] for d in done) for i in range(records)]
            got = [store.read(i, timeout=2)[0] for i in range(records)]
        finally:
            store.close()
    lost = sum(want) - sum(got)
    expect(want == got, f"{nproc} processes x {per_proc} update(+1): counters wrong"
           + (f" ({lost} updates lost)" if lost > 0 else ""),
           *labkit.diff_lines(want, got), "(update() must read, change and write under ONE hold of the record's lock)")


# -- the tests ---------------------------------------------------------------------------

@labkit.test("records round-trip, in this process and when another process opens the file", points=2,
             timeout=20, hint="record i is at HEADER.size + i * record.size; open() reads count and format "
                              "from the header, then maps the whole file MAP_SHARED.")
def round_trip(lab, rng):
    fmt, count = rng.choice(FORMATS), rng.randint(5, 20)
    with labkit.shared_file(tag="lab4") as path:
        store = lab.Store.create(path, fmt, count)
        try:
            expect_equal(count, len(store), f"len() of a store of {count} records")
            zero = store.read(rng.randrange(count), timeout=2)
            expect_equal(struct.Struct(fmt).unpack(bytes(struct.calcsize(fmt))), zero, "a fresh record")
            want = [random_record(rng, fmt) for _ in range(count)]
            for i in rng.sample(range(count), count):
                store.write(i, want[i], timeout=2)
            expect_list(want, [store.read(i, timeout=2) for i in range(count)], f"records {fmt!r} read back")
            got = procs.run(read_all, [(path,)], start_method="fork", timeout=WORKER_TIMEOUT, relay=False)[0]
            expect_list(want, got, "records read by another process that opened the file")
        finally:
            store.close()


@labkit.test("a bad index or a bad create() says so clearly", points=1, timeout=20,
             hint="offset(i) checks 0 <= i < count and raises IndexError naming the range; create() "
                  "raises ValueError for count < 1 or a bad format; open() for a file without the magic.")
def bad_input(lab, rng):
    count = rng.randint(3, 12)
    with labkit.shared_file(tag="lab4") as path:
        store = lab.Store.create(path, rng.choice(FORMATS), count)
        try:
            for bad in (count, count + rng.randint(1, 50), -1):
                e = expect_raises(IndexError, store.read, f"read({bad}) in a store of {count}", bad, timeout=1)
                expect(str(count - 1) in str(e), f"the IndexError for read({bad}) should name the valid range",
                       f"GOOD (expected)  a message such as 'index must be 0..{count - 1}'",
                       f"BAD  (got)       {str(e)!r}")
            expect_raises(IndexError, store.update, f"update({count}, ...)", count, increment, timeout=1)
        finally:
            store.close()
        expect_raises(ValueError, lab.Store.create, "create(path, fmt, 0)", path, "<q", 0)
        expect_raises(ValueError, lab.Store.create, "create(path, 'not a format', 3)", path, "not a format", 3)
    with labkit.shared_file(size=64, tag="notastore") as other:
        expect_raises(ValueError, lab.Store.open, "open() of a file that is not a store", other)


@labkit.test("3-5 processes increment shared counters: no update is lost", points=3, timeout=45,
             hint="update() takes the record's lock, reads, calls change(), writes, then unlocks; a "
                  "read and a write under two separate lock holds still lose updates.")
def no_lost_updates(lab, rng):
    concurrent_increments(lab, rng, rng.randint(3, 5), rng.randint(2, 4), rng.randint(60, 100), "fork")


@labkit.test("a lock held on record i (by another process) blocks record i only", points=2, timeout=30,
             hint="lock exactly [offset(i), offset(i) + record size): lockf(fd, LOCK_EX|LOCK_NB, size, "
                  "offset). length 0 means 'to the end of the file', which blocks every later record.")
def per_record_locks(lab, rng):
    count = rng.randint(4, 10)
    i = rng.randrange(count - 1)  # not the last: length 0 ("to EOF") must show up as blocking later records
    with labkit.shared_file(tag="lab4") as path:
        store = lab.Store.create(path, rng.choice(FORMATS), count)
        try:
            start, length = record_range(lab, store, i)
            holder = procs.start(hold, [(path, i, 20)], start_method="fork", timeout=WORKER_TIMEOUT, relay=False)
            try:
                wait_for_holder(path, start, length, holder, f"a process locking record {i}")
                blocked = []
                for j in range(count):
                    if j == i:
                        continue
                    try:
                        store.update(j, increment, timeout=0.5)
                    except TimeoutError:
                        blocked.append(j)
                expect(not blocked, f"while another process held record {i}, update() timed out on other records",
                       *[f"BAD      record {j} waited for record {i}'s lock" for j in blocked])
                expect_raises(TimeoutError, store.update, f"update({i}) while another process holds record {i}",
                              i, increment, timeout=0.2)
            finally:
                holder.kill()
            expect_equal(0, store.read(i, timeout=2)[0], f"record {i}'s counter after the timed-out update")
            store.update(i, increment, timeout=2)
            expect_equal(1, store.read(i, timeout=2)[0], f"record {i} once its holder is gone")
        finally:
            store.close()


@labkit.test("a process killed while holding a record lock does not block the others", points=1, timeout=30,
             hint="fcntl locks belong to the process: the kernel drops them when it dies. A lock file or "
                  "a flag inside the record would stay 'locked' for ever.")
def killed_holder(lab, rng):
    count = rng.randint(2, 8)
    i = rng.randrange(count)
    with labkit.shared_file(tag="lab4") as path:
        store = lab.Store.create(path, rng.choice(FORMATS), count)
        try:
            try:
                procs.run(die_holding, [(path, i)], start_method="fork", timeout=WORKER_TIMEOUT, relay=False)
            except errors.ChildError as e:
                expect(e.exitcode == -signal.SIGKILL, f"the writer should have been killed, it {e}"[:300])
            try:
                store.update(i, increment, timeout=2)
            except TimeoutError:
                raise labkit.Fail(f"record {i} stayed locked after its holder was killed",
                                  ["BAD      update() timed out 2 s after the holder died",
                                   "GOOD     the kernel releases a dead process's fcntl locks"]) from None
            expect_equal(1, store.read(i, timeout=2)[0], f"record {i} after one update")
        finally:
            store.close()


@labkit.test("after flush() the records are in the file, as plain read() sees it", points=1, timeout=20,
             hint="map with MAP_SHARED (mmap's default, ACCESS_WRITE): MAP_PRIVATE (ACCESS_COPY) keeps "
                  "your writes in this process. flush() is mmap.flush() (msync).")
def reaches_the_file(lab, rng):
    fmt, count = rng.choice(FORMATS), rng.randint(3, 12)
    rec = struct.Struct(fmt)
    with labkit.shared_file(tag="lab4") as path:
        store = lab.Store.create(path, fmt, count)
        try:
            want = [random_record(rng, fmt) for _ in range(count)]
            for i, r in enumerate(want):
                store.write(i, r, timeout=2)
            store.flush()
            with open(path, "rb") as f:  # C: read(), no mapping
                data = f.read()
        finally:
            store.close()
    head = HEADER.size
    expect_equal(head + count * rec.size, len(data), "file size (the brief's 32-byte header + count records)")
    magic, size, n, f = HEADER.unpack_from(data, 0)
    expect_equal((MAGIC, rec.size, count, fmt), (magic, size, n, f.rstrip(b"\0").decode()),
                 "header read from the file as the brief lays it out (magic, record size, count, format)")
    got = [rec.unpack_from(data, head + i * rec.size) for i in range(count)]
    expect_list(want, got, "records read from the file with read()")


@labkit.test("readers share a record's lock, a writer excludes them (C-style fcntl locks)",
             points=2, timeout=40,
             hint="read() takes a SHARED lock on the record's bytes (lockf(fd, LOCK_SH|LOCK_NB, size, offset), "
                  "C: F_RDLCK): other readers may hold it too, a writer may not. write() and update() take "
                  "it exclusive (LOCK_EX, F_WRLCK). A read() with no lock at all sees half-written records.")
def readers_share(lab, rng):
    count = rng.randint(3, 9)
    i = rng.randrange(count)
    fmt = rng.choice(FORMATS)
    with labkit.shared_file(tag="lab4") as path:
        store = lab.Store.create(path, fmt, count)
        try:
            start, length = record_range(lab, store, i)
            want = random_record(rng, fmt)
            store.write(i, want, timeout=2)
            reader = procs.start(raw_hold, [(path, start, length, 20, True)], start_method="fork",
                                 timeout=WORKER_TIMEOUT, relay=False)
            try:
                wait_for_holder(path, start, length, reader, f"a C-style reader (F_RDLCK) on record {i}")
                try:
                    got = store.read(i, timeout=1)
                except TimeoutError:
                    raise labkit.Fail(f"read({i}) waited for another process that was only READING record {i}",
                                      ["GOOD     readers share the record: read() takes a shared lock (LOCK_SH)",
                                       "BAD      read() timed out: it asked for an exclusive lock"]) from None
                expect_equal(want, got, f"record {i} read while another process reads it")
                expect_raises(TimeoutError, store.update, f"update({i}) while another process reads record {i}",
                              i, increment, timeout=0.2)
            finally:
                reader.kill()
            writer = procs.start(raw_hold, [(path, start, length, 20, False)], start_method="fork",
                                 timeout=WORKER_TIMEOUT, relay=False)
            try:
                wait_for_holder(path, start, length, writer, f"a C-style writer (F_WRLCK) on record {i}")
                try:
                    got = store.read(i, timeout=0.3)
                except TimeoutError:
                    got = None
                expect(got is None, f"read({i}) returned while another process held record {i}'s write lock",
                       "GOOD     read() waits for the writer (its shared lock conflicts with F_WRLCK)",
                       f"BAD      read() returned {got!r} at once: it took no lock, so it can see half a write")
            finally:
                writer.kill()
            expect_equal(want, store.read(i, timeout=2), f"record {i} once the writer is gone")
        finally:
            store.close()


def demo(lab, seed=1, nproc=4, records=3, per_proc=40):
    """For the brief: *nproc* processes increment *records* counters; (expected, got) per record."""
    labkit.use_student(lab)
    rng = random.Random(seed)
    with labkit.shared_file(tag="lab4-demo") as path:
        store = lab.Store.create(path, "<q12s", records)
        try:
            seeds = [rng.randrange(2**31) for _ in range(nproc)]
            done = procs.run(incrementer, [(path, per_proc, records, s) for s in seeds],
                             start_method="fork", timeout=WORKER_TIMEOUT, relay=False)
            return done, [store.read(i, timeout=2)[0] for i in range(records)]
        finally:
            store.close()
