"""Behaviour behind the corrections of notebooks 03-06 (issue 17): each test asserts what the text now says.

Real processes on real kernel objects, no timing assertions. Sources are cited in the notebooks;
each test names the claim it backs.
"""

import mmap
import os
import signal

import posix_ipc
import pytest

from ipclab import objects, procs
from ipclab.core.errors import BadArgument
from ipclab.experiments import mmap_demos, queue_pitfalls, random_reads
from ipclab.experiments.msgq_demos import blocked_in_syscall
from ipclab.mechanisms import mapping, msgq, page_stats
from ipclab.mechanisms.mapping import PAGE

MQ_TIMEDRECEIVE = {"x86_64": 243, "aarch64": 183}.get(os.uname().machine)


# -- 05 §6: a reused mapping against a fresh one (structure, not timing) ------------------

def test_reused_mapping_is_resident_and_faults_nothing_a_fresh_one_starts_empty():
    with objects.course_file(64 * PAGE, tag="reuse") as path:
        mmap_demos.make_data_file(path, 64 * PAGE)
        s = random_reads.reuse_structure(path, nrandom=300, record=64)
    fresh, reused = s["fresh"], s["reused"]
    assert fresh["rss_before_kib"] == 0, "a new mapping has nothing in its page tables"
    assert fresh["minor"] > 0 and fresh["rss_after_kib"] >= s["distinct_pages"] * PAGE // 1024
    assert reused["rss_before_kib"] == reused["rss_after_kib"] == fresh["rss_after_kib"]
    assert reused["minor"] < fresh["minor"]
    assert fresh["checksum"] == reused["checksum"]


def test_random_reads_rows_read_the_same_bytes_by_every_method():
    with objects.course_file(256 * PAGE, tag="rr") as path:
        mmap_demos.make_data_file(path, 256 * PAGE)
        res = random_reads.random_reads(path, nrandom=200, repeats=1)
    methods = {(r["cache"], r["method"]) for r in res["rows"]}
    assert ("warm", "mmap, mapping reused") in methods and ("warm", "mmap, fresh mapping per run") in methods
    assert len({r["checksum"] for r in res["rows"]}) == 1
    reused = next(r for r in res["rows"] if r["method"] == "mmap, mapping reused")
    fresh = next(r for r in res["rows"] if r["method"] == "mmap, fresh mapping per run")
    assert reused["minor"] < fresh["minor"], "the fresh mapping faults its pages in again on every run"


# -- 05 §6: the cold-cache explanation: read-around on a major fault, none for a small pread

def _cold_file(npages):
    """A course file on a real disk (tmpfs keeps every page cached): skip, saying why, otherwise."""
    ctx = objects.course_file(npages * PAGE, tag="cold")
    path = ctx.__enter__()
    try:
        page_stats.require_real_disk(path)
    except Exception as e:
        ctx.__exit__(None, None, None)
        pytest.skip(f"page-cache experiments need a file on a disk: {e}")
    mmap_demos.make_data_file(path, npages * PAGE)
    return ctx, path


def test_one_major_fault_reads_around_the_page_madv_random_does_not():
    ctx, path = _cold_file(512)
    try:
        cached = {}
        for advice in (None, mmap.MADV_RANDOM):
            assert page_stats.drop_cache(path) == 0
            with open(path, "rb") as f:
                mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
                try:
                    if advice is not None:
                        mm.madvise(advice)
                    mm[256 * PAGE]  # one load in the middle of the file: one major fault
                finally:
                    mm.close()
            cached[advice] = page_stats.cached_pages(path)[0]
        assert cached[None] > 1, "the fault read a window around the page (mmap read-around)"
        assert cached[mmap.MADV_RANDOM] < cached[None], "MADV_RANDOM turns read-around off"
    finally:
        ctx.__exit__(None, None, None)


def test_a_small_random_pread_caches_less_than_a_fault_on_a_mapping():
    ctx, path = _cold_file(512)
    try:
        page_stats.drop_cache(path)
        fd = os.open(path, os.O_RDONLY)
        try:
            os.pread(fd, 64, 256 * PAGE + 100)
        finally:
            os.close(fd)
        by_pread = page_stats.cached_pages(path)[0]
        page_stats.drop_cache(path)
        with mapping.mapped(path, access="read") as mm:
            mm[256 * PAGE + 100]
        by_fault = page_stats.cached_pages(path)[0]
        assert 1 <= by_pread < by_fault
    finally:
        ctx.__exit__(None, None, None)


# -- 05 §4 and lab 4: msync is about durability, not visibility ----------------------------

def _read_at(path, offset, n):
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read(n)


def test_another_process_reads_a_mapped_write_before_any_msync():
    with objects.course_file(4 * PAGE, tag="vis") as path:
        with mapping.mapped(path, access="shared") as mm:
            mm[PAGE:PAGE + 5] = b"fresh"                       # a store, no msync
            s = page_stats.smaps(path)
            assert s["Shared_Dirty"] + s["Private_Dirty"] > 0  # still dirty: nothing was written back
            seen, = procs.run(_read_at, [(path, PAGE, 5)], start_method="spawn", timeout=30)
        assert seen == b"fresh"


# -- 03 §7.1: the single-queue client-server pitfalls, and TLPI's answer ---------------------

def test_single_queue_replies_find_no_room_and_a_queue_per_client_serves_everyone():
    one = queue_pitfalls.single_queue_deadlock(nclients=10, timeout=0.5)
    assert one["bytes_when_server_started"] == one["capacity"]
    assert one["server"][0] == "stuck" and one["server"][1] == 0 and "reply" in one["server"][2]
    assert not any(c[0] == "served" for c in one["clients"])
    assert one["requests_left"] > 0 and one["replies_left"] == 0
    per = queue_pitfalls.queue_per_client(nclients=10, timeout=0.5)
    assert per["bytes_when_server_started"] == per["capacity"]
    assert per["server"] == ("done", 10, "")
    assert all(c[0] == "served" for c in per["clients"])


def test_any_process_that_may_read_the_queue_can_take_another_clients_reply():
    r = queue_pitfalls.stolen_reply(timeout=0.5)
    assert r["victim_is_child"] and r["nosy_was_asleep_in_msgrcv"]
    assert r["nosy"][0] == "read the reply to request" and r["nosy"][1] == 7 and r["nosy"][2] == r["victim_pid"]
    assert r["victim"] == ("no reply", None)


def test_a_reply_type_equal_to_the_request_type_is_refused_and_would_take_requests():
    with msgq.queue() as q:
        with pytest.raises(BadArgument, match="equals request_type"):
            msgq.send_request(q, b"x", reply_type=msgq.REQUEST_TYPE)   # a client whose pid is 1
        msgq.send_request(q, b"someone's request", reply_type=4242)
        data, t = msgq.receive(q, type=1, timeout=2)                   # msgrcv(type = 1 = "my pid")
        assert t == msgq.REQUEST_TYPE and data.endswith(b"someone's request")


# -- 04 §7: mq_notify: one registrant per queue; none while a receiver is blocked -------------

def _register(name):
    q = posix_ipc.MessageQueue(name)
    try:
        q.request_notification(signal.SIGUSR2)  # C: mq_notify(q, &(struct sigevent){SIGEV_SIGNAL, SIGUSR2})
        return "registered"
    except posix_ipc.BusyError:
        return "EBUSY"
    finally:
        q.close()


def _receive_one(name, timeout):
    q = posix_ipc.MessageQueue(name)
    try:
        return q.receive(timeout)[0]          # C: mq_timedreceive: sleeps in the kernel
    finally:
        q.close()


@pytest.fixture
def notified():
    got = []
    old = signal.signal(signal.SIGUSR1, lambda *a: got.append(a[0]))
    yield got
    signal.signal(signal.SIGUSR1, old)


def test_mq_notify_second_registrant_gets_ebusy(notified):
    with objects.posix_mq(max_messages=4, max_message_size=64, tag="notify") as q:
        q.request_notification(signal.SIGUSR1)
        assert procs.run(_register, [(q.name,)], start_method="spawn", timeout=30) == ["EBUSY"]
        q.request_notification(None)          # C: mq_notify(q, NULL): unregister
        assert procs.run(_register, [(q.name,)], start_method="spawn", timeout=30) == ["registered"]


@pytest.mark.skipif(MQ_TIMEDRECEIVE is None, reason="system call number of mq_timedreceive unknown here")
def test_mq_notify_is_not_sent_while_a_receiver_is_blocked(notified):
    with objects.posix_mq(max_messages=4, max_message_size=64, tag="notify") as q:
        q.request_notification(signal.SIGUSR1)
        with procs.start(_receive_one, [(q.name, 20)], start_method="spawn", timeout=30) as g:
            procs_pid = g.pids[0]
            assert _asleep_in(procs_pid, MQ_TIMEDRECEIVE)
            q.send(b"first")                  # the blocked receiver takes it: the queue never looks non-empty
            assert notified == []             # a signal to ourselves would be handled before this line
            assert g.join() == [b"first"]
        q.send(b"second")                     # empty -> non-empty with nobody waiting: notified now
        assert notified == [signal.SIGUSR1]
        assert q.receive(1)[0] == b"second"


def _asleep_in(pid, nr, timeout=10.0):
    import time
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(f"/proc/{pid}/syscall") as f:
            if f.read().split()[0] == str(nr):
                return True
        time.sleep(0.01)
    return False


# -- 04 §6: QSIZE in /dev/mqueue counts bytes, not messages -------------------------------

def test_mqueue_qsize_counts_bytes():
    if not os.path.isdir("/dev/mqueue") or not os.path.ismount("/dev/mqueue"):
        pytest.skip("/dev/mqueue is not mounted here (mount -t mqueue none /dev/mqueue)")
    with objects.posix_mq(max_messages=4, max_message_size=64, tag="qsize") as q:
        q.send(b"x" * 17)
        with open("/dev/mqueue" + q.name) as f:
            fields = dict(kv.split(":") for kv in f.read().split() if ":" in kv)
        assert int(fields["QSIZE"]) == 17 and q.current_messages == 1
