"""One place per fact: the table of object kinds, and the reader of kernel limits."""

import ast

import os

from ipclab.core import inventory, kinds, objects, registry
from ipclab.mechanisms import ccell


def test_every_reader_uses_the_one_table():
    assert registry.KINDS == kinds.NAMES == ccell.ENV_KINDS
    assert inventory.SYSV_TABLES == {"shm": "sysv_shm", "sem": "sysv_sem", "msg": "sysv_msg"}
    assert set(inventory.POSIX_DIRS.values()) == {"posix_shm", "posix_mq"}
    assert all(kinds.label(k) != k or k == "file" for k in kinds.NAMES)
    assert kinds.label("unknown") == "unknown"


def test_every_kind_is_removable_by_one_route():
    for k in kinds.KINDS.values():
        routes = [bool(k.unlink_by_name), bool(k.remove_by_id), k.name == "file"]
        assert sum(routes) == 1, k
        assert bool(k.remove_by_id) == bool(k.sysv_table), k


def test_remove_object_removes_each_kind_through_the_table():
    shm = objects.create_posix_shm(64, tag="kinds")
    sem = objects.create_sysv_sem(1)
    entries = [e for e in registry.current().entries()
               if (e["kind"], e.get("name") or e.get("id")) in {("posix_shm", shm.name), ("sysv_sem", sem.id)}]
    assert len(entries) == 2
    try:
        for entry in entries:
            assert registry.remove_object(entry) is True
            assert registry.remove_object(entry) is False  # gone: nothing to remove twice
        assert not os.path.exists(f"/dev/shm/{shm.name.lstrip('/')}")
        assert inventory.sysv_row("sem", sem.id) is None
    finally:
        for entry in entries:
            registry.remove_object(entry)
            registry.unregister(entry["kind"], name=entry.get("name"), id=entry.get("id"))


def test_kernel_limits_have_one_reader():
    """Every module asks ipclab.core.limits; the values are what /proc/sys says."""
    from pathlib import Path

    from ipclab.core import capacity, doctor, limits
    from ipclab.mechanisms import msgq, semset

    with open("/proc/sys/kernel/sem") as f:
        sem = tuple(int(v) for v in f.read().split())
    assert limits.sem() == sem and tuple(vars(semset.limits()).values()) == sem
    with open("/proc/sys/kernel/msgmax") as f:
        assert msgq.limits().msgmax == int(f.read()) == capacity.limits()["msgmax"]
    assert {c.name: c.value for c in doctor.checks()}["semopm"] == sem[2]
    pkg = Path(limits.__file__).resolve().parents[1]
    def opens_proc_sys(path):  # a call given a "/proc/sys/..." path (messages merely name the file)
        tree = ast.parse(path.read_text())
        return any(isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
                   and str(node.args[0].value).startswith("/proc/sys/") for node in ast.walk(tree))

    readers = sorted(str(p.relative_to(pkg)) for p in pkg.rglob("*.py") if p.name != "limits.py" and opens_proc_sys(p))
    assert readers == [], f"read kernel limits through ipclab.core.limits: {readers}"


def test_the_benchmark_lists_its_mechanisms_once():
    from ipclab import bench
    from ipclab.bench import catalog
    from ipclab.presentation.plots import style

    assert list(bench.MECHANISMS) == [m.name for m in catalog.THROUGHPUT]
    assert list(bench.LATENCY_MECHANISMS) == [m.name for m in catalog.LATENCY]
    assert set(catalog.ROW_COLOURS.values()) <= set(style.OKABE_ITO.values())  # colour-blind safe
    # mechanisms sharing a colour (a chapter row) are told apart by marker or line style
    for row in catalog.ROW_COLOURS:
        same = [m for m in catalog.ALL.values() if m.row == row]
        assert len({(m.marker, m.family) for m in same}) == len(same), row
    assert "msgmax" in bench.skip_reason("sysv_mq", 1 << 20, {"msgmax": 8192, "msgmnb": 16384})
    assert bench.skip_reason("pipe", 1 << 20, {}) == ""
