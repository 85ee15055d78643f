"""Hidden tests of lab 4 (teacher only: not in the student release)."""

from ipclab import labkit, objects, procs
from ipclab.tooling.grading.labkit import expect, expect_raises
from ipclab.tooling.grading.labtests.lab4 import (FORMATS, WORKER_TIMEOUT, concurrent_increments, hold, increment,
                                  lock_holder, raw_hold, record_range, wait_for_holder)


@labkit.test("record locks cover exactly the record's bytes, as a C program's fcntl locks do", points=1,
             timeout=40, hint="start = HEADER.size + i * record size, length = record size: not one byte more.")
def exact_ranges(lab, rng):
    count = rng.randint(5, 10)
    i = rng.randrange(1, count - 1)
    with labkit.shared_file(tag="lab4") as path:
        store = lab.Store.create(path, rng.choice(FORMATS), count)
        try:
            start, length = record_range(lab, store, i)
            raw = procs.start(raw_hold, [(path, start, length, 20)], start_method="fork", timeout=WORKER_TIMEOUT,
                              relay=False)
            try:
                wait_for_holder(path, start, length, raw, f"a C-style fcntl lock on record {i}")
                expect_raises(TimeoutError, store.update, f"update({i}) while a plain fcntl lock holds its bytes",
                              i, increment, timeout=0.2)
                for j in (i - 1, i + 1):
                    store.update(j, increment, timeout=1)
            finally:
                raw.kill()
            holder = procs.start(hold, [(path, i, 20)], start_method="fork", timeout=WORKER_TIMEOUT, relay=False)
            try:
                wait_for_holder(path, start, length, holder, f"your lock() on record {i} in another process")
                before = lock_holder(path, start - length, length)
                after = lock_holder(path, start + length, length)
                expect(before == 0 and after == 0, f"your lock on record {i} also covers its neighbours' bytes",
                       *([f"BAD      bytes of record {i - 1} locked too"] if before else []),
                       *([f"BAD      bytes of record {i + 1} locked too"] if after else []))
            finally:
                holder.kill()
        finally:
            store.close()


@labkit.test("6 processes started with spawn, 5-8 records", points=2, timeout=60,
             hint="each process opens the store by its path; nothing is inherited under spawn.")
def spawn_load(lab, rng):
    concurrent_increments(lab, rng, 6, rng.randint(5, 8), 60, "spawn")
