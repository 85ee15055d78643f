"""Hidden tests of lab 9 (teacher only: not in the student release)."""

import contextlib
import threading
import time

import sysv_ipc

from ipclab import labkit
from ipclab.tooling.grading.labkit import expect, expect_equal
from ipclab.tooling.grading.labtests.lab9 import (MASK, SLOW_WRITER, cpus, kernel_words, shm_row, under_load,
                                                  values)


@labkit.test("spawn: more reader processes than CPUs, values at the 64-bit edge (total wraps)", points=2,
             timeout=50, hint="spawned processes inherit nothing: they attach by the handle (shmid); total is "
                              "(x + y) mod 2**64.")
def spawn_edge_load(lab, rng):
    under_load(lab, rng, cpus() + 1, values(rng, 10, edge=True), "spawn",
               f"{cpus() + 1} spawned reader processes on {cpus()} CPUs")


@labkit.test("a writer killed in the middle of a write: readers time out, never return half a record", points=1,
             timeout=30, hint="a write that never ends leaves seq odd for ever: read() must keep refusing it "
                              "and raise TimeoutError at its timeout.")
def writer_dies_mid_write(lab, rng):
    (x1, y1), (x2, y2) = values(rng, 2)
    rec = lab.SeqRecord.create()
    handle = rec.handle
    try:
        rec.write(x1, y1)
        with kernel_words(handle) as words:
            labkit.slow_student(SLOW_WRITER * 5)       # 100 ms a line: the write is caught half-way
            crashed = {}

            def write():
                try:
                    rec.write(x2, y2)
                except Exception as e:  # noqa: BLE001 - the writer's process is killed under it
                    crashed["e"] = type(e).__name__
            t = threading.Thread(target=write, daemon=True)
            t.start()
            end = time.monotonic() + 10
            while words[0] % 2 == 0 and time.monotonic() < end:
                time.sleep(0.001)
            expect(words[0] % 2 == 1, "write() never made seq odd (slowed to 100 ms a line)")
            labkit.kill_student()                         # the writer dies holding the write open
            t.join(10)
            seq = words[0]
        expect(seq == 3, f"the killed writer left seq = {seq}; expected 3 (odd: its write never ended)")
        try:
            got = labkit.student().SeqRecord.attach(handle).read(timeout=0.5)   # a new process of the student's code
        except TimeoutError:
            got = None
        expect(got is None, "read() returned a record that a dead writer left half-written (seq odd)",
               f"BAD      read(timeout=0.5) returned {labkit._show(got, 60)}",
               "GOOD     TimeoutError: an odd seq never becomes stable")
        row = shm_row(handle)
        expect_equal(1, row["nattch"], "nattch after the writer's death (the new reader's attachment only)")
    finally:
        with contextlib.suppress(sysv_ipc.Error):
            sysv_ipc.remove_shared_memory(handle)   # the owner died with its process: the test removes it
