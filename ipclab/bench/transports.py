"""The two ends of every benchmark: worker functions that really move (and check) bytes.

Why a module of its own: the workers run in real child processes (fork, forkserver or
spawn), so they must be importable, and they are the hot path, written for low
per-message overhead (preallocated buffers, ``memoryview``, ``readinto``, no pickling).
:mod:`ipclab.bench.runner` creates the kernel objects, starts these functions with
:mod:`ipclab.core.procs` and turns what they return into records. Which ring, stream or queue
each mechanism opens is its definition's business (:mod:`ipclab.bench.catalog`, handed over in
the spec as ``spec["transport"]``); everything here is the same for every mechanism.

The protocol, the same for every mechanism and for the C twin in ``bench/``:

* a message of ``n`` bytes is ``seq (u64) | ctrl (u64) | pattern ... | seq (u64)``; the
  pattern is the same pseudo-random bytes on both sides (seeded);
* the consumer checks every message's head and tail ``seq`` (nothing lost, duplicated,
  reordered or torn); through a shared-memory ring it compares every payload byte in place
  (one ``memcmp`` of the batch against the batch it must be), through a stream or a queue
  it checks the CRC-32 of the payload of one message in :data:`SAMPLE`;
* the producer runs a warm-up, then ``repeats`` phases of fixed *duration* (never a fixed
  count): the first message of each phase carries ``ctrl=MARK``, the last one ``ctrl=STOP``;
  the consumer timestamps those, so each phase's rate is measured where bytes arrive.

Defined in :mod:`ipclab.bench.transports`; used by :mod:`ipclab.bench.runner` (notebook 04).
"""

import functools
import io
import mmap
import os
import random
import signal
import struct
import time
import zlib
from array import array

from ipclab.core.errors import IpclabError, WaitTimeout

__all__ = ["HEAD", "TAIL", "MIN_SIZE", "SAMPLE", "STOP8", "WAIT", "IntegrityError", "PeerGone", "pattern",
           "watchdog", "disarm", "pin", "open_end", "producer", "consumer", "pinger", "ponger", "run_role"]

HEAD = struct.Struct("<QQ")   # seq, ctrl
TAIL = struct.Struct("<Q")    # seq again, last 8 bytes: a torn message shows here
MIN_SIZE = HEAD.size + TAIL.size
DATA, MARK, STOP = 0, 1, 2
SAMPLE = 16                   # one message in SAMPLE has its whole payload CRC-checked
STOP8 = 1 << 63               # latency: an 8-byte seq with this bit set ends the ping-pong
WAIT = 10.0                   # seconds any single blocking call may wait before giving up


class IntegrityError(IpclabError):
    """The consumer received bytes that are not what the producer sent."""


class PeerGone(IpclabError):
    """The other end closed or died in the middle of a run."""


def pattern(n, seed=19):
    """The *n* payload bytes both ends agree on (pseudo-random, so no compression helps)."""
    return bytearray(random.Random(seed * 1000003 + n).randbytes(n))


# -- watchdog: a timeout on calls that have none (read, write, msgsnd, msgrcv, semop, open) ----
def _alarm(signum, frame):
    raise WaitTimeout("benchmark worker: a blocking call (read/write/msgsnd/msgrcv/semop/accept/FIFO open) "
                      "waited past the run's deadline; the peer is stuck or dead")


def watchdog(seconds):
    """Arm SIGALRM for the whole run: any blocking call still waiting then raises WaitTimeout."""
    signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.01))


def disarm():
    signal.setitimer(signal.ITIMER_REAL, 0)


def pin(cpu):
    """Pin this process to one CPU (``sched_setaffinity``), or leave it free when *cpu* is None."""
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})


# -- endpoints -------------------------------------------------------------------------------
class _Ring:
    """A ring of ``slots`` messages in a shared mapping; semaphores count *batches* of slots.

    ``empty`` starts at ``slots // batch`` and ``full`` at 0. The producer takes one
    ``empty`` token, copies ``batch`` consecutive messages (prepared in a private buffer) into
    consecutive slots with one copy and posts ``full``; the consumer takes ``full``, checks
    every message of the batch *in place* (head and tail seq, every payload byte against
    the expected pattern: each byte is read by the consumer where it arrived) and posts
    ``empty``. ``batch=1`` is the textbook one-handshake-per-message ring.
    """

    def __init__(self, buf, size, slots, batch, wait_empty, post_empty, wait_full, post_full):
        import ctypes
        self.buf, self.n, self.slots, self.batch = buf, size, slots, batch
        self.wait_empty, self.post_empty = wait_empty, post_empty
        self.wait_full, self.post_full = wait_full, post_full
        self._cbuf = ctypes.c_char.from_buffer(buf)        # the ring's address, for memcmp
        self.base = ctypes.addressof(self._cbuf)
        self.offsets = list(range(0, slots * size, batch * size))  # where each batch starts

    def close(self):
        self._cbuf = None                                  # drop the export before the unmap

    def touch(self, write=False):
        """Fault every page of the mapping in this process before timing.

        Only the producer writes (before its first message). The consumer must only *read*:
        a read-modify-write here, racing with the producer's first messages, once overwrote
        the head of message 120 with a stale 0, and the integrity check caught it.
        """
        step, buf, total = mmap.PAGESIZE, self.buf, 0
        for off in range(0, len(buf), step):
            if write:
                buf[off] = buf[off]
            else:
                total += buf[off]
        return total


def _seq_views(img, k, n):
    """numpy views of the head seq, ctrl and tail seq fields of *k* messages of *n* bytes in *img*."""
    import numpy as np
    return tuple(np.ndarray((k,), "<u8", img, off, (n,)) for off in (0, 8, n - 8))


def _batch_image(k, n):
    img = bytearray(k * n)
    ref = pattern(n)
    for j in range(k):
        img[j * n:(j + 1) * n] = ref                       # touched: written here
        HEAD.pack_into(img, j * n, 0, DATA)                # ctrl fields 0: data
    return img


def _libc_memcmp():
    import ctypes
    f = ctypes.CDLL(None).memcmp
    f.restype = ctypes.c_int
    return f


def _ring_producer(end, n, cfg):
    """The ring's producer: one empty token, one copy of a batch, one post of full, per batch."""
    import numpy as np
    k, ring, offsets = end.batch, end.buf, end.offsets
    img = _batch_image(k, n)
    src = memoryview(img)
    heads, ctrls, tails = _seq_views(img, k, n)
    step = np.arange(k, dtype=np.uint64)
    add, pack_head, pack_tail = np.add, HEAD.pack_into, TAIL.pack_into
    wait_empty, post_full, clock = end.wait_empty, end.post_full, time.perf_counter
    kn, npos, pos, tail_at = k * n, len(offsets), 0, n - TAIL.size
    seq, ctrl, phase, every = 0, DATA, -1, 1
    t = clock()
    switch = t + cfg["warmup"]
    while True:
        for _ in range(every):
            if k == 1:
                pack_head(img, 0, seq, ctrl)
                pack_tail(img, tail_at, seq)
            else:
                add(step, seq, out=heads)                  # seq, seq+1, ... in every message
                tails[:] = heads
                ctrls[0] = ctrl
            off = offsets[pos]
            wait_empty()
            ring[off:off + kn] = src                       # C: memcpy(ring + off, batch, k * n)
            post_full()
            pos = pos + 1 if pos + 1 < npos else 0
            seq += k
            if ctrl:
                ctrls[0] = ctrl = DATA
        now = clock()
        if now - t < 0.001 and every < 4096:
            every *= 2
        t = now
        if now >= switch:
            phase += 1
            if phase == cfg["repeats"]:
                pack_head(img, 0, seq, STOP)
                pack_tail(img, tail_at, seq)
                off = offsets[pos]
                wait_empty()
                ring[off:off + n] = src[:n]                # the last batch: the STOP message alone
                post_full()
                break
            ctrl, switch = MARK, now + cfg["phase"]
    src.release()
    return {"sent": seq + 1}


def _ring_consumer(end, n, cfg, mech):
    """The ring's consumer: take a batch, check every message in place, give the slots back.

    The check builds what the batch must hold (the pattern, seq ``expected ...`` at head and
    tail, ctrl 0) and compares all ``batch * n`` bytes at once (one ``memcmp``); a batch that
    differs (a phase mark, the stop, or damage) is then checked message by message.
    """
    import ctypes
    import numpy as np
    k, offsets, base = end.batch, end.offsets, end.base
    img = _batch_image(k, n)
    heads, _, tails = _seq_views(img, k, n)
    step = np.arange(k, dtype=np.uint64)
    cimg = ctypes.c_char.from_buffer(img)
    pimg = ctypes.c_void_p(ctypes.addressof(cimg))
    addrs = [ctypes.c_void_p(base + off) for off in offsets]
    memcmp, kn = _libc_memcmp(), ctypes.c_size_t(k * n)
    add, pack_head, pack_tail = np.add, HEAD.pack_into, TAIL.pack_into
    wait_full, post_empty, clock = end.wait_full, end.post_empty, time.perf_counter
    npos, pos, tail_at, expected, marks, checked = len(offsets), 0, n - TAIL.size, 0, [], 0
    ring = np.frombuffer(end.buf, dtype=np.uint8)
    ref = np.frombuffer(pattern(n), dtype=np.uint8)
    try:
        while True:
            if k == 1:
                pack_head(img, 0, expected, DATA)
                pack_tail(img, tail_at, expected)
            else:
                add(step, expected, out=heads)
                tails[:] = heads
            wait_full()
            if memcmp(addrs[pos], pimg, kn):               # C: memcmp(ring + off, expected_batch, k * n)
                got, stop = _check_batch(ring, offsets[pos], k, n, ref, expected, mech, marks, clock)
            else:
                got, stop = k, False
            post_empty()
            checked += got
            pos = pos + 1 if pos + 1 < npos else 0
            if stop:
                return {"received": expected + got, "crc_checked": checked, "marks": marks,
                        "check": "every payload compared in place"}
            expected += got
    finally:
        del cimg, heads, tails, ring


def _check_batch(ring, off, k, n, ref, expected, mech, marks, clock):
    """Check a batch that is not a plain run of data messages; (messages in it, stop seen)."""
    import numpy as np
    b = ring[off:off + k * n].reshape(k, n)
    heads, ctrls, tails = (b[:, o:o + 8].copy().view("<u8")[:, 0] for o in (0, 8, n - 8))
    stops = np.flatnonzero(ctrls == STOP)
    got = int(stops[0]) + 1 if len(stops) else k
    want = np.arange(expected, expected + got, dtype=np.uint64)
    bad = np.flatnonzero((heads[:got] != want) | (tails[:got] != want) | (ctrls[:got] > STOP))
    if len(bad):
        i = int(bad[0])
        raise IntegrityError(f"{mech} {n} B: message {expected + i} arrived as head seq {heads[i]}, "
                             f"tail seq {tails[i]}, ctrl {ctrls[i]}: lost, reordered or torn")
    bad = np.flatnonzero((b[:got, 16:n - 8] != ref[16:n - 8]).any(axis=1))
    if len(bad):
        raise IntegrityError(f"{mech} {n} B: payload of message {expected + int(bad[0])} corrupted")
    now = clock()
    for i in np.flatnonzero(ctrls[:got]):
        marks.append((now, expected + int(i)))
    del b
    return got, bool(len(stops))


class _Stream:
    """A byte stream (pipe, FIFO, socket) used with plain blocking ``read``/``write``."""

    def __init__(self, fd, size, keep=None):
        self.fd, self.n = fd, size
        self.file = io.FileIO(fd, "r+" if keep is None else keep, closefd=False)
        self.keep = []
        self.send, self.recv = self._sender(), self._receiver()  # closures: no attribute look-ups per message

    def touch(self, write=False):
        pass

    def _sender(self):
        write, fd, size = os.write, self.fd, self.n

        def send(mv):
            n = write(fd, mv)                              # C: write(fd, msg, n)
            while n < size:
                n += write(fd, mv[n:])
        return send

    def _receiver(self):
        readinto, size = self.file.readinto, self.n

        def recv(mv):
            got = readinto(mv)                             # C: read(fd, msg, n)
            if got == size:
                return mv
            while got < size:
                if not got:
                    raise PeerGone("the writer closed its end before the end of the run (it died?)")
                more = readinto(mv[got:])
                if not more:
                    raise PeerGone("the writer closed its end before the end of the run (it died?)")
                got += more
            return mv
        return recv



class _Queue:
    """A message queue end: ``send(mv)`` and ``recv() -> (message, priority or type)``.

    Both are the extension's own methods (C-level ``partial`` or a one-line lambda): no Python
    frame of ours per message and no keyword arguments (``PyArg_ParseTupleAndKeywords`` with
    a keyword costs ~0.1 us more per call). The consumer takes the message out of the tuple
    and its ``struct`` unpack of exactly *n* bytes rejects a short one.
    """

    def __init__(self, what, n, send, recv, close=None):
        self.what, self.n, self.send, self.recv, self.close = what, n, send, recv, close or (lambda: None)

    def touch(self, write=False):
        pass


def _map_posix(name, length):
    import posix_ipc
    shm = posix_ipc.SharedMemory(name)                     # C: shm_open(name, O_RDWR, 0)
    m = mmap.mmap(shm.fd, length)                          # C: mmap(NULL, len, PROT_READ|PROT_WRITE, MAP_SHARED, fd, 0)
    shm.close_fd()
    return m


def _posix_sems(spec):
    import posix_ipc
    empty = posix_ipc.Semaphore(spec["empty"])             # C: sem_open(name, 0)
    full = posix_ipc.Semaphore(spec["full"])
    return ((lambda: empty.acquire(WAIT)), empty.release,  # C: sem_timedwait / sem_post
            (lambda: full.acquire(WAIT)), full.release), (empty, full)


class _SysvSemOps:
    """P and V on one semaphore of a set with ``semtimedop``, arguments built once.

    :mod:`ipclab.mechanisms.semset` is the course's general API (it builds the ``sembuf`` array, the
    deadline and the error message on each call); a benchmark's hot path cannot afford that,
    so here the same system call gets prebuilt arguments, as the C twin does.
    """

    def __init__(self, semid):
        import ctypes
        from ipclab.mechanisms import semset
        self.semid, self.ctypes = semid, ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        self.call = libc.semtimedop                        # no argtypes: arguments are prebuilt C objects
        self.call.restype = ctypes.c_int
        self.ts = semset._Timespec(int(WAIT), 0)           # semtimedop's timeout is relative
        self.keep = []

    def op(self, index, delta):
        """A function doing ``semtimedop(id, {index, delta, 0}, 1, &ts)``, retried on EINTR."""
        ctypes = self.ctypes
        from ipclab.mechanisms import semset
        buf = semset._Sembuf(index, delta, 0)
        self.keep.append(buf)
        call, pbuf, pts = self.call, ctypes.byref(buf), ctypes.byref(self.ts)
        semid, one = ctypes.c_int(self.semid), ctypes.c_size_t(1)

        def do():
            while call(semid, pbuf, one, pts):
                e = ctypes.get_errno()
                if e == 4:                                 # EINTR: a signal, retry
                    continue
                if e == 11:                                # EAGAIN: the timeout ran out
                    raise WaitTimeout(f"semtimedop on set {semid.value} (sem {index}, op {delta:+d}) waited "
                                      f"{WAIT:g} s: the peer is stuck or dead")
                raise OSError(e, f"semtimedop on set {semid.value}: {os.strerror(e)} (set removed?)")
        return do


def _sysv_sems(spec):
    ops = _SysvSemOps(spec["semid"])                       # C: semtimedop(id, &(struct sembuf){0,-1,0}, 1, &ts)
    return (ops.op(0, -1), ops.op(0, +1), ops.op(1, -1), ops.op(1, +1)), (ops,)


def open_end(spec, role, size):
    """The endpoint for *role* ('tx' or 'rx') of the mechanism ``spec['transport']`` (an entry of
    :mod:`ipclab.bench.catalog`, handed over by the runner); plus what to close."""
    return spec["transport"].tp_end(spec, role, size)


def _close_all(closers):
    for c in closers:
        try:
            c()
        except Exception:
            pass


# -- throughput ------------------------------------------------------------------------------
def producer(spec, cfg):
    """Send messages of ``cfg['size']`` bytes: warm-up, then ``repeats`` timed phases, then STOP."""
    n = cfg["size"]
    pin(cfg.get("cpu_tx"))
    watchdog(cfg["budget"])
    end, closers = open_end(spec, "tx", n)
    try:
        if isinstance(end, _Ring):
            end.touch(write=True)
            return _ring_producer(end, n, cfg)
        src = pattern(n)                                   # touched: written by randbytes
        mv = memoryview(src)
        end.touch(write=True)
        pack_head, pack_tail, clock = HEAD.pack_into, TAIL.pack_into, time.perf_counter
        send = end.send
        seq, ctrl, phase = 0, DATA, -1
        every, tail_at = 1, n - TAIL.size
        t = clock()
        switch = t + cfg["warmup"]
        while True:
            for _ in range(every):
                pack_head(src, 0, seq, ctrl)
                pack_tail(src, tail_at, seq)
                send(mv)
                seq += 1
                ctrl = DATA
            now = clock()
            if now - t < 0.001 and every < 4096:  # check the clock about once a millisecond
                every *= 2
            t = now
            if now >= switch:
                phase += 1
                if phase == cfg["repeats"]:
                    pack_head(src, 0, seq, STOP)
                    pack_tail(src, tail_at, seq)
                    send(mv)
                    break
                ctrl, switch = MARK, now + cfg["phase"]
        mv.release()
        return {"sent": seq + 1}
    finally:
        disarm()
        _close_all(closers)


def consumer(spec, cfg):
    """Receive and check every message; timestamp phase marks; return marks and check counts."""
    n = cfg["size"]
    pin(cfg.get("cpu_rx"))
    watchdog(cfg["budget"])
    end, closers = open_end(spec, "rx", n)
    try:
        if isinstance(end, _Ring):
            end.touch()
            return _ring_consumer(end, n, cfg, spec["mechanism"])
        ref = pattern(n)
        want_crc = zlib.crc32(memoryview(ref)[HEAD.size:n - TAIL.size])
        dst = bytearray(n)
        dst[:] = ref                                       # touch every page of the buffer
        mv = memoryview(dst)
        end.touch()
        unpack_head, unpack_tail, clock, crc = HEAD.unpack_from, TAIL.unpack_from, time.perf_counter, zlib.crc32
        recv, queue = end.recv, isinstance(end, _Queue)    # a queue returns (message, prio/type)
        unpack = struct.Struct(f"<QQ{n - MIN_SIZE}xQ").unpack_from  # head seq, ctrl, tail seq in one call
        expected, crcs, tail_at, marks = 0, 0, n - TAIL.size, []
        while True:
            m = recv()[0] if queue else recv(mv)
            try:
                seq, ctrl, tail = unpack(m)
            except struct.error:                           # a queue's message shorter than n
                raise IntegrityError(f"{spec['mechanism']}: got {len(m)} bytes, expected {n}") from None
            if seq != expected or tail != seq:
                raise IntegrityError(
                    f"{spec['mechanism']} {n} B: message {expected} arrived as head seq {seq}, "
                    f"tail seq {unpack_tail(m, tail_at)[0]}: lost, reordered or torn")
            if not seq % SAMPLE:
                if crc(memoryview(m)[HEAD.size:tail_at]) != want_crc:
                    raise IntegrityError(f"{spec['mechanism']} {n} B: payload of message {seq} corrupted")
                crcs += 1
            if ctrl:
                marks.append((clock(), seq))
                if ctrl == STOP:
                    break
            expected += 1
        mv.release()
        return {"received": expected + 1, "crc_checked": crcs, "marks": marks}
    finally:
        disarm()
        _close_all(closers)


# -- latency ---------------------------------------------------------------------------------
# Each side of a ping-pong runs one loop with no Python frame per system call (C-level
# ``functools.partial`` of the extensions' methods) and the pinger's clock inside the same
# loop: on one CPU a round trip is serial, so every Python-level step is paid in full.
def _echo(send, recv, what, unwrap=False):
    """(timed, serve, stop) for a byte channel: the ping sends 8 bytes, the pong echoes them.

    ``send(b)`` and ``recv() -> bytes`` are C-level callables (``recv()`` returns a
    ``(bytes, ...)`` tuple when *unwrap*). ``timed(stamps, cap, t_end)`` runs round trips
    until ``perf_counter_ns() >= t_end`` (or *cap* of them), writes the clock at the end of
    round trip *i* into ``stamps[i]`` and returns ``(start, count)``; it checks that each
    answer is its own ping. A short read (the peer closed) shows as an ``IndexError`` on
    the stop-bit test, turned into :class:`PeerGone` outside the loop.
    """
    pack, clock = TAIL.pack, time.perf_counter_ns

    def timed(stamps, cap, t_end):
        start = clock()
        for i in range(cap):
            out = pack(i)
            send(out)                                      # ping ...
            got = recv()                                   # ... and its pong
            if (got[0] if unwrap else got) != out:
                raise IntegrityError(f"{what} ping-pong: the answer is not the ping (or the peer closed)")
            t = clock()
            stamps[i] = t
            if t >= t_end:
                return start, i + 1
        return start, cap

    def serve():
        count = 0
        try:
            while True:
                b = recv()
                if unwrap:
                    b = b[0]
                if b[7] & 0x80:                            # STOP8, little-endian; b'' (EOF): IndexError
                    return count
                send(b)
                count += 1
        except IndexError:
            raise PeerGone(f"{what}: the other end closed (it died?)") from None
    return timed, serve, (lambda: send(pack(STOP8)))


def _handshake(wait, post, ctl):
    """(timed, serve, stop) for a semaphore pair: bare posts and waits, the stop flag in *ctl*.

    ``timed`` is :func:`_echo`'s loop written out again on purpose: one loop calling a
    ``step()`` would cost a Python frame per round trip, the very cost this module removes.
    """
    clock = time.perf_counter_ns

    def timed(stamps, cap, t_end):
        start = clock()
        for i in range(cap):
            post()                                         # ping ...
            wait()                                         # ... and its pong
            t = clock()
            stamps[i] = t
            if t >= t_end:
                return start, i + 1
        return start, cap

    def serve():
        count = 0
        while True:
            wait()
            if ctl[0]:
                return count
            post()
            count += 1

    def stop():
        ctl[0] = 1                                         # seen by the pong after its wait
        post()
    return timed, serve, stop


def pinger(spec, cfg):
    """Time round trips for ``cfg['seconds']`` after ``cfg['warmup']``; return the samples' summary."""
    pin(cfg.get("cpu_tx"))
    watchdog(cfg["budget"])
    timed, _serve, stop, closers = spec["transport"].lat_end(spec, True)
    try:
        import numpy as np
        cap = cfg["max_samples"]
        stamps = array("q", bytes(8 * cap))                  # preallocated and touched
        clock = time.perf_counter_ns
        timed(stamps, cap, clock() + int(cfg["warmup"] * 1e9))           # warm-up, overwritten
        start, count = timed(stamps, cap, clock() + int(cfg["seconds"] * 1e9))
        stop()
        # each round trip: its end stamp minus the previous one (the first: minus the start)
        return _summary(np.diff(np.frombuffer(stamps, dtype=np.int64)[:count], prepend=start))
    finally:
        disarm()
        _close_all(closers)


def ponger(spec, cfg):
    """Answer every ping until the stop message."""
    pin(cfg.get("cpu_rx"))
    watchdog(cfg["budget"])
    _timed, serve, _stop, closers = spec["transport"].lat_end(spec, False)
    try:
        return {"answered": serve()}
    finally:
        disarm()
        _close_all(closers)


def _summary(samples):
    import numpy as np
    a = samples.astype(np.float64) / 1000.0                # nanoseconds -> microseconds
    if not len(a):
        raise IpclabError("no round trip completed in the time given: raise max_seconds")
    q = np.percentile(a, [1, 10, 50, 90, 99])
    edges = np.logspace(np.log10(max(a.min(), 0.1)), np.log10(a.max() * 1.0001), 41)
    edges[0], edges[-1] = min(edges[0], a.min()), max(edges[-1], a.max())  # float round-off
    hist, _ = np.histogram(a, bins=edges)
    return {"count": int(len(a)), "min_us": float(a.min()), "p1_us": float(q[0]), "p10_us": float(q[1]),
            "median_us": float(q[2]), "p90_us": float(q[3]), "p99_us": float(q[4]),
            "max_us": float(a.max()), "mean_us": float(a.mean()),
            "hist": [int(h) for h in hist], "edges_us": [float(e) for e in edges]}


def run_role(role, spec, cfg):
    """The one entry point :mod:`ipclab.core.procs` starts: ``role`` picks the function above."""
    return {"producer": producer, "consumer": consumer, "pinger": pinger, "ponger": ponger}[role](spec, cfg)
