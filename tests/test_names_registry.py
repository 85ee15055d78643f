"""ipclab.core.names and ipclab.core.registry: unique names, and nothing outlives a run."""

import json
import os
import shutil
import stat
import subprocess
import sys

import posix_ipc
import pytest
import sysv_ipc

from ipclab import inventory, names, objects, registry
from ipclab.core.errors import BadArgument, IpclabError


def test_posix_names_are_unique_and_carry_user_and_run():
    run = registry.current().id
    made = {names.posix_name("ring", run) for _ in range(1000)}
    assert len(made) >= 999  # 32 random bits: a repeat is possible (and O_EXCL + retry handles it)
    uid, run_id, tag = names.parse_course_name(made.pop())
    assert (uid, run_id, tag) == (os.getuid(), run, "ring")


@pytest.mark.parametrize("tag", ["", "a/b", "x" * 13, "white space", None])
def test_bad_tags_are_refused(tag):
    with pytest.raises(BadArgument, match="tag"):
        names.posix_name(tag, "deadbeef")


@pytest.mark.parametrize("name,why", [("noslash", "start with '/'"), ("/a/b", "no other '/'"),
                                      ("/", "at least one"), ("/" + "x" * 300, "limit")])
def test_bad_posix_names_are_explained(name, why):
    with pytest.raises(BadArgument, match=why):
        names.check_posix_name(name)


@pytest.mark.parametrize("key", [-2**31 - 1, 2**32, 1.5, "0x10", True])
def test_bad_keys_are_explained(key):
    with pytest.raises(BadArgument, match="System V key"):
        names.check_sysv_key(key)


def test_course_keys_are_positive_and_recognised():
    for _ in range(1000):
        k = names.sysv_key()
        assert 0 < k < 0x80000000 and names.is_course_key(k)
    assert not names.is_course_key(0x12345678)


def test_objects_are_0600_registered_then_struck_off():
    with objects.posix_shm(4096, tag="t") as shm, objects.sysv_sem(1) as sem:
        assert stat.S_IMODE(os.stat("/dev/shm" + shm.name).st_mode) == 0o600
        rows = {r["kind"]: r for r in inventory.course_objects(registry.current().id)}
        assert rows["posix_shm"]["mode"] == 0o600 and rows["sysv_sem"]["mode"] == 0o600
        kinds = {e["kind"] for e in registry.current().entries()}
        assert {"posix_shm", "sysv_sem"} <= kinds
    assert not [e for e in registry.current().entries() if e["kind"] in ("posix_shm", "sysv_sem")]
    with pytest.raises(posix_ipc.ExistentialError):
        posix_ipc.SharedMemory(shm.name)
    with pytest.raises(sysv_ipc.ExistentialError):
        sysv_ipc.Semaphore(sem.key)


def test_object_removed_on_exception_inside_block():
    with pytest.raises(RuntimeError):
        with objects.posix_sem(0) as sem:
            raise RuntimeError("cell interrupted")
    with pytest.raises(posix_ipc.ExistentialError):
        posix_ipc.Semaphore(sem.name)


def test_sysv_id_reuse_is_not_mistaken_for_ours():
    q = objects.create_sysv_msg()
    entry = dict(next(e for e in registry.current().entries() if e["id"] == q.id))
    objects.remove_sysv(q)
    stranger = sysv_ipc.MessageQueue(None, sysv_ipc.IPC_CREX)  # may reuse a nearby id
    try:
        entry["id"] = stranger.id  # pretend the kernel reused the id
        assert registry.remove_object(entry) is False
        assert inventory.sysv_row("msg", stranger.id) is not None
    finally:
        stranger.remove()


KILLED_KERNEL = """
import os, sys
from ipclab import objects, registry
shm = objects.create_posix_shm(4096, tag="stale")
q = objects.create_sysv_msg()
print(registry.current().id, shm.name, q.id, flush=True)
os._exit(0)   # like a kernel killed mid-demo: no finally, no atexit
"""


def test_dead_run_objects_are_swept_by_the_next_run(tmp_path):
    env = dict(os.environ, IPCLAB_STATE_DIR=str(tmp_path))
    env.pop("IPCLAB_RUN_ID")
    out = subprocess.run([sys.executable, "-c", KILLED_KERNEL], env=env, capture_output=True,
                         text=True, check=True, timeout=60).stdout.split()
    run_id, shm_name, qid = out[0], out[1], int(out[2])
    assert os.path.exists("/dev/shm" + shm_name) and inventory.sysv_row("msg", qid)
    # the next kernel (new run, same user) recognises the dead run and removes its objects
    sweep = "from ipclab import registry; registry.current()"
    subprocess.run([sys.executable, "-c", sweep], env=env, check=True, timeout=60)
    assert not os.path.exists("/dev/shm" + shm_name)
    assert inventory.sysv_row("msg", qid) is None
    assert not (tmp_path / run_id).exists()


def test_many_runs_starting_at_once_never_sweep_each_other(tmp_path, monkeypatch):
    """A run folder being made (no meta.json yet) looked dead to a run starting at the same
    instant, which swept it: the first then failed writing its meta.json (CI, as a student)."""
    env = dict(os.environ, IPCLAB_STATE_DIR=str(tmp_path))
    env.pop("IPCLAB_RUN_ID", None)
    start = "from ipclab import registry; print(registry.current().id)"
    procs = [subprocess.Popen([sys.executable, "-c", start], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(12)]
    results = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err[-500:] for _, err in results if err]
    assert len({out.strip() for out, _ in results}) == 12
    # what a run starting now sees: a folder still being made is not a run, a finished one is
    making = tmp_path / ".deadbeef"
    making.mkdir()
    (tmp_path / "0badf00d").mkdir()  # a run folder without meta.json: its owner is unknown, so dead
    monkeypatch.setenv(registry.ENV_STATE, str(tmp_path))
    registry.sweep_dead_runs()
    assert making.is_dir() and not (tmp_path / "0badf00d").exists()


def test_clean_removes_dead_runs_but_not_live_ones(tmp_path):
    env = dict(os.environ, IPCLAB_STATE_DIR=str(tmp_path))
    env.pop("IPCLAB_RUN_ID")
    out = subprocess.run([sys.executable, "-c", KILLED_KERNEL], env=env, capture_output=True,
                         text=True, check=True, timeout=60).stdout.split()
    shm_name = out[1]
    with objects.posix_shm(128, tag="live") as live:   # a live run's object (ours, this run)
        res = subprocess.run([sys.executable, "-m", "ipclab", "clean"], env=env, capture_output=True,
                             text=True, timeout=60)
        assert res.returncode == 0, res.stderr
        assert f"removed posix_shm {shm_name}" in res.stdout
        assert os.path.exists("/dev/shm" + live.name)
    assert not os.path.exists("/dev/shm" + shm_name)


LIVE_KERNEL = """
import sys
from ipclab import objects
shm = objects.create_posix_shm(128, tag="stuck")
print(shm.name, flush=True)
sys.stdin.readline()                 # a stuck kernel: alive until the script lets it go
"""

CLEAN_LIVE = """
import json, os, subprocess, sys
env = dict(os.environ, IPCLAB_STATE_DIR=sys.argv[1])
env.pop("IPCLAB_RUN_ID", None)
stuck = subprocess.Popen([sys.executable, "-c", sys.argv[2]], env=env, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
try:
    name = stuck.stdout.readline().strip()
    clean = [sys.executable, "-m", "ipclab", "clean"]
    plain = subprocess.run(clean, env=env, capture_output=True, text=True, timeout=60)
    kept = os.path.exists("/dev/shm" + name)
    live = subprocess.run(clean + ["--live"], env=env, capture_output=True, text=True, timeout=60)
    gone = not os.path.exists("/dev/shm" + name)
finally:
    stuck.communicate("\\n", timeout=60)
print(json.dumps({"name": name, "plain": plain.stdout, "kept": kept, "live": live.stdout,
                  "live_rc": live.returncode, "gone": gone}))
"""


@pytest.mark.skipif(os.getuid() != 0 or not shutil.which("unshare"),
                    reason="needs root and unshare(1) for private IPC and mount namespaces")
def test_clean_live_also_removes_a_live_runs_objects(tmp_path):
    """`clean` keeps a stuck kernel's objects, `clean --live` removes them.

    `--live` also removes course objects no registry here knows (another state directory),
    so on a shared machine it would take a concurrent test run's objects too: the scenario
    runs in private IPC and mount namespaces (its own /dev/shm, /dev/mqueue, System V ids).
    """
    script = tmp_path / "clean_live.py"
    script.write_text(CLEAN_LIVE)
    setup = "mount -t tmpfs tmpfs /dev/shm"
    if os.path.isdir("/dev/mqueue"):  # no directory, no listing of queues: nothing of the host to hide
        setup += " && mount -t mqueue mqueue /dev/mqueue"
    res = subprocess.run(["unshare", "-m", "-i", "sh", "-c",
                          f'{setup} && exec "$0" "$@"', sys.executable, str(script), str(tmp_path / "state"),
                          LIVE_KERNEL], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["kept"] and "--live removes them" in out["plain"]          # alive: plain clean keeps it
    assert out["live_rc"] == 0 and f"removed posix_shm {out['name']}" in out["live"]
    assert out["gone"]


def test_state_dir_owned_by_someone_else_is_refused(tmp_path, monkeypatch):
    d = tmp_path / "other"
    d.mkdir()
    os.chown(d, 65534, 65534) if os.getuid() == 0 else pytest.skip("needs root to chown")
    monkeypatch.setenv("IPCLAB_STATE_DIR", str(d))
    with pytest.raises(IpclabError, match="not to you"):
        registry.state_dir()


def test_registry_entries_are_json(tmp_path):
    with objects.sysv_msg() as q:
        f = next(f for f in registry.current().path.glob("obj-sysv_msg-*.json") if json.loads(f.read_text())["id"] == q.id)
        e = json.loads(f.read_text())
        assert e["key"] == q.key & 0xFFFFFFFF and e["pid"] == os.getpid()


def test_a_name_collision_is_retried(monkeypatch):
    """Random names can repeat; creation (O_EXCL) must then draw another name, not fail."""
    with objects.posix_shm(64, tag="taken") as taken:
        real = names.posix_name
        draws = iter([taken.name])
        monkeypatch.setattr(names, "posix_name", lambda tag, run: next(draws, None) or real(tag, run))
        with objects.posix_shm(64, tag="taken") as fresh:
            assert fresh.name != taken.name


def test_remove_after_close_still_removes():
    """Closing first, then removing (the order a student may well choose) must not leak."""
    sem = objects.create_posix_sem(1, tag="closed")
    q = objects.create_posix_mq(tag="closed")
    sem.close()
    q.close()
    objects.remove_posix_sem(sem)
    objects.remove_posix_mq(q)
    with pytest.raises(posix_ipc.ExistentialError):
        posix_ipc.Semaphore(sem.name)
    with pytest.raises(posix_ipc.ExistentialError):
        posix_ipc.MessageQueue(q.name)


def test_a_run_from_another_pid_namespace_is_never_judged_dead(tmp_path, monkeypatch):
    """A process in another PID namespace (a container, the grader's box) cannot see this run's
    owner in its /proc; it must leave the run alone, not sweep it as dead (it did: grading as root
    removed the registries of the notebooks running beside it)."""
    import json as _json
    from ipclab.core import registry as reg

    run_dir = tmp_path / "abcdef12"
    run_dir.mkdir()
    # an owner pid that does not exist here, recorded in a namespace that is not ours
    (run_dir / "meta.json").write_text(_json.dumps({"pid": 2**22 + 7, "start": 1, "pidns": "pid:[1]"}))
    run = reg.Run("abcdef12", run_dir)
    assert run.alive() is True
    (run_dir / "meta.json").write_text(_json.dumps({"pid": 2**22 + 7, "start": 1, "pidns": reg.pid_namespace()}))
    assert run.alive() is False                       # same namespace: judged, and dead
    (run_dir / "meta.json").write_text(_json.dumps({"pid": 2**22 + 7, "start": 1}))
    assert run.alive() is False                       # an older record without a namespace: as before
