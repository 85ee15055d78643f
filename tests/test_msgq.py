"""ipclab.mechanisms.msgq in one process: the three receive filters, timeouts, limits, records, framing, state."""

import os
import shutil
import struct
import subprocess
import time

import pytest
import sysv_ipc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ipclab import msgq, objects
from ipclab.core.errors import BadArgument, IpclabError, LimitReached, ObjectGone, WaitTimeout

LIM = msgq.limits()


@pytest.fixture
def q():
    with msgq.queue(note="test") as queue:
        yield queue


def model_receive(pending, mtype):
    """What msgrcv(2) must return from *pending* (a list of (data, type) in send order)."""
    if mtype == 0:
        candidates = pending[:1]
    elif mtype > 0:
        candidates = [m for m in pending if m[1] == mtype][:1]
    else:
        fit = [m for m in pending if m[1] <= -mtype]
        candidates = [min(fit, key=lambda m: m[1])] if fit else []  # min: first of lowest type
    if candidates:
        pending.remove(candidates[0])
        return candidates[0]
    return None


def fill(q, sent):
    for data, t in sent:
        msgq.send(q, data, type=t, timeout=5)


SAMPLE = [(b"c1", 3), (b"a1", 1), (b"b1", 2), (b"a2", 1), (b"c2", 3), (b"b2", 2)]


def test_type_zero_takes_messages_in_send_order(q):
    fill(q, SAMPLE)
    assert [msgq.receive(q, type=0, timeout=5) for _ in SAMPLE] == SAMPLE


def test_positive_type_takes_only_that_type_fifo_and_leaves_the_rest(q):
    fill(q, SAMPLE)
    assert [msgq.receive(q, type=2, timeout=5) for _ in range(2)] == [(b"b1", 2), (b"b2", 2)]
    assert msgq.try_receive(q, type=2) is None
    assert msgq.drain(q) == [m for m in SAMPLE if m[1] != 2]


def test_negative_type_takes_lowest_type_first_up_to_the_bound(q):
    fill(q, SAMPLE)
    got = [msgq.receive(q, type=-2, timeout=5) for _ in range(4)]
    assert got == [(b"a1", 1), (b"a2", 1), (b"b1", 2), (b"b2", 2)]
    assert msgq.try_receive(q, type=-2) is None  # type 3 is above the bound
    assert msgq.drain(q, type=-3) == [(b"c1", 3), (b"c2", 3)]


@settings(max_examples=40, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sent=st.lists(st.integers(1, 5), max_size=12),
       filters=st.lists(st.integers(-6, 6), max_size=15))
def test_kernel_filtering_matches_the_manual_page(q, sent, filters):
    msgq.drain(q)
    pending = [(f"m{i}".encode(), t) for i, t in enumerate(sent)]
    fill(q, pending)
    for f in filters:
        assert msgq.try_receive(q, type=f) == model_receive(pending, f)
    assert msgq.drain(q) == pending


def test_priorities_with_a_large_type_space(q):
    levels = [7, 1, 1000, 3, 2**31 - 1, 1, 42]
    fill(q, [(str(t).encode(), t) for t in levels])
    got = [msgq.receive(q, type=-msgq.TYPE_MAX, timeout=5)[1] for _ in levels]
    assert got == sorted(levels)


def test_receive_on_empty_queue_times_out_and_says_what_waited(q):
    msgq.send(q, b"other", type=9, timeout=5)
    t0 = time.monotonic()
    with pytest.raises(WaitTimeout) as info:
        msgq.receive(q, type=4, timeout=0.3)
    assert time.monotonic() - t0 >= 0.3
    msg = str(info.value)
    assert f"queue key 0x{q.key:08x}" in msg and "type 4" in msg and "1 message(s) of other types" in msg
    assert isinstance(info.value, TimeoutError)
    assert msgq.try_receive(q) == (b"other", 9)


def test_full_queue_send_times_out_then_succeeds_after_a_receive(q):
    msgq.set_max_bytes(q, 100)
    assert msgq.state(q).max_bytes == 100
    msgq.send(q, b"x" * 60, type=1, timeout=5)
    assert msgq.try_send(q, b"y" * 60) is False
    with pytest.raises(WaitTimeout, match=r"full .*60 of 100 bytes"):
        msgq.send(q, b"y" * 60, type=2, timeout=0.2)
    assert msgq.receive(q, timeout=5) == (b"x" * 60, 1)
    msgq.send(q, b"y" * 60, type=2, timeout=5)
    assert msgq.state(q).messages == 1


@pytest.mark.parametrize("bad", [0, -1, 2**31, True, 1.5, "1"])
def test_send_refuses_types_that_msgsnd_refuses(q, bad):
    with pytest.raises(BadArgument, match="type"):
        msgq.send(q, b"x", type=bad, timeout=1)


@pytest.mark.parametrize("bad", [2**31, -(2**31), 0.5, None])
def test_receive_refuses_filters_out_of_range(q, bad):
    with pytest.raises(BadArgument, match="filter"):
        msgq.receive(q, type=bad, timeout=1)


@pytest.mark.parametrize("timeout", [None, 0, -1, "1", True])
def test_every_wait_needs_a_positive_timeout(q, timeout):
    with pytest.raises(BadArgument, match="timeout"):
        msgq.receive(q, timeout=timeout)
    with pytest.raises(BadArgument, match="timeout"):
        msgq.send(q, b"x", timeout=timeout)


def test_message_over_msgmax_is_refused_with_the_limit_named(q):
    msgq.send(q, b"m" * LIM.msgmax, timeout=5)  # exactly msgmax is fine
    assert len(msgq.receive(q, timeout=5)[0]) == LIM.msgmax
    with pytest.raises(LimitReached, match=rf"msgmax = {LIM.msgmax}.*send_framed"):
        msgq.send(q, b"m" * (LIM.msgmax + 1), timeout=5)


def test_message_over_queue_capacity_is_refused_not_waited_for(q):
    msgq.set_max_bytes(q, 64)
    with pytest.raises(LimitReached, match="never fit"):
        msgq.send(q, b"z" * 65, timeout=5)


def test_str_and_non_buffers_are_refused(q):
    with pytest.raises(BadArgument, match="encode"):
        msgq.send(q, "text", timeout=1)
    with pytest.raises(BadArgument, match="bytes"):
        msgq.send(q, 12, timeout=1)


def test_removed_queue_raises_object_gone_everywhere():
    q = objects.create_sysv_msg(max_message_size=LIM.msgmax)
    objects.remove_sysv(q)
    for op in (lambda: msgq.send(q, b"x", timeout=1), lambda: msgq.receive(q, timeout=1),
               lambda: msgq.try_receive(q), lambda: msgq.state(q), lambda: msgq.set_max_bytes(q, 100),
               lambda: msgq.attach(q.key)):
        with pytest.raises(ObjectGone, match="removed"):
            op()


def test_short_receive_buffer_is_explained_and_the_message_kept(q):
    small = sysv_ipc.MessageQueue(q.key, max_message_size=16)  # msgget(key, 0): not a new object
    msgq.send(q, b"x" * 100, timeout=5)
    with pytest.raises(LimitReached, match="E2BIG"):
        msgq.receive(small, timeout=1)
    assert msgq.state(q).messages == 1
    assert msgq.receive(msgq.attach(q.key), timeout=5) == (b"x" * 100, 1)


def test_state_counts_messages_and_bytes_and_names_the_sender(q):
    assert msgq.state(q).last_send_time == 0
    fill(q, [(b"abc", 1), (b"", 2), (b"12345", 3)])
    st = msgq.state(q)
    assert (st.messages, st.bytes, st.last_send_pid, st.last_receive_pid) == (3, 8, os.getpid(), 0)
    assert st.max_bytes == LIM.msgmnb and st.mode == 0o600 and st.id == q.id
    msgq.receive(q, type=3, timeout=5)
    st = msgq.state(q)
    assert (st.messages, st.bytes, st.last_receive_pid) == (2, 3, os.getpid())
    assert "messages: 2, bytes: 3 of max" in msgq.format_state(st)


@pytest.mark.skipif(not shutil.which("ipcs"), reason="no ipcs")
def test_ipcs_shows_the_same_counts(q):
    fill(q, [(b"hello", 1), (b"world!", 1)])
    line = msgq.ipcs_q(q).splitlines()[-1].split()
    assert line[1] == str(q.id) and line[-2:] == ["11", "2"]


def test_cannot_raise_capacity_beyond_privilege_with_a_clear_error(q):
    try:
        msgq.set_max_bytes(q, LIM.msgmnb * 4)
    except LimitReached as e:
        assert "msgmnb" in str(e)
    else:  # privileged (CAP_SYS_RESOURCE): the kernel allowed it
        assert msgq.state(q).max_bytes == LIM.msgmnb * 4
    with pytest.raises(BadArgument):
        msgq.set_max_bytes(q, 0)


# -- records ---------------------------------------------------------------------------

LOG = msgq.Record("log", "i pid; i seq; d time; 48s text")


def test_record_round_trip_through_the_queue(q):
    msgq.send(q, LOG.pack(os.getpid(), 7, 1.5, "disk full"), type=2, timeout=5)
    data, t = msgq.receive(q, timeout=5)
    rec = LOG.unpack(data)
    assert (t, rec.pid, rec.seq, rec.time, rec.text) == (2, os.getpid(), 7, 1.5, b"disk full")
    assert LOG.size == struct.calcsize("@iid48s") == 64


def test_record_errors_say_what_is_wrong():
    with pytest.raises(BadArgument, match="disagree"):
        LOG.unpack(b"\0" * 10)
    with pytest.raises(BadArgument, match="layout"):
        msgq.Record("bad", "i")
    with pytest.raises(BadArgument, match="cannot pack"):
        LOG.pack(2**40, 0, 0.0, "x")


C_SENDER = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/msg.h>
struct log_record { int pid; int seq; double time; char text[48]; };
struct message { long mtype; struct log_record rec; };
int main(int argc, char **argv) {
    (void)argc;                                  /* -Wextra: unused parameter */
    struct message m = { .mtype = 3 };
    m.rec.pid = 4242; m.rec.seq = 9; m.rec.time = 2.25;
    strcpy(m.rec.text, "from C");
    printf("%zu\n", sizeof m.rec);
    return msgsnd(atoi(argv[1]), &m, sizeof m.rec, 0) == 0 ? 0 : 1;
}
"""


@pytest.mark.skipif(not shutil.which("gcc"), reason="no gcc")
def test_record_matches_the_c_struct_a_c_program_sends(q, tmp_path):
    (tmp_path / "send.c").write_text(C_SENDER)
    from ipclab.core import cbuild
    exe = cbuild.build([tmp_path / "send.c"], "send")
    out = subprocess.run([str(exe), str(q.id)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and int(out.stdout) == LOG.size
    data, t = msgq.receive(q, timeout=5)
    assert t == 3 and LOG.unpack(data) == LOG.tuple(4242, 9, 2.25, b"from C")


# -- framing ------------------------------------------------------------------------------

CAP = msgq.frame_capacity()


@pytest.mark.parametrize("size", [0, 1, CAP - 1, CAP, CAP + 1, LIM.msgmax, 2 * CAP])
def test_framed_round_trip_in_one_process(q, size):
    payload = os.urandom(size)
    n = msgq.send_framed(q, payload, type=5, timeout=5)
    assert n == max(1, -(-size // CAP))
    assert all(len(f) <= LIM.msgmax for f in msgq.frames(payload))
    assert msgq.receive_framed(q, type=5, timeout=5) == payload
    assert msgq.state(q).messages == 0


def test_framed_payload_larger_than_the_queue_times_out_without_a_reader(q):
    with pytest.raises(WaitTimeout, match="full"):
        msgq.send_framed(q, os.urandom(3 * CAP), type=5, timeout=0.3)
    msgq.drain(q)


def test_broken_framing_is_detected(q):
    a, b = msgq.frames(os.urandom(CAP + 10)), msgq.frames(os.urandom(CAP + 10))
    msgq.send(q, a[0], type=5, timeout=5)
    msgq.send(q, b[1], type=5, timeout=5)
    with pytest.raises(msgq.FramingError, match="share type 5"):
        msgq.receive_framed(q, type=5, timeout=5)
    msgq.send(q, b"tiny", type=6, timeout=5)
    with pytest.raises(msgq.FramingError, match="not a frame"):
        msgq.receive_framed(q, type=6, timeout=5)
    with pytest.raises(BadArgument, match="exact type"):
        msgq.receive_framed(q, type=0, timeout=5)


# -- request / reply in one process ------------------------------------------------------

def test_request_reply_addressed_by_pid(q):
    msgq.send_request(q, b"ping", request_id=3, timeout=5)
    req = msgq.receive_request(q, timeout=5)
    assert req == msgq.Request(os.getpid(), 3, b"ping")
    msgq.send_reply(q, req, b"pong", timeout=5)
    assert msgq.state(q).messages == 1
    assert msgq.receive_reply(q, request_id=3, timeout=5) == b"pong"


def test_serve_answers_until_stop(q):
    for i in range(3):
        msgq.send_request(q, bytes([i]), request_id=i, timeout=5)
    msgq.send_stop(q)
    assert msgq.serve(q, lambda body: body * 2, idle_timeout=5) == 3
    assert msgq.receive_replies(q, 3, timeout=5) == {0: b"\0\0", 1: b"\1\1", 2: b"\2\2"}


def test_request_reply_errors(q):
    with pytest.raises(BadArgument, match="reply_type"):
        msgq.send_request(q, b"", reply_type=msgq.REQUEST_TYPE, timeout=5)
    with pytest.raises(BadArgument, match="type"):
        msgq.send_request(q, b"", reply_type=-5, timeout=5)
    msgq.send_reply(q, msgq.Request(os.getpid(), 8, b""), b"late", timeout=5)
    with pytest.raises(IpclabError, match="reply to request 8 arrived while waiting for 9"):
        msgq.receive_reply(q, request_id=9, timeout=5)
    with pytest.raises(WaitTimeout, match=f"type {os.getpid()}"):
        msgq.call(q, b"nobody serves", timeout=0.2)
    msgq.drain(q)


def test_describe_filter_names_the_three_cases():
    assert "any type" in msgq.describe_filter(0)
    assert "of type 4" in msgq.describe_filter(4)
    assert "lowest-type" in msgq.describe_filter(-4) and "<= 4" in msgq.describe_filter(-4)
