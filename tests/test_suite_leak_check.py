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


def test_two_workers_run_a_notebook_whole_in_one_kernel():
    """./course test's xdist scheduler keeps a notebook's cells together (they share a kernel:
    cell 1 uses what cell 0 imported); a run that split them failed every notebook."""
    notebook = "notebooks/answers/08_pipes_fifos_signals_answers.ipynb"
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "2", "--dist", "loadfile",
                          "-v", notebook, "tests/test_kinds.py"],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-3000:]
    cells = [line for line in out.splitlines() if line.startswith("[gw") and "Cell " in line]
    assert len(cells) >= 4, out[-3000:]
    assert len({line.split()[0] for line in cells}) == 1, "\n".join(cells)  # one worker ran them all
