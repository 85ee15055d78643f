"""The table of object kinds is the one place: every reader agrees with it, and each remover works."""

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
