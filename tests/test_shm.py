"""ipclab.mechanisms.shm: the segment's life cycle and the ring buffer's guarantees, on real processes."""

import os
import struct

import numpy as np
import pytest

from ipclab import procs, shm, shm_demos
from ipclab.core.errors import BadArgument, ChildError, IpclabError, ObjectGone, WaitTimeout

import workers_shm


def test_segment_create_attach_close_unlink():
    with shm.Segment.create(4096, tag="t") as seg:
        assert os.stat(seg.path).st_size == 4096
        assert os.stat(seg.path).st_mode & 0o777 == 0o600
        seg.buf[:5] = b"hello"
        other = shm.Segment.attach(seg.name)
        assert bytes(other.buf[:5]) == b"hello"
        seg.unlink()                         # the name goes...
        assert not os.path.exists(seg.path)
        other.buf[0:1] = b"J"                # ...but both mappings still work
        assert bytes(seg.buf[:5]) == b"Jello"
        other.close()
        assert other.closed and "closed" in repr(other)
        with pytest.raises(ObjectGone):
            shm.Segment.attach(seg.name)
    assert seg.closed


def test_segment_close_with_live_view_says_what_to_do():
    with shm.Segment.create(64, tag="t") as seg:
        arr = np.frombuffer(seg.buf, dtype=np.int64)
        with pytest.raises(IpclabError, match="del"):
            seg.close()
        del arr


def test_segment_passes_to_workers(start_method):
    with shm.Segment.create(16, tag="t") as seg:
        seg.buf[0] = 41
        first, size = procs.run(workers_shm.segment_roundtrip, [(seg,)], start_method=start_method, timeout=30)[0]
        assert (first, size) == (41, 16)
        assert seg.buf[1] == 42


def test_ring_order_and_capacity():
    with shm.RingBuffer.create(capacity=3, slot_size=8) as ring:
        for x in (b"a", b"bb", b"ccc"):
            ring.put(x, timeout=1)
        assert len(ring) == 3
        with pytest.raises(WaitTimeout, match="empty"):     # full: put blocks, then times out
            ring.put(b"d", timeout=0.2)
        assert [ring.get(timeout=1) for _ in range(3)] == [b"a", b"bb", b"ccc"]
        with pytest.raises(WaitTimeout, match="full"):      # empty: get blocks, then times out
            ring.get(timeout=0.2)
        ring.put(b"wrap", timeout=1)                        # indices wrapped around
        assert ring.get(timeout=1) == b"wrap"
        assert ring.counts() == (4, 4)
        with pytest.raises(BadArgument):
            ring.put(b"123456789", timeout=1)


@pytest.mark.parametrize("n_consumers", [1, 3])
def test_ring_every_item_exactly_once(start_method, n_consumers):
    n = 300
    with shm.RingBuffer.create(capacity=4, slot_size=8) as ring:
        args = [(ring.spec, n, n_consumers)] + [(ring.spec,)] * n_consumers
        targets_group = procs.start(shm_demos.produce, args[:1], start_method=start_method, timeout=60)
        consumers = procs.start(shm_demos.consume, args[1:], start_method=start_method, timeout=60)
        assert targets_group.join() == [n]
        received = consumers.join()
    verdict = shm_demos.check_delivery(n, received)
    assert verdict["exactly_once"] and verdict["in_order"], verdict
    assert verdict["missing"] == verdict["duplicated"] == 0


def test_check_delivery_detects_loss_duplication_and_disorder():
    assert not shm_demos.check_delivery(3, [[0, 1]])["exactly_once"]
    assert shm_demos.check_delivery(3, [[0, 1, 1, 2]])["duplicated"] == 1
    assert not shm_demos.check_delivery(3, [[0, 2, 1]])["in_order"]


@pytest.mark.parametrize("hold_mutex", [False, True])
def test_producer_killed_does_not_hang_consumers(hold_mutex):
    with shm.RingBuffer.create(capacity=8, slot_size=8) as ring:
        with pytest.raises(ChildError, match="SIGKILL"):
            procs.run(workers_shm.put_then_die, [(ring.spec, 3, hold_mutex)], start_method="fork", timeout=30)
        consumer = procs.start(shm_demos.consume, [(ring.spec, 0.5)], start_method="fork", timeout=30)
        with pytest.raises(ChildError) as info:
            consumer.join()
        assert "WaitTimeout" in info.value.child_traceback
        assert ("mutex" if hold_mutex else "'full'") in info.value.child_traceback


def test_ring_attach_after_removal_fails_clearly():
    with shm.RingBuffer.create(2, 8) as ring:
        spec = ring.spec
    with pytest.raises(ObjectGone):
        shm.RingBuffer.attach(spec)


def test_ring_rejects_bad_arguments():
    with pytest.raises(BadArgument):
        shm.RingBuffer.create(capacity=0)
    with pytest.raises(BadArgument):
        shm.RingBuffer.create(slot_size=0)


def test_c_program_reads_and_writes_python_segment(tmp_path):
    from ipclab.core import cbuild
    if not cbuild.have_gcc():
        pytest.skip("no gcc")
    import subprocess
    exe = shm_demos.build_c("shm_peek", tmp_path)
    layout = struct.Struct("=II4d32s")
    with shm.Segment.create(layout.size, tag="c") as seg:
        layout.pack_into(seg.buf, 0, 0xC0FFEE, 7, 1.5, 2, 3, 4, b"from python")
        out = subprocess.run([exe, seg.name], capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        assert "count = 7" in out.stdout and "from python" in out.stdout
        magic, count, *vals, text = layout.unpack_from(seg.buf, 0)
    assert (magic, count, vals) == (0xC0FFEE, 8, [3.0, 4.0, 6.0, 8.0])
    assert text.rstrip(b"\0") == b"hello from C"


def test_multiprocessing_attach_only_destroys_segment_unless_unregistered():
    for unregister, survives in ((True, True), (False, False)):
        seg = shm.Segment.create(4096, tag="mp")
        try:
            exists, _warning = shm_demos.run_attach_only(seg.name, unregister)
            assert exists is survives
        finally:
            seg.close()
            seg.unlink()


def _other_user_or_skip():
    from ipclab.core import asuser
    from ipclab.core.errors import NotSupported
    try:
        return asuser.other_user()
    except NotSupported as why:
        pytest.skip(f"no second user here: {why}")


def test_permissions_other_users():
    """As root the other user is nobody, as a student a subordinate uid: the same verdicts."""
    from ipclab.core import asuser
    _other_user_or_skip()
    got = {}
    for mode in (0o600, 0o660, 0o666):
        with shm.Segment.create(64, tag="perm", mode=mode) as seg:
            os.chmod(seg.path, mode)  # shm_open's mode is cut by the umask; fchmod sets it exactly
            got[mode] = [asuser.run_as_other(shm_demos.try_access, (seg.name,), same_group=group)
                         for group in (True, False)]
    assert got == {0o600: ["denied", "denied"], 0o660: ["read+write", "denied"],
                   0o666: ["read+write", "read+write"]}
