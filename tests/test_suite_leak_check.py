"""The suite's own leak check holds when ``./course test`` runs two test processes (xdist).

Each xdist worker is an ipclab run of its own (root conftest.py), so a worker's leaks would
otherwise die with it: they travel to the controller, which fails the session. A probe suite
leaves one segment after its tests, in a worker and without workers; both runs must fail and
name it, and nothing of it may remain.
"""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ipclab import inventory

ROOT = Path(__file__).resolve().parents[1]
PROBE = textwrap.dedent('''
    import pytest
    from ipclab import objects

    @pytest.fixture(scope="module")
    def leaver():
        yield
        objects.create_posix_shm(4096, tag="suiteprobe")  # after the module's tests: no test sees it

    def test_leaves_a_segment_behind(leaver):
        pass

    def test_another_file_runs_beside_it():
        pass
''')


@pytest.mark.parametrize("workers", [[], ["-n", "2", "--dist", "loadfile"]], ids=["one-process", "xdist"])
def test_a_leak_after_the_tests_fails_the_session(workers):
    probe = ROOT / "tests" / "test_zz_suite_leak_probe.py"  # under the root conftest.py
    probe.write_text(PROBE)
    try:
        run = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:nbval",
                              "-o", "addopts=", "-q", *workers, str(probe)],
                             cwd=ROOT, capture_output=True, text=True, timeout=240)
    finally:
        probe.unlink()
    out = run.stdout + run.stderr
    assert run.returncode == 1, out
    assert "LEAK" in out and "suiteprobe" in out, out
    assert not [r for r in inventory.course_objects() if "suiteprobe" in (r["name"] or "")]
