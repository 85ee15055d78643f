"""ipclab.mechanisms.mapping and the notebook-05 experiments: sharing, copy-on-write, faults, records, SIGBUS."""

import os
import signal

import pytest

from ipclab import mapping, mmap_demos as demo, objects, procs, registry
from ipclab.core import waiting
from ipclab.mechanisms import page_stats, records
from ipclab.core.errors import BadArgument, IpclabError, NotSupported, WaitTimeout
from ipclab.mechanisms.mapping import PAGE


@pytest.fixture(autouse=True)
def no_file_left():
    """Every course file a test (or its children) made is gone at the end."""
    def files():
        return {e["path"] for e in registry.current().entries() if e["kind"] == "file"}
    before = files()
    yield
    left = files() - before
    assert not left and not any(os.path.exists(p) for p in left), f"files left behind: {left}"


@pytest.fixture
def course_path():
    with objects.course_file(4 * PAGE, tag="t") as path:
        yield path


# -- mapping helpers -------------------------------------------------------------------

def test_empty_file_cannot_be_mapped_until_grown():
    with objects.course_file(0, tag="empty") as path:
        with pytest.raises(BadArgument, match="empty"):
            with mapping.mapped(path):
                pass
        with mapping.mapped(path, length=3 * PAGE, grow_file=True) as mm:
            assert len(mm) == 3 * PAGE and mm[3 * PAGE - 1] == 0
        assert os.path.getsize(path) == 3 * PAGE


def test_offset_must_be_page_aligned_and_inside_the_file(course_path):
    with pytest.raises(BadArgument, match="multiple of the page size"):
        with mapping.mapped(course_path, length=10, offset=100):
            pass
    with pytest.raises(BadArgument, match="past the end"):
        with mapping.mapped(course_path, length=5 * PAGE):
            pass
    with pytest.raises(BadArgument, match="access"):
        with mapping.mapped(course_path, access="MAP_SHARED"):
            pass


@pytest.mark.parametrize("start", [0, 1, PAGE - 3, PAGE, 2 * PAGE + 77])
def test_mapped_range_reads_any_offset(course_path, start):
    data = bytes(range(256)) * (4 * PAGE // 256)
    with open(course_path, "r+b") as f:
        f.write(data)
    with mapping.mapped_range(course_path, start, 100) as view:
        assert bytes(view) == data[start:start + 100]
        view[0] = 0xAB  # a shared mapping: the write reaches the file
    with open(course_path, "rb") as f:
        f.seek(start)
        assert f.read(1) == b"\xab"


def test_align_and_pages():
    assert mapping.align_down(PAGE + 5) == PAGE and mapping.align_down(PAGE) == PAGE
    assert mapping.pages(1) == 1 and mapping.pages(PAGE) == 1 and mapping.pages(PAGE + 1) == 2


def test_tmpfs_is_recognised():
    if not os.path.isdir("/dev/shm"):
        pytest.skip("no /dev/shm")
    with pytest.raises(NotSupported, match="tmpfs"):
        page_stats.require_real_disk("/dev/shm/anything")


# -- sharing semantics, copy-on-write, durability ----------------------------------------

def test_shared_and_private_across_processes(start_method):
    seen = {(r["writer"], r["reader"]): r for r in demo.sharing(start_method=start_method, timeout=60)}
    assert all(r["child_sees_own_write"] for r in seen.values())
    for reader in ("shared", "private", "private, written"):
        assert not seen["private", reader]["reader_sees"] and not seen["private", reader]["file_has"]
        assert seen["shared", reader]["file_has"]
    assert seen["shared", "shared"]["reader_sees"]
    assert seen["shared", "private"]["reader_sees"]  # Linux: an untouched private page is the file's page
    assert not seen["shared", "private, written"]["reader_sees"]  # after our own write: our copy


def test_copy_on_write_is_visible_in_smaps():
    r = demo.copy_on_write(npages=16, written=3)
    assert r["before"]["Anonymous"] == 0 and r["before"]["mappings"] == 1
    assert r["after"]["Anonymous"] == 3 * PAGE // 1024  # exactly the written pages were copied
    assert r["sees_own_write"] and not r["file_changed"]


def test_flush_cleans_dirty_pages():
    r = demo.dirty_then_flush(npages=8)
    assert r["dirty_kib_before"] > 0
    assert r["dirty_kib_after"] == 0


def test_map_shared_writes_survive_sigkill():
    r = demo.survives_kill(start_method="fork", timeout=60)
    assert r == {"killed_by": "SIGKILL", "MAP_SHARED": True, "MAP_PRIVATE": False,
                 "buffered write()": False}


def test_anonymous_shared_mapping_needs_fork():
    assert demo.anonymous("shared", 3, start_method="fork")["parent_sees"] == [100, 101, 102]
    private = demo.anonymous("private", 3, start_method="fork")
    assert private["parent_sees"] == [0, 0, 0] and private["children_saw"] == [100, 101, 102]
    spawn = demo.anonymous("shared", 2, start_method="spawn")
    assert spawn["children_saw"] is None and "pickle" in spawn["error"]


# -- lazy loading ----------------------------------------------------------------------



@pytest.mark.parametrize("advice,cold", [(None, True), ("random", True), (None, False)])
def test_touching_more_pages_never_lowers_faults(advice, cold):
    with objects.course_file(8 << 20, tag="lazy") as path:
        demo.make_data_file(path, 8 << 20)
        counts = [0, 16, 128, 1024, 2048]
        rows = demo.lazy_loading(path, counts, advice=advice, cold=cold, start_method="spawn", timeout=60)
    assert [r["pages"] for r in rows] == counts
    total = [r["minor"] + r["major"] for r in rows]
    assert total[0] == 0 and rows[0]["rss_kib"] == 0
    assert all(a <= b for a, b in zip(total, total[1:])), total
    assert all(a["rss_kib"] <= b["rss_kib"] for a, b in zip(rows, rows[1:]))
    assert all(r["rss_kib"] >= r["pages"] * PAGE // 1024 for r in rows)  # touched pages are resident
    if cold and rows[-1]["cached_before"] == 0:
        assert rows[-1]["major"] > 0  # nothing cached: the disk had to be read
    if advice == "random" and all(r["cached_before"] == 0 for r in rows):
        assert [r["major"] for r in rows] == counts  # no read-ahead: one disk read per page
    if not cold:
        assert all(r["major"] == 0 for r in rows[1:])  # warm: every page is already in the cache


def test_fault_profile_refuses_more_pages_than_the_file(course_path):
    with pytest.raises(BadArgument, match="only 4 pages"):
        demo.fault_profile(course_path, [5])


def test_cached_pages_counts_what_was_read(course_path):
    assert page_stats.drop_cache(course_path) in (0, page_stats.cached_pages(course_path)[0])
    with open(course_path, "rb") as f:
        f.read()
    cached, total = page_stats.cached_pages(course_path)
    assert total == 4 and cached == 4


def test_read_and_mmap_read_the_same_bytes():
    with objects.course_file(1 << 20, tag="bench") as path:
        demo.make_data_file(path, 1 << 20)
        rows = demo.read_vs_mmap(path, repeats=1, nrandom=200)
    by = {}
    for r in rows:
        by.setdefault(r["pattern"], set()).add(r["checksum"])
        assert r["seconds"] > 0 and r["mib_s"] > 0
    assert {k: len(v) for k, v in by.items()} == {"sequential": 1, "random": 1}


# -- record store ------------------------------------------------------------------------

def test_record_store_roundtrip_and_header(course_path):
    with records.RecordStore.create(course_path, "<q12s", 5) as store:
        assert len(store) == 5 and store.read(4) == (0, b"\0" * 12)
        store.write(2, (42, b"two"))
        assert store.update(2, lambda r: (r[0] + 1, r[1])) == (43, b"two" + b"\0" * 9)
        with pytest.raises(BadArgument, match="0..4"):
            store.read(5)
    with records.RecordStore.open(course_path) as again:  # the header is enough to reopen it
        assert again.format == "<q12s" and again.read(2, locked=True)[0] == 43
    with open(course_path, "r+b") as f:
        f.write(b"garbage!")
    with pytest.raises(BadArgument, match="not a record store"):
        records.RecordStore.open(course_path)
    with open(course_path, "r+b") as f:
        f.write(records.RecordStore.MAGIC)
    with records.RecordStore.open(course_path) as store:
        assert store.read(2)[0] == 43
    os.truncate(course_path, 64)  # the header promises 5 records the file no longer has
    with pytest.raises(IpclabError, match="disagree"):
        records.RecordStore.open(course_path)


def test_record_lock_held_elsewhere_times_out_and_is_per_record(start_method, course_path):
    records.RecordStore.create(course_path, "<q", 3).close()
    with procs.start(demo.hold_record, [(course_path, 1, 3.0)], start_method=start_method, timeout=60) as g:
        waiting.wait_until(lambda: demo.lock_is_held(course_path, 1), 30, "the child to take the lock")
        with records.RecordStore.open(course_path) as store:
            with pytest.raises(WaitTimeout, match="lock on bytes"):
                with store.lock(1, timeout=0.2):
                    pass
            store.write(0, (7,), timeout=1)  # record 0 is not locked by anyone
            store.write(2, (9,), timeout=1)
            assert (store.read(0), store.read(2)) == ((7,), (9,))
        g.join()


def test_locked_updates_by_many_processes_are_exact(start_method):
    r = demo.concurrent_updates(nworkers=4, times=30, records=2, locked=True,
                                start_method=start_method, timeout=90)
    assert r["final"] == r["expected"] == [60, 60] and r["lost"] == 0


def test_unlocked_updates_never_exceed_the_truth():
    r = demo.concurrent_updates(nworkers=4, times=30, records=2, locked=False,
                                start_method="fork", timeout=90)
    assert all(0 < f <= e for f, e in zip(r["final"], r["expected"]))


def test_image_processed_in_place_by_several_processes():
    r = demo.process_image(128, 96, nworkers=3, start_method="spawn", timeout=60)
    assert r["matches"] and sum(r["rows_done"]) == 128


def test_file_as_ipc_between_unrelated_processes():
    msgs = ["first", "second", "a longer message " * 10]
    assert demo.file_as_ipc(msgs, start_method="spawn", timeout=60) == msgs


# -- pitfalls -----------------------------------------------------------------------------

def test_sigbus_after_the_file_shrinks(start_method, course_path):
    assert demo.child_signal(demo.read_after_shrink, (course_path,), start_method=start_method) \
        == ("killed", signal.Signals.SIGBUS.name)
    assert os.path.getsize(course_path) == PAGE  # the child did shrink it


def test_c_mapping_past_eof_zeros_then_sigbus():
    with objects.course_file(100, tag="eof") as path:
        with open(path, "r+b") as f:
            f.write(b"x" * 100)
        assert demo.child_signal(demo.c_mmap_past_eof, (path, 50), start_method="fork") == ("returned", ord("x"))
        assert demo.child_signal(demo.c_mmap_past_eof, (path, 200), start_method="fork") == ("returned", 0)
        assert demo.child_signal(demo.c_mmap_past_eof, (path, PAGE + 10), start_method="fork") \
            == ("killed", "SIGBUS")
