"""ipclab.core.inventory, ipclab.core.doctor and the ipclab command, against the real kernel."""

import json
import os
import subprocess
import sys

import pytest

from ipclab import doctor, inventory, objects, registry
from ipclab.core.errors import BadArgument, NotSupported


def ipclab(*args, env=None):
    return subprocess.run([sys.executable, "-m", "ipclab", *args], capture_output=True, text=True,
                          timeout=120, env=env)


def test_list_objects_sees_every_kind_with_mode_and_size():
    with objects.posix_shm(8192, tag="ls") as shm, objects.posix_sem(3, tag="ls") as sem, \
            objects.sysv_shm(4096) as sshm, objects.sysv_sem(0) as ssem, objects.sysv_msg() as q:
        rows = inventory.list_objects(mine_only=True)
        by = {(r["kind"], r["name"] or r["id"]): r for r in rows}
        assert by[("posix_shm", shm.name)]["size"] == 8192
        assert ("posix_sem", sem.name) in by
        assert by[("sysv_shm", sshm.id)]["size"] == 4096 and by[("sysv_shm", sshm.id)]["key"] == sshm.key
        assert by[("sysv_sem", ssem.id)]["size"] == 1  # nsems
        assert ("sysv_msg", q.id) in by
        assert all(by[k]["ours"] and by[k]["mode"] == 0o600 and by[k]["run"] == registry.current().id
                   for k in by if by[k]["run"] == registry.current().id)


def test_posix_mq_listed_when_mqueue_is_mounted():
    if not os.path.ismount("/dev/mqueue"):
        pytest.skip("/dev/mqueue not mounted here (ipclab doctor explains); queues still work")
    with objects.posix_mq(tag="ls") as mq:
        assert any(r["name"] == mq.name for r in inventory.list_objects(mine_only=True))


def test_leak_check_catches_and_removes_a_leak():
    with pytest.raises(inventory.LeakError, match="1 IPC object"):
        with inventory.leak_check():
            leaked = objects.create_posix_shm(64, tag="leak")
    assert not os.path.exists("/dev/shm" + leaked.name)
    leaked.close_fd()


def test_leak_check_ignores_other_runs_objects(tmp_path):
    env = dict(os.environ, IPCLAB_STATE_DIR=str(tmp_path))
    env.pop("IPCLAB_RUN_ID")
    code = ("from ipclab import objects; import sys; s = objects.create_posix_shm(64, tag='other');"
            "print(s.name, flush=True); sys.stdin.read(); objects.remove_posix_shm(s)")
    other = subprocess.Popen([sys.executable, "-c", code], env=env, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    try:
        with inventory.leak_check():
            name = other.stdout.readline().strip()   # another run creates meanwhile: not our leak
            assert os.path.exists("/dev/shm" + name)
    finally:
        other.communicate("", timeout=30)
    assert not os.path.exists("/dev/shm" + name)


def test_doctor_reports_limits_read_from_proc():
    with open("/proc/sys/kernel/msgmax") as f:
        assert doctor.check("msgmax").value == int(f.read())
    assert doctor.check("semopm").value > 0
    assert "msgmax" in doctor.format_report()


def test_doctor_require_explains_what_is_missing(monkeypatch):
    monkeypatch.setattr(doctor, "checks", lambda: [doctor.Check("gcc", None, False, "install gcc")])
    with pytest.raises(NotSupported, match="install gcc"):
        doctor.require("gcc")
    assert doctor.skip_unless("gcc") is False


def test_cli_doctor_ls_json_and_clean():
    res = ipclab("doctor", "--json")
    assert res.returncode == 0
    assert {c["name"] for c in json.loads(res.stdout)} >= {"msgmax", "shm_size", "posix_mq", "gcc"}
    with objects.sysv_msg() as q:
        rows = json.loads(ipclab("ls", "--json").stdout)
        assert any(r["id"] == q.id and r["ours"] for r in rows)
        assert q.id in [r["id"] for r in json.loads(ipclab("ls", "--ours", "--json").stdout)]
        text = ipclab("ls").stdout
        assert f"0x{q.key:08x}" in text
        res = ipclab("clean")   # our run is alive: clean must keep its objects
        assert res.returncode == 0 and inventory.sysv_row("msg", q.id) is not None


def test_cli_usage_errors():
    assert ipclab().returncode == 2
    res = ipclab("frobnicate")
    assert res.returncode == 2 and "invalid choice" in res.stderr


def test_bad_sizes_are_explained():
    for bad in (0, -5, 1.5):
        with pytest.raises(BadArgument, match="positive"):
            objects.create_posix_shm(bad)
    with pytest.raises(BadArgument, match="SEMVMX"):
        objects.create_sysv_sem(2**40)
