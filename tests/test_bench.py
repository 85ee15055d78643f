"""ipclab.bench.runner: every mechanism really moves checked bytes, limits skip clearly, CLI JSON, plots.

No timing is asserted: the machine is shared and noisy. What is asserted is what must hold
on any machine: integrity, the protocol's counts, the skips and their reasons, the shapes.
"""

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
from multiprocessing.connection import Connection
from pathlib import Path

import pytest

import proctools
from ipclab import bench
from ipclab.tooling import cli
from ipclab.bench import catalog
from ipclab.bench import transports as bt

ROOT = Path(__file__).resolve().parent.parent
TINY = dict(max_seconds=0.06, repeats=2)


def _check_throughput(rec, mech, size):
    assert rec["kind"] == "throughput" and rec["mechanism"] == mech and rec["size"] == size
    assert rec["skipped"] == "", rec["skipped"]
    assert rec["integrity"] == "ok"
    assert len(rec["runs_gbps"]) == 2
    assert rec["gbps_min"] <= rec["gbps"] <= rec["gbps_max"]
    assert rec["gbps"] > 0 and rec["msgs_per_s"] > 0
    assert rec["messages"] >= 3          # warm-up, two marks and the stop at least
    assert rec["crc_checked"] >= 1       # message 0 is always CRC-checked


@pytest.mark.parametrize("mech", list(bench.MECHANISMS))
@pytest.mark.parametrize("size", [64, 4096, 65536 + 24])
def test_every_mechanism_moves_checked_bytes(mech, size):
    rec = bench.throughput(mech, size, **TINY)
    if bench.skip_reason(mech, size):
        assert rec["skipped"]
        return
    _check_throughput(rec, mech, size)


@pytest.mark.parametrize("mech", ["posix_shm", "mp_shm", "sysv_shm", "mmap_file", "pipe", "fifo", "unix",
                                  "tcp", "posix_mq", "sysv_mq"])
def test_start_methods(mech, start_method):
    rec = bench.throughput(mech, 1024, start_method=start_method, **TINY)
    _check_throughput(rec, mech, 1024)
    assert rec["start_method"] == start_method


def test_one_mebibyte_through_shared_memory_and_an_enlarged_pipe():
    _check_throughput(bench.throughput("posix_shm", 1 << 20, **TINY), "posix_shm", 1 << 20)
    rec = bench.throughput("pipe", 1 << 20, pipe_bytes=1 << 20, **TINY)
    _check_throughput(rec, "pipe", 1 << 20)
    assert rec["pipe_bytes"] == 1 << 20


@pytest.mark.parametrize("slots,batch", [(1, 1), (4, 1), (64, 16)])
def test_ring_shapes(slots, batch):
    rec = bench.throughput("posix_shm", 64, slots=slots, batch=batch, **TINY)
    _check_throughput(rec, "posix_shm", 64)
    assert (rec["slots"], rec["batch"]) == (slots, batch)


def test_bad_ring_shape_is_refused():
    with pytest.raises(bench.BadArgument, match="dividing"):
        bench.ring_shape(64, slots=6, batch=4)


def test_limits_give_clear_skips():
    lim = bench.limits()
    rec = bench.throughput("posix_mq", lim["mq_msgsize_max"] + 1, **TINY)
    assert "msgsize_max" in rec["skipped"] and "EINVAL" in rec["skipped"]
    rec = bench.throughput("sysv_mq", lim["msgmax"] + 1, **TINY)
    assert "msgmax" in rec["skipped"]
    assert "below" in bench.throughput("pipe", 16, **TINY)["skipped"]
    # at the limit itself the queue works
    _check_throughput(bench.throughput("posix_mq", lim["mq_msgsize_max"], **TINY), "posix_mq",
                      lim["mq_msgsize_max"])


def test_consumer_detects_corruption():
    """A message whose payload was altered on the way fails the run with IntegrityError."""
    n = 64
    msg = bt.pattern(n)
    bt.HEAD.pack_into(msg, 0, 0, bt.DATA)
    bt.TAIL.pack_into(msg, n - 8, 0)
    msg[30] ^= 0xFF                                      # one flipped byte in the payload
    r, w = os.pipe()
    os.write(w, bytes(msg))
    ends = (Connection(r, writable=False), Connection(w, readable=False))
    spec = {"mechanism": "pipe", "transport": catalog.get("pipe"), "pipe": ends, "slots": None, "batch": None}
    with pytest.raises(bt.IntegrityError, match="corrupted"):
        bt.consumer(spec, {"size": n, "budget": 5})
    for c in ends:
        c.close()


@pytest.mark.parametrize("mech", ["posix_mq", "sysv_mq"])
def test_queue_consumer_rejects_a_short_message(mech):
    """A queue message shorter than the run's size is named as such, not a struct error."""
    from ipclab import objects
    n = 4096
    if mech == "posix_mq":
        with objects.posix_mq(max_messages=2, max_message_size=n, tag="short") as q:
            q.send(b"0123456789", 1)
            with pytest.raises(bt.IntegrityError, match="got 10 bytes, expected 4096"):
                bt.consumer({"mechanism": mech, "transport": catalog.get(mech), "name": q.name}, {"size": n, "budget": 5})
    else:
        with objects.sysv_msg(note="short message") as q:
            q.send(b"0123456789")
            with pytest.raises(bt.IntegrityError, match="got 10 bytes, expected 4096"):
                bt.consumer({"mechanism": mech, "transport": catalog.get(mech), "key": q.key}, {"size": n, "budget": 5})


def test_consumer_detects_a_lost_message():
    n = 64
    r, w = os.pipe()
    for seq in (0, 2):                                   # message 1 never sent
        msg = bt.pattern(n)
        bt.HEAD.pack_into(msg, 0, seq, bt.DATA)
        bt.TAIL.pack_into(msg, n - 8, seq)
        os.write(w, bytes(msg))
    ends = (Connection(r, writable=False), Connection(w, readable=False))
    with pytest.raises(bt.IntegrityError, match="message 1 arrived as head seq 2"):
        bt.consumer({"mechanism": "pipe", "transport": catalog.get("pipe"), "pipe": ends}, {"size": n, "budget": 5})
    for c in ends:
        c.close()


@pytest.mark.parametrize("mech", list(bench.LATENCY_MECHANISMS))
def test_latency_pairs(mech):
    rec = bench.latency(mech, max_seconds=0.06)
    assert rec["count"] > 0
    assert rec["min_us"] <= rec["median_us"] <= rec["p99_us"] <= rec["max_us"]
    assert sum(rec["hist"]) == rec["count"]
    assert "two populations" in rec["note"]              # unpinned: the output says so


def _pipe_echo_pair():
    """A pinger's and a ponger's ends over two real pipes (the pong runs in a thread here)."""
    import functools
    (r1, w1), (r2, w2) = os.pipe(), os.pipe()
    ping = bt._echo(functools.partial(os.write, w1), functools.partial(os.read, r2, 8), "pipe")
    pong = bt._echo(functools.partial(os.write, w2), functools.partial(os.read, r1, 8), "pipe")
    return ping, pong, (r1, w1, r2, w2)


def test_ping_pong_loops_count_check_and_stop():
    """The timed loop fills one sample per checked round trip; the pong answers each and stops."""
    import threading
    import time
    from array import array
    (timed, _, stop), (_, serve, _), fds = _pipe_echo_pair()
    answered = []
    pong = threading.Thread(target=lambda: answered.append(serve()), daemon=True)  # never holds up exit
    pong.start()
    stamps = array("q", bytes(8 * 50))
    start, count = timed(stamps, 50, time.perf_counter_ns() + 10**10)
    assert count == 50                                   # the cap ends it
    assert start < stamps[0] and list(stamps) == sorted(stamps)   # one clock stamp per round trip
    stop()
    pong.join(10)
    assert answered == [50]
    for fd in fds:
        os.close(fd)


def test_ping_pong_wrong_answer_and_dead_peer():
    """A pong that answers something else is an IntegrityError; a closed peer is PeerGone."""
    import time
    from array import array
    (timed, _, _), (_, serve, _), (r1, w1, r2, w2) = _pipe_echo_pair()
    os.write(w2, bt.TAIL.pack(99))                       # a stale answer, not ping 0
    with pytest.raises(bt.IntegrityError, match="not the ping"):
        timed(array("q", bytes(80)), 10, time.perf_counter_ns() + 10**9)
    assert os.read(r1, 8) == bt.TAIL.pack(0)             # ping 0 did go out
    os.close(w1)                                         # the pinger is gone: the pong's read sees EOF
    with pytest.raises(bt.PeerGone, match="closed"):
        serve()
    for fd in (r1, r2, w2):
        os.close(fd)


@pytest.mark.parametrize("mech", ["pipe", "sysv_sem", "unix"])
def test_latency_start_methods(mech, start_method):
    rec = bench.latency(mech, max_seconds=0.05, start_method=start_method)
    assert rec["count"] > 0 and rec["start_method"] == start_method


@pytest.mark.parametrize("pin", ["same", "cross"])
def test_latency_pinning_is_recorded(pin):
    if pin == "cross" and len(os.sched_getaffinity(0)) < 2:
        pytest.skip("one CPU")
    rec = bench.latency("posix_sem", max_seconds=0.06, pin=pin)
    assert rec["pin"].startswith("both on CPU" if pin == "same" else "CPU ")
    assert rec["note"] == ""


def test_memcpy_and_fractions():
    records = bench.run(["pipe"], [64, 8192], max_seconds=0.06, repeats=1, latency_mechanisms=[],
                        progress=False)
    kinds = [r["kind"] for r in records]
    assert kinds.count("memcpy") == 2 and kinds.count("throughput") == 2
    for r in records:
        if r["kind"] == "throughput":
            assert r["memcpy_gbps"] > 0
            assert r["frac_memcpy"] == pytest.approx(r["gbps"] / r["memcpy_gbps"])
    assert "pipe" in bench.format_table(records)


def test_ring_depth_records():
    recs = bench.ring_depth(64, depths=(1, 8), max_seconds=0.06, repeats=1, progress=False)
    assert [(r["slots"], r["batch"]) for r in recs] == [(1, 1), (8, 1), (8, 2)]
    assert all(r["kind"] == "ring_depth" and r["integrity"] == "ok" for r in recs)


def test_cli_json():
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli.main(["bench", "--mechanisms", "posix_shm,sysv_mq", "--sizes", "64,16K",
                         "--latency", "pipe", "--seconds", "0.06", "--repeats", "1", "--json",
                         "--no-progress"])
    assert code == 0
    records = json.loads(out.getvalue())
    by = {(r["kind"], r["mechanism"], r["size"]): r for r in records}
    assert by[("throughput", "posix_shm", 16384)]["integrity"] == "ok"
    assert "msgmax" in by[("throughput", "sysv_mq", 16384)]["skipped"]
    assert by[("latency", "pipe", 8)]["count"] > 0
    assert ("memcpy", "memcpy", 64) in by


def test_cli_table():
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(["bench", "--mechanisms", "fifo", "--sizes", "1K", "--latency", "",
                         "--seconds", "0.06", "--repeats", "1", "--no-progress"]) == 0
    text = out.getvalue()
    assert "fifo" in text and "% memcpy" in text and "short run: noisy" in text


def test_parse_and_human_sizes():
    assert [bench.parse_size(s) for s in ("64", "8K", "64KiB", "1M")] == [64, 8192, 65536, 1 << 20]
    assert [bench.human(n) for n in (64, 8192, 1 << 20, 100)] == ["64 B", "8 KiB", "1 MiB", "100 B"]
    with pytest.raises(bench.BadArgument):
        bench.parse_size("lots")


def test_plots_from_stored_results():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from ipclab.presentation.plots import bench as pb
    records = json.loads((ROOT / "bench" / "results-sample.json").read_text())
    for fig in (pb.bandwidth(records), pb.latency(records), pb.ring_depth(records),
                pb.histogram([r for r in records if r["kind"] == "latency"][0])):
        assert fig.axes
        plt.close(fig)
    ranking = bench.ranking(records)
    assert ranking and all(r["chapter_gbps"] > 0 for r in ranking)
    assert ranking == sorted(ranking, key=lambda r: -r["gbps"])


@pytest.mark.skipif(not shutil.which("gcc"), reason="the C twin needs gcc")
def test_c_twin_and_compare_script_run_at_a_tiny_size():
    """CI checks that the benchmark runs (and the C twin builds), never what it measures."""
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "compare.py"), "--tiny"],
                         capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert "Py/C" in out.stdout and "ping-pong" in out.stdout


_children_of = proctools.children_of


@pytest.mark.skipif(not shutil.which("gcc"), reason="the C twin needs gcc")
def test_c_twin_removes_its_system_v_queue_when_a_child_is_killed(tmp_path):
    """A C run whose consumer is SIGKILLed exits with an error and still removes its queue."""
    import signal
    import time
    sys.path.insert(0, str(ROOT / "bench"))
    import compare
    exe = compare.build(str(tmp_path))
    run = subprocess.Popen([exe, "tp", "sysv_mq", "4096", "5", "1"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    children, deadline = [], time.monotonic() + 10
    while len(children) < 2 and time.monotonic() < deadline:   # both sides started and moving
        time.sleep(0.05)
        children = _children_of(run.pid)
    def queues_of(pids):
        rows = [line.split() for line in open("/proc/sysvipc/msg").read().splitlines()[1:]]
        return [r[1] for r in rows if int(r[5]) in pids or int(r[6]) in pids]   # lspid, lrpid
    while not queues_of(children) and time.monotonic() < deadline + 10:  # a message went through
        time.sleep(0.05)
    assert queues_of(children), "the run's queue should exist while it runs"
    for pid in children:
        os.kill(pid, signal.SIGKILL)
    _, err = run.communicate(timeout=60)
    assert run.returncode != 0 and err.strip()                           # it says why it stopped
    assert queues_of(children) == []                                     # and left no queue behind


def test_sysv_fast_path_times_out_and_counts(monkeypatch):
    """The benchmark's prebuilt semtimedop: P/V really change the set, and a wait gives up."""
    from ipclab import semset
    monkeypatch.setattr(bt, "WAIT", 0.05)
    with semset.create(2, values=[1, 0], note="fast path") as s:
        ops = bt._SysvSemOps(s.id)
        take0, give1, take1 = ops.op(0, -1), ops.op(1, +1), ops.op(1, -1)
        take0()
        give1()
        assert s.getall() == [0, 1]
        take1()
        with pytest.raises(bt.WaitTimeout, match="waited"):
            take1()


def _ring_batch(k, n, seqs, ctrl_at=None):
    import numpy as np
    img = bt._batch_image(k, n)
    for j, seq in enumerate(seqs):
        bt.HEAD.pack_into(img, j * n, seq, bt.DATA if j != ctrl_at else bt.STOP)
        bt.TAIL.pack_into(img, j * n + n - 8, seq)
    return np.frombuffer(img, dtype=np.uint8)


def test_ring_check_in_place_finds_damage_and_the_stop():
    """The ring's slow path (a batch that is not plain data): stop, a lost message, a flipped byte."""
    import numpy as np
    import time
    n, k = 64, 4
    ref = np.frombuffer(bt.pattern(n), dtype=np.uint8)
    marks = []
    got, stop = bt._check_batch(_ring_batch(k, n, [8, 9, 3, 3], ctrl_at=1), 0, k, n, ref, 8, "t", marks,
                                time.perf_counter)
    assert (got, stop) == (2, True) and [s for _, s in marks] == [9]
    with pytest.raises(bt.IntegrityError, match="message 9 arrived as head seq 10"):
        bt._check_batch(_ring_batch(k, n, [8, 10, 11, 12]), 0, k, n, ref, 8, "t", [], time.perf_counter)
    ring = _ring_batch(k, n, [8, 9, 10, 11]).copy()
    ring[2 * n + 30] ^= 0xFF
    with pytest.raises(bt.IntegrityError, match="payload of message 10 corrupted"):
        bt._check_batch(ring, 0, k, n, ref, 8, "t", [], time.perf_counter)


def test_each_mechanism_is_one_definition_with_the_steps_its_runs_need():
    """A mechanism with a throughput label defines both throughput steps; with a ping-pong label, both
    ping-pong steps (TCP could ping-pong too: it has no run); the C twin knows it by name (issue 22:
    adding a mechanism touches catalog.py only)."""
    base = catalog.Mechanism
    for m in catalog.ALL.values():
        for steps, needed in ((("tp_objects", "tp_end"), bool(m.label)), (("lat_objects", "lat_end"), bool(m.latency_label))):
            defined = [getattr(type(m), s) is not getattr(base, s) for s in steps]
            assert all(defined) or not needed, f"{m.name}: {steps} defined {defined}"
        assert m.c_twin in (ROOT / "bench" / "ipcbench.c").read_text(), m.name
    assert [m.name for m in catalog.LATENCY] == ["posix_sem", "sysv_sem", "pipe", "posix_mq", "sysv_mq", "unix"]
    assert catalog.RINGS == ["posix_shm", "mp_shm", "sysv_shm", "mmap_file"]
