"""ipclab.mechanisms.msgq across real processes: client-server, worker pool, logger, broadcast, blocking and removal."""

import os

import pytest

from ipclab import msgq, objects, procs
from ipclab import msgq_demos as demos

T = 30  # procs timeout: a safety net, never reached when the protocol is right


@pytest.fixture
def q():
    with msgq.queue(note="test") as queue:
        yield queue


def test_clients_get_only_their_own_replies(q, start_method):
    n_clients, n_requests, n_servers = 3, 6, 2
    with procs.start(demos.pool_worker, n=n_servers, args=(q.key, "square"),
                     start_method=start_method, timeout=T) as servers:
        results = procs.run(demos.client, [(q.key, i, n_requests) for i in range(n_clients)],
                            start_method=start_method, timeout=T)
        msgq.send_stop(q, n_servers, timeout=5)
        handled = servers.join()
    assert results == [(n_requests, n_requests)] * n_clients
    assert sum(handled) == n_clients * n_requests
    assert msgq.state(q).messages == 0


def test_pool_run_answers_every_task_once():
    res = demos.pool_run(3, 30, work="square", size=5, start_method="fork", timeout=T, repeats=2)
    assert res["tasks"] == 30 and sum(res["per_worker"]) == 60 and len(res["per_worker"]) == 3
    assert res["per_second"] > 0


def test_logger_drains_most_urgent_first_fifo_within_a_level(q):
    levels = [3, 1, 4, 2, 3, 1]
    procs.run(demos.log_source, [(q.key, f"s{i}", levels) for i in range(3)],
              start_method="fork", timeout=T)
    (got,) = procs.run(demos.logger, [(q.key, 18)], start_method="spawn", timeout=T)
    assert [lv for lv, _ in got] == sorted(levels * 3)
    for level in set(levels):  # within a level: each source's records in the order it sent them
        for s in ("s0", "s1", "s2"):
            seqs = [int(text.split("#")[1]) for lv, text in got if lv == level and text.startswith(s)]
            assert seqs == sorted(seqs) and len(seqs) == levels.count(level)


def test_logger_with_type_zero_keeps_arrival_order(q):
    procs.run(demos.log_source, [(q.key, "only", [3, 1, 2])], start_method="fork", timeout=T)
    (got,) = procs.run(demos.logger, [(q.key, 3, 0)], start_method="fork", timeout=T)
    assert [lv for lv, _ in got] == [3, 1, 2]


def test_one_broadcast_message_reaches_exactly_one_listener(q, start_method):
    with procs.start(demos.naive_listener, n=3, args=(q.key,), start_method=start_method,
                     timeout=T) as group:
        msgq.send(q, b"hello all", type=demos.ANNOUNCE, timeout=5)
        for _ in range(3):
            msgq.send(q, b"", type=demos.STOP, timeout=5)
        got = group.join()
    assert sorted(got) == [0, 0, 1]


def test_one_copy_per_subscriber_reaches_everyone_in_order(q):
    with procs.start(demos.subscriber, n=3, args=(q.key,), start_method="forkserver",
                     timeout=T) as group:
        subs = demos.collect_subscribers(q, 3, timeout=T)
        assert sorted(subs) == sorted(group.pids)
        for word in ("one", "two", "three"):
            demos.publish(q, subs, word.encode())
        demos.publish(q, subs, b"STOP")
        got = group.join()
    assert got == [["one", "two", "three"]] * 3


@pytest.mark.parametrize("size", [3 * msgq.frame_capacity() + 17, 100_000])
def test_framed_payload_larger_than_the_queue_crosses_with_a_reader(q, size):
    payload = os.urandom(size)
    with procs.start(demos.framed_echo, [(q.key, 11, 12)], start_method="fork", timeout=T) as g:
        msgq.send_framed(q, payload, type=11, timeout=20)
        back = msgq.receive_framed(q, type=12, timeout=20)
        assert g.join() == [size]
    assert back == payload


def test_blocked_sender_proceeds_when_a_reader_takes_a_message(q):
    msgq.set_max_bytes(q, 100)
    msgq.send(q, b"a" * 80, type=1, timeout=5)
    with procs.start(demos.timed_receiver, [(q.key, 1, 20)], start_method="fork", timeout=T) as g:
        msgq.send(q, b"b" * 80, type=2, timeout=20)  # waits for room until the child's msgrcv
        (outcome,) = g.join()
    assert outcome == ("got", b"a" * 80, 1)
    st = msgq.state(q)
    assert st.last_receive_pid == g.pids[0] and st.messages == 1


def test_reader_on_empty_queue_times_out(q):
    (outcome,) = procs.run(demos.timed_receiver, [(q.key, 7, 0.3)], start_method="fork", timeout=T)
    assert outcome == ("timeout", None, None)


@pytest.mark.parametrize("worker", [demos.raw_blocking_receiver, demos.timed_receiver])
def test_removing_the_queue_wakes_a_waiting_reader(worker):
    q = objects.create_sysv_msg(max_message_size=msgq.limits().msgmax)
    try:
        args = (q.key,) if worker is demos.raw_blocking_receiver else (q.key, 0, 20)
        with procs.start(worker, [args], start_method="fork", timeout=T) as g:
            demos.blocked_in_syscall(g.pids[0], "msgrcv", timeout=5)
            objects.remove_sysv(q)
            (outcome,) = g.join()
    finally:
        objects.remove_sysv(q)
    assert outcome[0] == "removed"


def test_blocked_in_syscall_sees_a_sleeping_msgrcv(q):
    with procs.start(demos.raw_blocking_receiver, [(q.key,)], start_method="fork", timeout=T) as g:
        seen = demos.blocked_in_syscall(g.pids[0], "msgrcv", timeout=10)
        msgq.send(q, b"wake up", type=1, timeout=5)
        assert g.join() == [("got", b"wake up", 1)]
    if os.uname().machine in ("x86_64", "aarch64") and os.access("/proc/self/syscall", os.R_OK):
        assert seen
