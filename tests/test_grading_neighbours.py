"""Grading leaves the rest of the machine alone: a notebook running beside the grader keeps its
registry and its objects (the grader's trusted test process lives in another PID namespace,
where every other run's owner looks dead; it once swept them all)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NEIGHBOUR = """
import sys, time
from ipclab import objects, registry
shm = objects.create_posix_shm(4096, tag="neighbour")
print(registry.current().id, shm.name, flush=True)
sys.stdin.readline()   # lives until the test says so
"""


def test_a_live_run_beside_the_grader_keeps_its_registry_and_objects(tmp_path):
    env = dict(os.environ, IPCLAB_STATE_DIR=str(tmp_path / "state"))
    env.pop("IPCLAB_RUN_ID", None)
    neighbour = subprocess.Popen([sys.executable, "-c", NEIGHBOUR], env=env, stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, text=True)
    try:
        run_id, name = neighbour.stdout.readline().split()
        grade = subprocess.run([sys.executable, "-m", "ipclab", "grade", "lab3", "--submission",
                                str(ROOT / "solutions" / "lab3_messages.py")],
                               env=env, capture_output=True, text=True, timeout=600, cwd=ROOT)
        assert "all tests passed" in grade.stdout, grade.stdout[-2000:] + grade.stderr[-2000:]
        runs = sorted(p.name for p in (tmp_path / "state").iterdir())
        assert runs == [run_id], f"the grader touched the state folder: {runs}"
        assert os.path.exists("/dev/shm" + name), "the neighbour's segment was removed"
    finally:
        neighbour.communicate("\n", timeout=30)   # it removes its own segment at exit
    assert not os.path.exists("/dev/shm" + name)
