"""Workers for the fault-injection suite: each tolerates its peers' deaths and reports.

A survivor never hangs: it either finishes or returns what it had when a timeout told it
that a peer was gone (the timeout message is returned, so the test can check it is clear).
"""

import time

from ipclab import msgq, semset, shm, shm_demos
from ipclab.core.errors import WaitTimeout
from ipclab.mechanisms.records import RecordStore


def role(name, *args):
    """Dispatch: one process group can mix producers, consumers, holders and waiters."""
    return ROLES[name](*args)


def ring_producer(spec, n_items, n_consumers, timeout):
    try:
        return ("done", shm_demos.produce(spec, n_items, n_consumers, timeout=timeout))
    except WaitTimeout as e:
        return ("timeout", str(e))


def ring_consumer(spec, timeout):
    got = []
    with shm.RingBuffer.attach(spec) as ring:
        while True:
            try:
                data = ring.get(timeout=timeout)
            except WaitTimeout as e:
                return (got, str(e))
            if data == shm_demos.EOF:
                return (got, None)
            got.append(shm_demos.ITEM.unpack(data)[0])


def sem_holder(semid, undo, hold):
    """Take semaphore 0 and mark 'holding' on semaphore 1 in one atomic semop, then hold it."""
    s = semset.attach(semid)
    flags = semset.SEM_UNDO if undo else 0
    s.op([(0, -1, flags), (1, +1, flags)], timeout=5)
    time.sleep(hold)
    s.op([(0, +1, flags), (1, -1, flags)], timeout=5)
    return "released"


def sem_waiter(semid, timeout):
    s = semset.attach(semid)
    try:
        s.acquire(0, timeout=timeout)
    except WaitTimeout as e:
        return ("timeout", str(e))
    s.release(0)
    return ("got it", None)


def pool_server(key, idle_timeout):
    q = msgq.attach(key)
    try:
        return ("stopped", msgq.serve(q, lambda body: str(int(body) ** 2).encode(), idle_timeout=idle_timeout))
    except WaitTimeout as e:
        return ("timeout", str(e))


def rpc_client(key, first_id, n, timeout):
    """Make *n* calls one after the other; return the replies (as ints) and an error or None."""
    q = msgq.attach(key)
    out = []
    try:
        for i in range(first_id, first_id + n):
            out.append((i, int(msgq.call(q, str(i).encode(), request_id=i, timeout=timeout))))
    except WaitTimeout as e:
        return (out, str(e))
    return (out, None)


def record_writer(path, slot, n, timeout):
    """*n* locked increments of the total and of this writer's own count, in one record."""
    store = RecordStore.open(path)
    try:
        for _ in range(n):
            store.update(0, lambda r: (r[0] + 1,) + tuple(v + (k == slot) for k, v in enumerate(r[1:], 1)),
                         timeout=timeout)
    except WaitTimeout as e:
        return ("timeout", str(e))
    finally:
        store.close()
    return ("done", n)


ROLES = {f.__name__: f for f in (ring_producer, ring_consumer, sem_holder, sem_waiter,
                                  pool_server, rpc_client, record_writer)}
