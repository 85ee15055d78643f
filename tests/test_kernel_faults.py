"""A real Jupyter kernel interrupted or killed in the middle of a demo.

What a student does: presses the stop button while workers run, or restarts the kernel
while a cell hangs. The workers must die, the objects must go, and the next run must start
cleanly.
"""

import os
import signal
import subprocess
import sys
import time

import proctools
import pytest
from jupyter_client.manager import start_new_kernel

from ipclab import inventory, registry

DEMO = """
import sys
sys.path.insert(0, {tests!r})
import workers
from ipclab import objects, procs, registry
with objects.posix_shm(4096, tag="demo") as shm, objects.sysv_sem(0) as sem:
    print("RUN", registry.current().id, shm.name, sem.id, flush=True)
    procs.run(workers.sleeper, n=2, args=(60, {pidfile!r}), start_method={method!r}, timeout=120)
"""


_alive = proctools.alive


_wait_for = proctools.until


@pytest.fixture
def kernel(tmp_path):
    env = dict(os.environ, IPCLAB_STATE_DIR=str(tmp_path / "state"))
    env.pop("IPCLAB_RUN_ID", None)
    km, kc = start_new_kernel(kernel_name="python3", env=env, startup_timeout=60)
    km.test_env = env  # a test that kills this kernel starts the next one with the same environment
    yield km, kc
    kc.stop_channels()
    if km.is_alive():
        km.shutdown_kernel(now=True)
    # whatever a failed test left in the kernel's (now dead) run is swept, not leaked
    subprocess.run([sys.executable, "-m", "ipclab", "clean"], env=env, capture_output=True, timeout=60)


def _start_demo(kc, tmp_path, method):
    pidfile = tmp_path / "pids"
    code = DEMO.format(tests=os.path.dirname(__file__), pidfile=str(pidfile), method=method)
    msg_id = kc.execute(code)
    run = None
    deadline = time.monotonic() + 60
    while run is None and time.monotonic() < deadline:
        msg = kc.get_iopub_msg(timeout=60)
        if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "stream" and "RUN" in msg["content"]["text"]:
            run = msg["content"]["text"].split()
    assert run, "the demo cell did not start"
    assert _wait_for(lambda: pidfile.exists() and len(pidfile.read_text().split()) == 2)
    return msg_id, run[1], run[2], int(run[3]), [int(p) for p in pidfile.read_text().split()]


def _reply_to(kc, msg_id, seconds=60):
    """The shell reply to *msg_id*. Others may come first: start_new_kernel's kernel_info
    request can leave a late reply on the shell channel (seen under load, 5 runs in 12)."""
    deadline = time.monotonic() + seconds
    while True:
        reply = kc.get_shell_msg(timeout=max(0.1, deadline - time.monotonic()))
        if reply["parent_header"].get("msg_id") == msg_id:
            return reply


@pytest.mark.parametrize("method", ["fork", "forkserver"])
def test_interrupt_button_kills_workers_and_removes_objects(kernel, tmp_path, method):
    km, kc = kernel
    msg_id, run_id, shm_name, semid, pids = _start_demo(kc, tmp_path, method)
    km.interrupt_kernel()  # the stop button: SIGINT to the kernel
    reply = _reply_to(kc, msg_id)
    assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "KeyboardInterrupt"
    assert not any(_alive(p) for p in pids)
    assert not os.path.exists("/dev/shm" + shm_name) and inventory.sysv_row("sem", semid) is None


def test_killed_kernel_leaves_nothing_after_the_next_start(kernel, tmp_path):
    km, kc = kernel
    _, run_id, shm_name, semid, pids = _start_demo(kc, tmp_path, "forkserver")
    os.kill(km.provisioner.pid, signal.SIGKILL)  # a hung kernel restarted: no finally, no atexit
    # the workers die with their parent (PR_SET_PDEATHSIG), not left sleeping for a minute
    assert _wait_for(lambda: not any(_alive(p) for p in pids)), "orphan workers survived the kernel"
    assert os.path.exists("/dev/shm" + shm_name) and inventory.sysv_row("sem", semid)  # the leak is real...
    # ...until the next kernel starts ipclab: it recognises the dead run and removes its objects
    # (a fresh kernel, as JupyterLab's restart starts one: a new process, new channels)
    km2, kc2 = start_new_kernel(kernel_name="python3", env=km.test_env, startup_timeout=60)
    try:
        reply = kc2.execute_interactive("from ipclab import registry; registry.current()", timeout=60)
        assert reply["content"]["status"] == "ok"
    finally:
        kc2.stop_channels()
        km2.shutdown_kernel(now=True)
    assert not os.path.exists("/dev/shm" + shm_name) and inventory.sysv_row("sem", semid) is None
