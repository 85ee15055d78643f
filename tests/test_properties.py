"""Property-based tests (hypothesis) on real kernel objects: framing and ring-buffer order.

Hypothesis draws the inputs (payload sizes around msgmax, interleavings of put and get);
the kernel objects are real. Derandomised so CI is reproducible; a failure prints the
smallest example hypothesis found.
"""

import collections
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ipclab import msgq, shm
from ipclab.core.errors import WaitTimeout

SETTINGS = settings(max_examples=30, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
CAP = msgq.frame_capacity()


@pytest.fixture(scope="module")
def queue():
    with msgq.queue(note="property") as q:
        yield q


def payload_sizes():
    """Sizes that matter: empty, around one frame, around several frames, and anything between."""
    edges = st.sampled_from([0, 1, CAP - 1, CAP, CAP + 1, 2 * CAP, 2 * CAP + 1, 3 * CAP - 1])
    return st.one_of(edges, st.integers(0, 3 * CAP))


@SETTINGS
@given(sizes=st.lists(payload_sizes(), min_size=1, max_size=4), seed=st.integers(0, 2**32 - 1))
def test_framing_round_trips_any_payloads_in_order(queue, sizes, seed):
    """send_framed/receive_framed: every payload arrives whole, byte for byte, in order.

    Payloads of several frames do not fit in the queue at once (msgmnb), so a reader thread
    drains it while the writer sends: the real blocking path, with timeouts.
    """
    msgq.drain(queue)
    payloads = [bytes((seed + i * 31 + j) % 256 for j in range(n)) for i, n in enumerate(sizes)]
    got, errors = [], []

    def reader():
        try:
            for _ in payloads:
                got.append(msgq.receive_framed(queue, type=7, timeout=20))
        except Exception as e:  # reported below, in the test's own thread
            errors.append(e)

    t = threading.Thread(target=reader)
    t.start()
    frames = [msgq.send_framed(queue, p, type=7, timeout=20) for p in payloads]
    t.join(timeout=30)
    assert not t.is_alive() and not errors, errors
    assert got == payloads
    assert frames == [max(1, -(-len(p) // CAP)) for p in payloads]
    assert msgq.try_receive(queue) is None  # nothing left over


OPS = st.lists(st.one_of(st.tuples(st.just("put"), st.binary(max_size=12)), st.just(("get",))), max_size=60)


@SETTINGS
@given(capacity=st.integers(1, 6), ops=OPS)
def test_ring_buffer_is_a_bounded_fifo(capacity, ops):
    """Any interleaving of put/get behaves like a bounded deque: same order, nothing lost or repeated.

    A put on a full ring and a get on an empty one must time out (not block, not succeed).
    """
    model = collections.deque()
    with shm.RingBuffer.create(capacity=capacity, slot_size=12, tag="prop") as ring:
        for op in ops:
            if op[0] == "put":
                if len(model) == capacity:
                    with pytest.raises(WaitTimeout):
                        ring.put(op[1], timeout=0.01)
                else:
                    ring.put(op[1], timeout=1)
                    model.append(op[1])
            elif model:
                assert ring.get(timeout=1) == model.popleft()
            else:
                with pytest.raises(WaitTimeout):
                    ring.get(timeout=0.01)
            assert len(ring) == len(model)
        assert [ring.get(timeout=1) for _ in range(len(model))] == list(model)
        put, got = ring.counts()
        assert put - got == 0
