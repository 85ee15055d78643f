"""Visible tests of lab 1: the ring buffer (19.1)."""

import mmap
import os
import struct
import time

import posix_ipc

from ipclab.tooling.grading import labkit
from ipclab.core import procs
from ipclab.tooling.grading.labkit import expect, expect_list, expect_raises, expect_same_items, student

LAB = "lab1"
TITLE = "ring buffer in POSIX shared memory"
MODULE = "lab1_ringbuffer"
HIDDEN = 2
WORKER_TIMEOUT = 20
SLOW = 0.02          # seconds added to each line of the student's code in the lockstep rounds
KERNEL_HEADER = struct.Struct("<IIIII")   # head, tail, capacity, item_size, ended: the brief's layout
KERNEL_LENGTH = struct.Struct("<I")


def records(rng, producer, n, item_size):
    """*n* random records of producer *producer*, each 1..item_size bytes, 'p:seq:' first."""
    out = []
    for seq in range(n):
        head = f"{producer}:{seq:04d}:".encode()
        body = labkit.random_tag(rng, rng.randint(0, max(0, item_size - len(head)))).encode()
        out.append(head + body)
    return out


def role(kind, handle, arg, gate=None):
    """A worker: 'put' the records in *arg*, 'get' *arg* records, or 'drain' until None.

    With a *gate* (lockstep rounds), the student's code is slowed down line by line and the
    worker starts when every worker of the round has arrived.
    """
    rb = student().RingBuffer.attach(handle)
    try:
        if gate is not None:
            labkit.slow_student(SLOW)
            labkit.Gate.wait(gate)
        if kind == "put":
            for r in arg:
                rb.put(r, timeout=WORKER_TIMEOUT)
            return None
        if kind == "drain":
            got = []
            while True:
                r = rb.get(timeout=arg)
                if r is None:
                    return got
                got.append(r)
        return [rb.get(timeout=WORKER_TIMEOUT) for _ in range(arg)]
    finally:
        rb.close()


def kernel_view(handle):
    """What the kernel holds, read by the test itself: the segment's header and slots, and the
    semaphores' values (never what the student's code reports)."""
    shm = posix_ipc.SharedMemory(handle[0])
    try:
        mm = mmap.mmap(shm.fd, shm.size, prot=mmap.PROT_READ)
    finally:
        shm.close_fd()
    try:
        head, tail, capacity, item_size, ended = KERNEL_HEADER.unpack_from(mm, 0)
        slots = []
        for i in range(min(capacity, 4096)):
            off = KERNEL_HEADER.size + i * (KERNEL_LENGTH.size + item_size)
            if off + KERNEL_LENGTH.size + item_size > len(mm):
                break
            (n,) = KERNEL_LENGTH.unpack_from(mm, off)
            slots.append(bytes(mm[off + KERNEL_LENGTH.size: off + KERNEL_LENGTH.size + min(n, item_size)]))
    finally:
        mm.close()
    sems = {}
    for what, name in zip(("empty", "full", "mutex"), handle[1:]):
        s = posix_ipc.Semaphore(name)
        sems[what] = s.value
        s.close()
    return {"head": head, "tail": tail, "capacity": capacity, "item_size": item_size, "ended": ended,
            "slots": slots, **sems}


def _destroy(rb):
    if rb is not None:
        rb.destroy()


def round_trip(lab, capacity, item_size, sent):
    """Put every record of *sent* into a fresh buffer, then get as many back (one process)."""
    rb = lab.RingBuffer.create(capacity, item_size)
    try:
        for r in sent:
            rb.put(r, timeout=2)
        return [rb.get(timeout=2) for _ in sent]
    finally:
        rb.destroy()


def mpmc(lab, rng, producers, consumers, capacity, per_producer):
    """Run producers and consumers in separate processes; check delivery and per-producer order."""
    item_size = rng.randint(16, 40)
    sent = [records(rng, p, per_producer, item_size) for p in range(producers)]
    total = producers * per_producer
    shares = [total // consumers + (1 if c < total % consumers else 0) for c in range(consumers)]
    rb = lab.RingBuffer.create(capacity, item_size)
    try:
        jobs = [("put", rb.handle, s) for s in sent] + [("get", rb.handle, n) for n in shares]
        results = procs.run(role, jobs, start_method=labkit.start_method(), timeout=WORKER_TIMEOUT + 10,
                            relay=False)
    finally:
        rb.destroy()
    got = [r for res in results[producers:] for r in res]
    expect_same_items([r for s in sent for r in s], got,
                      f"{producers} producers x {per_producer} records through {consumers} consumers")
    for c, res in enumerate(results[producers:]):
        for p in range(producers):
            mine = [r for r in res if r.startswith(f"{p}:".encode())]
            expect(mine == sorted(mine), f"consumer {c} received producer {p}'s records out of order",
                   *labkit.diff_lines(sorted(mine), mine))


@labkit.test("one process: records come back in FIFO order, byte for byte", points=2, timeout=20,
             hint="put() writes the length then the bytes at slot `tail` (next slot to write), get() "
                  "reads slot `head` (next slot to read); both advance modulo capacity.")
def fifo_one_process(lab, rng):
    capacity, item_size = rng.randint(3, 9), rng.randint(12, 48)
    sent = records(rng, 0, capacity, item_size)
    got = round_trip(lab, capacity, item_size, sent)
    expect_list(sent, got, f"records read back from a buffer of capacity {capacity}")


@labkit.test("wrap-around: 3 x capacity records, interleaved put/get", points=1, timeout=20,
             hint="the indices must wrap: tail = (tail + 1) % capacity, same for head.")
def wrap_around(lab, rng):
    capacity, item_size = rng.randint(2, 5), rng.randint(10, 30)
    sent = records(rng, 0, 3 * capacity, item_size)
    rb = lab.RingBuffer.create(capacity, item_size)
    got = []
    try:
        for i, r in enumerate(sent):  # keep capacity-1 records inside, so head and tail lap the ring
            rb.put(r, timeout=2)
            if i >= capacity - 1:
                got.append(rb.get(timeout=2))
        while len(got) < len(sent):
            got.append(rb.get(timeout=2))
    finally:
        rb.destroy()
    expect_list(sent, got, "records after several laps of the ring")


@labkit.test("put() times out when full, get() when empty", points=1, timeout=20,
             hint="posix_ipc's acquire(timeout) raises posix_ipc.BusyError: turn it into TimeoutError "
                  "(and give back anything you took before the timeout).")
def timeouts(lab, rng):
    capacity = rng.randint(1, 4)
    rb = lab.RingBuffer.create(capacity, 8)
    try:
        expect_raises(TimeoutError, rb.get, "get() on an empty buffer", timeout=0.2)
        for i in range(capacity):
            rb.put(b"r%d" % i, timeout=2)
        expect_raises(TimeoutError, rb.put, f"put() on a full buffer (capacity {capacity})", b"late", timeout=0.2)
        first = rb.get(timeout=2)
        expect(first == b"r0", "after the timeouts the buffer is damaged",
               f"GOOD (expected) b'r0'", f"BAD  (got)      {first!r}")
    finally:
        rb.destroy()


@labkit.test("put() and get() wait for the mutex, and give empty/full back on a timeout", points=1,
             timeout=20,
             hint="take the mutex (after empty/full) around every use of head and tail; if the mutex "
                  "wait times out, release the empty (put) or full (get) unit you already took.")
def mutex_is_used(lab, rng):
    """Deterministic: the grader holds the mutex, as another process in the middle of a put would."""
    capacity = rng.randint(2, 5)
    rb = lab.RingBuffer.create(capacity, 8)
    try:
        rb.put(b"first", timeout=2)
        rb.mutex.acquire(2)  # C: sem_wait(mutex): now nobody may touch head or tail
        try:
            expect_raises(TimeoutError, rb.put, "put() while another process holds the mutex", b"x", timeout=0.3)
            expect(rb.empty.value == capacity - 1,
                   "put() timed out on the mutex but kept the free slot it had taken from 'empty'",
                   f"GOOD (expected) empty = {capacity - 1}", f"BAD  (got)      empty = {rb.empty.value}")
            expect_raises(TimeoutError, rb.get, "get() while another process holds the mutex", timeout=0.3)
            expect(rb.full.value == 1,
                   "get() timed out on the mutex but kept the record's unit it had taken from 'full'",
                   "GOOD (expected) full = 1", f"BAD  (got)      full = {rb.full.value}")
        finally:
            rb.mutex.release()
        got = rb.get(timeout=2)
        expect(got == b"first", "after the mutex timeouts the buffer is damaged",
               "GOOD (expected) b'first'", f"BAD  (got)      {got!r}")
    finally:
        rb.destroy()


@labkit.test("bad records and sizes raise ValueError", points=1, timeout=20,
             hint="check capacity and item_size in create(), and 1 <= len(data) <= item_size in put(), "
                  "before touching the segment: a too-long record would overwrite the next slot.")
def bad_input(lab, rng):
    item_size = rng.randint(4, 12)
    for args in ((0, item_size), (2, 0), (-1, item_size)):
        expect_raises(ValueError, lab.RingBuffer.create, f"create{args}", *args)
    rb = lab.RingBuffer.create(2, item_size)
    try:
        expect_raises(ValueError, rb.put, "put(b'') (an empty record)", b"", timeout=1)
        expect_raises(ValueError, rb.put, f"put() of {item_size + 1} bytes into {item_size}-byte slots",
                      b"x" * (item_size + 1), timeout=1)
        expect(rb.full.value == 0 and rb.empty.value == 2, "a refused put() changed the semaphores",
               "GOOD (expected) full = 0, empty = 2", f"BAD  (got)      full = {rb.full.value}, empty = {rb.empty.value}")
    finally:
        rb.destroy()


@labkit.test("2-3 producers, 2-3 consumers, separate processes: each record once, in order",
             points=3, timeout=60,
             hint="the mutex must cover reading AND advancing head (or tail); wait on empty/full "
                  "before taking the mutex, never while holding it.")
def producers_consumers(lab, rng):
    lockstep(lab, rng, 3, 2)
    mpmc(lab, rng, rng.randint(2, 3), rng.randint(2, 3), rng.randint(2, 5), rng.randint(30, 60))


def lockstep(lab, rng, workers, each):
    """Producers, then consumers, started together with every line of the student's code slowed
    down: without a lock held from reading an index to writing it back, two of them use the same
    slot. Checked from the segment's bytes and the semaphores' values."""
    item_size = rng.randint(16, 32)
    total = workers * each
    capacity = total + 1
    sent = [records(rng, p, each, item_size) for p in range(workers)]
    rb = lab.RingBuffer.create(capacity, item_size)
    try:
        handle = rb.handle
        with labkit.Gate(workers) as gate:
            procs.run(role, [("put", handle, s, gate.handle) for s in sent], start_method=labkit.start_method(),
                      timeout=WORKER_TIMEOUT + 10, relay=False)
        k = kernel_view(handle)
        flat = [r for s in sent for r in s]
        expect(k["tail"] == total and k["full"] == total and k["empty"] == capacity - total,
               f"{workers} producers started together, {each} records each: the kernel's objects disagree",
               f"GOOD (expected) tail = {total}, full = {total}, empty = {capacity - total}",
               f"BAD  (got)      tail = {k['tail']}, full = {k['full']}, empty = {k['empty']}",
               "two producers used the same slot: is the mutex held from reading tail to writing it back?")
        expect_same_items(flat, k["slots"][:total], "records in the segment's slots after the producers")
        with labkit.Gate(workers) as gate:
            results = procs.run(role, [("get", handle, each, gate.handle)] * workers,
                                start_method=labkit.start_method(), timeout=WORKER_TIMEOUT + 10, relay=False)
        k = kernel_view(handle)
    finally:
        rb.destroy()
    expect_same_items(flat, [r for res in results for r in res],
                      f"{workers} consumers started together, {each} gets each")
    expect(k["head"] == total and k["full"] == 0 and k["empty"] == capacity,
           f"{workers} consumers started together: the kernel's objects disagree",
           f"GOOD (expected) head = {total}, full = 0, empty = {capacity}",
           f"BAD  (got)      head = {k['head']}, full = {k['full']}, empty = {k['empty']}")


@labkit.test("attach in another process; destroy() removes every object", points=1, timeout=30,
             hint="destroy() must shm_unlink the segment and sem_unlink the three semaphores "
                  "(objects.remove_posix_shm / remove_posix_sem).")
def attach_and_destroy(lab, rng):
    items = [labkit.random_tag(rng, 10).encode() for _ in range(3)]
    rb = lab.RingBuffer.create(4, 16)
    try:
        handle = rb.handle
        expect(isinstance(handle, tuple) and len(handle) == 4
               and all(isinstance(n, str) and n.startswith("/") for n in handle),
               "handle must be a tuple of four POSIX names (segment, empty, full, mutex)", f"BAD  (got) {handle!r}")
        for batch in (items[:2], items[2:]):  # two processes, one after the other
            procs.run(role, [("put", handle, batch)], start_method=labkit.start_method(), timeout=WORKER_TIMEOUT,
                      relay=False)
        k = kernel_view(handle)
        expect(k["tail"] == 3 and k["full"] == 3 and k["slots"][:3] == items,
               "after two other processes put 2 then 1 record, the segment is wrong",
               f"GOOD (expected) tail = 3, full = 3, slots {items!r}",
               f"BAD  (got)      tail = {k['tail']}, full = {k['full']}, slots {k['slots'][:3]!r}",
               "head and tail live in the segment, shared: not in attributes of one process's object")
        got = [rb.get(timeout=5) for _ in items]
        expect(got == items, "the records put by other processes did not come back",
               f"GOOD (expected) {items!r}", f"BAD  (got)      {got!r}")
    finally:
        rb.destroy()
    left = [n for n in handle if os.path.exists("/dev/shm" + n) or os.path.exists("/dev/shm/sem." + n[1:])]
    expect(not left, f"after destroy(), {len(left)} object(s) still exist", *[f"BAD      {n}" for n in left])


@labkit.test("end(): what was put comes out, then every consumer gets None, even those already "
             "waiting; put() then raises BrokenPipeError", points=2, timeout=40,
             hint="end() puts an end marker in the ring like a record; a get() that finds it leaves it there, "
                  "posts full again so the next waiting consumer wakes too, and returns None.")
def end_of_stream(lab, rng):
    capacity, item_size, consumers = rng.randint(3, 5), 16, 3
    sent = records(rng, 0, rng.randint(1, capacity - 1), item_size)
    rb = lab.RingBuffer.create(capacity, item_size)
    try:
        handle = rb.handle
        job = procs.start(role, [("drain", handle, 8.0)] * consumers, start_method=labkit.start_method(),
                          timeout=WORKER_TIMEOUT, relay=False)
        try:
            time.sleep(0.5)  # most of them are now waiting in get(): end() must wake them all
            for r in sent:
                rb.put(r, timeout=2)
            rb.end(timeout=2)
        finally:
            results = job.join()
        expect_same_items(sent, [r for res in results for r in res],
                          f"records put before end(), drained by {consumers} consumers")
        expect_raises(BrokenPipeError, rb.put, "put() after end()", b"late", timeout=1)
        again = rb.get(timeout=1)
        expect(again is None, "get() after the end of the stream must return None at once",
               "GOOD (expected) None", f"BAD  (got)      {again!r}")
        rb.end(timeout=1)  # a second end() does nothing
        k = kernel_view(handle)
        expect(k["ended"] == 1 and k["empty"] == capacity - 1,
               "after end() the segment's ended flag is 1 and only the marker's slot is in use",
               f"GOOD (expected) ended = 1, empty = {capacity - 1}",
               f"BAD  (got)      ended = {k['ended']}, empty = {k['empty']}")
    finally:
        rb.destroy()


def demo(lab, seed=1, producers=2, consumers=2, capacity=3, per_producer=12):
    """For the brief: run the student's buffer with real processes; what each consumer received."""
    import random
    rng = random.Random(seed)
    labkit.use_student(lab)
    sent = [records(rng, p, per_producer, 24) for p in range(producers)]
    total = producers * per_producer
    shares = [total // consumers + (1 if c < total % consumers else 0) for c in range(consumers)]
    rb = lab.RingBuffer.create(capacity, 24)
    try:
        jobs = [("put", rb.handle, s) for s in sent] + [("get", rb.handle, n) for n in shares]
        results = procs.run(role, jobs, start_method="fork", timeout=WORKER_TIMEOUT, relay=False)
    finally:
        rb.destroy()
    return [[r.decode() for r in res] for res in results[producers:]]
