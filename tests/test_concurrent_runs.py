"""Two test runs at the same time, as two students of one class on one server would.

Each run is its own ipclab run (own names, own registry directory); they share the user,
the kernel's System V namespace and /dev/shm. Both must pass and leave nothing behind.
(Two *users* at once: see test_isolation.test_two_users_at_once_do_not_collide.)
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SUBSET = ["tests/test_names_registry.py", "tests/test_inspect_doctor_cli.py", "tests/test_bad_input.py",
          "tests/test_procs.py::test_timeout_kills_and_reaps_everyone",
          "tests/test_procs.py::test_objects_of_a_crashed_child_are_removed"]


@pytest.mark.timeout(600)
def test_two_runs_at_once_both_pass():
    env = dict(os.environ)
    env.pop("IPCLAB_RUN_ID", None)
    env.pop("PYTEST_ADDOPTS", None)
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-o", "addopts=", *SUBSET]
    runs = [subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for _ in range(2)]
    outputs = []
    try:
        for p in runs:
            outputs.append(p.communicate(timeout=500)[0])
    finally:
        for p in runs:
            if p.poll() is None:
                p.kill()
    for p, out in zip(runs, outputs):
        assert p.returncode == 0, out[-3000:]
        assert " passed" in out and "LEAK" not in out
