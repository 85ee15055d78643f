"""Seeded fault injection: SIGKILL a participant at a random moment, check the survivors.

For each scenario and seed: start real processes on real objects, kill one of them after a
random delay drawn from ``random.Random(seed)``, let the others run to their end, then check

* every survivor finished, or stopped with a timeout whose message says what it waited for;
* no process is left (procs reaps them all) and no object (the leak check around each test);
* where the course promises delivery, nothing delivered is lost or duplicated.

About 200 injections by default; ``IPCLAB_FAULTS=5`` runs five times as many seeds. A
failure names its seed: ``pytest tests/test_fault_injection.py -k "ring_producer and 17"``
replays it.
"""

import os
import random
import signal
import time

import pytest

import workers_faults as wf
from ipclab import msgq, objects, procs, semset, shm
from ipclab.mechanisms.records import RecordStore

SCALE = int(os.environ.get("IPCLAB_FAULTS", "1"))
METHODS = ["fork", "fork", "forkserver", "fork", "spawn"]  # mostly fork: fast; all three covered


def seeds(n):
    return range(n * SCALE)


def method(seed):
    return METHODS[seed % len(METHODS)]


def inject(group, victim, rng, window):
    """Kill worker *victim* after a random delay in [0, window) s; return the delay."""
    delay = rng.uniform(0, window)
    time.sleep(delay)
    try:
        os.kill(group.pids[victim], signal.SIGKILL)
    except ProcessLookupError:
        pass  # it had already finished: a legitimate draw
    return delay


def clear_timeout(message):
    return message is None or ("waited" in message and ("alive" in message or "died" in message
                                                        or "held" in message or "nobody" in message
                                                        or "no " in message or "?" in message))


def check_ring(ring, n_items, received):
    flat = [x for got in received for x in got]
    assert len(flat) == len(set(flat)), "an item was delivered twice"
    assert set(flat) <= set(range(n_items))
    assert all(a < b for got in received for a, b in zip(got, got[1:])), "a consumer saw items out of order"
    return flat


def start_ring(ring, n_items, seed):
    """One producer (worker 0) and two consumers (1, 2) on *ring*; survivors time out after 1 s."""
    return procs.start(wf.role, [("ring_producer", ring.spec, n_items, 2, 1.0),
                                 ("ring_consumer", ring.spec, 1.0), ("ring_consumer", ring.spec, 1.0)],
                       start_method=method(seed), timeout=30)


@pytest.mark.parametrize("seed", seeds(45))
def test_ring_producer_killed(seed):
    rng = random.Random(seed)
    n_items = 300
    with shm.RingBuffer.create(capacity=8, slot_size=16, tag="fi") as ring:
        group = start_ring(ring, n_items, seed)
        inject(group, 0, rng, 0.08)
        out = group.join(fail_fast=False, raise_errors=False)
        assert all(kind == "ok" for kind, *_ in out[1:]), out
        received = [o[1][0] for o in out[1:]]
        errors = [o[1][1] for o in out[1:]]
        assert all(clear_timeout(e) for e in errors), errors
        flat = check_ring(ring, n_items, received)
        put, got = ring.counts()
        if not any(e and "mutex" in e for e in errors):  # the producer did not die holding the lock
            eofs = sum(e is None for e in errors)  # each consumer that ended normally got one EOF record
            assert got == len(flat) + eofs, "an item taken from the ring never reached a consumer"
            assert put - got == len(ring), "items put are neither delivered nor waiting in the ring"
        if out[0][0] == "ok":  # the kill came too late: everything must have arrived
            assert sorted(flat) == list(range(n_items))


@pytest.mark.parametrize("seed", seeds(35))
def test_ring_consumer_killed(seed):
    rng = random.Random(seed)
    n_items = 300
    with shm.RingBuffer.create(capacity=8, slot_size=16, tag="fi") as ring:
        group = start_ring(ring, n_items, seed)
        inject(group, 2, rng, 0.08)
        out = group.join(fail_fast=False, raise_errors=False)
        assert out[0][0] == "ok" and out[1][0] == "ok", out
        producer, (got, error) = out[0][1], out[1][1]
        assert clear_timeout(producer[1] if producer[0] == "timeout" else None), producer
        assert clear_timeout(error), error
        check_ring(ring, n_items, [got])
        if out[2][0] == "ok" and producer[0] == "done":  # nobody died after all
            assert sorted(got + out[2][1][0]) == list(range(n_items))


@pytest.mark.parametrize("seed", seeds(35))
def test_semaphore_holder_killed(seed):
    rng = random.Random(seed)
    undo = seed % 4 != 3  # mostly SEM_UNDO (the promise); a quarter without, to see the difference
    with semset.create(2, [1, 0]) as s:
        group = procs.start(wf.role, [("sem_holder", s.id, undo, 0.3), ("sem_waiter", s.id, 1.5),
                                      ("sem_waiter", s.id, 1.5)], start_method=method(seed), timeout=30)
        inject(group, 0, rng, 0.35)
        out = group.join(fail_fast=False, raise_errors=False)
        died_holding = out[0][0] == "killed" and s.getval(1) == 1
        for kind, (verdict, message) in out[1:]:
            assert kind == "ok"
            if undo:
                assert verdict == "got it", f"SEM_UNDO did not give the unit back: {message}"
            elif verdict == "timeout":  # possible only if the holder died with the unit
                assert died_holding and "waited" in message and "holds" in message, message
        if died_holding and not undo:
            assert s.getall() == [0, 1], "without SEM_UNDO the dead holder's unit stays taken"
        if undo:
            assert s.getall() == [1, 0], "SEM_UNDO must restore both semaphores of the atomic op"


@pytest.mark.parametrize("seed", seeds(30))
def test_pool_worker_killed(seed):
    rng = random.Random(seed)
    with msgq.queue(note="fi pool") as q:
        group = procs.start(wf.role, [("pool_server", q.key, 1.0), ("pool_server", q.key, 1.0),
                                      ("rpc_client", q.key, 1, 40, 1.0)],
                            start_method=method(seed), timeout=30)
        inject(group, rng.randrange(2), rng, 0.1)
        out = group.join(fail_fast=False, raise_errors=False)
        assert out[2][0] == "ok", out
        replies, error = out[2][1]
        assert all(r == i * i for i, r in replies), "a reply was wrong"
        assert [i for i, _ in replies] == list(range(1, len(replies) + 1)), "a reply was lost or duplicated"
        assert clear_timeout(error) or "reply" in (error or ""), error
        for kind, *rest in out[:2]:
            assert kind in ("ok", "killed"), out


@pytest.mark.parametrize("seed", seeds(30))
def test_message_queue_client_killed(seed):
    rng = random.Random(seed)
    with msgq.queue(note="fi rpc") as q:
        clients = [("rpc_client", q.key, 1000 * k + 1, 15, 2.0) for k in range(3)]
        group = procs.start(wf.role, [("pool_server", q.key, 1.0)] + clients,
                            start_method=method(seed), timeout=30)
        victim = 1 + rng.randrange(3)
        inject(group, victim, rng, 0.1)
        out = group.join(fail_fast=False, raise_errors=False)
        assert out[0][0] == "ok" and out[0][1][0] in ("stopped", "timeout"), out[0]
        for k, o in enumerate(out[1:], 1):
            if k == victim and o[0] == "killed":
                continue
            replies, error = o[1]
            assert error is None, f"a surviving client failed: {error}"
            assert replies == [(i, i * i) for i in range(1000 * (k - 1) + 1, 1000 * (k - 1) + 16)]


@pytest.mark.parametrize("seed", seeds(25))
def test_mapping_writer_killed(seed):
    rng = random.Random(seed)
    with objects.course_file(tag="fi") as path:
        RecordStore.create(path, "<4q", 1).close()
        group = procs.start(wf.role, [("record_writer", path, k, 150, 2.0) for k in (1, 2, 3)],
                            start_method=method(seed), timeout=30)
        victim = rng.randrange(3)
        inject(group, victim, rng, 0.1)
        out = group.join(fail_fast=False, raise_errors=False)
        with RecordStore.open(path) as store:
            total, *counts = store.read(0)
        assert total == sum(counts), "an increment was lost or torn (total != sum of writers' counts)"
        for k, o in enumerate(out):
            if k != victim or o[0] == "ok":
                assert o == ("ok", ("done", 150)), f"a survivor did not finish: {o}"
                assert counts[k] == 150
