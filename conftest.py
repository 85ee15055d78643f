"""Session-wide rules for the whole suite (tests/ and nbval over notebooks/).

The suite is one ipclab run per test process: the notebook kernels nbval starts inherit
IPCLAB_RUN_ID and join it. Under pytest-xdist (``./course test`` runs two workers on a
machine with two CPUs or more) each worker is a run of its own, so one worker's per-test
leak check never mistakes the other's objects for its own leaks. At the end, any course
object of a run still present is a leak: it is reported, removed, and the session fails
(a worker's leaks travel to the controller in ``workeroutput``, xdist's channel for that).
"""

import os
import re

import pytest

from ipclab import inventory, registry

if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.pop(registry.ENV_RUN, None)  # not the controller's run: one of this worker's own
RUN = registry.current()
LEAKS_KEY = "ipclab_leaks"
_worker_leaks = []  # in the controller: what the workers reported


def pytest_sessionfinish(session, exitstatus):
    from ipclab.mechanisms import ccell
    ccell.sweep_dead_dirs()  # the %%worker folders of nbval's kernels: killed at shutdown, no atexit ran
    leaked = inventory.course_objects(RUN.id)
    if leaked:
        inventory.remove_rows(leaked)
        report = f"the suite left {len(leaked)} IPC object(s) behind:\n{inventory.format_rows(leaked)}"
        print(f"\nLEAK: {report}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        if hasattr(session.config, "workeroutput"):
            session.config.workeroutput[LEAKS_KEY] = report
    if _worker_leaks:
        print("\nLEAK (reported by a test worker): " + "\nLEAK: ".join(_worker_leaks))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# Files whose tests start the grader's boxes. They run one after another in one xdist worker:
# a box's processes are found by the box uid range, which two graders at once would share (a
# test that checks no box process outlived its grading would see the other worker's boxes).
GRADING_BOX_FILES = {
    "test_adversarial.py", "test_broken_lab45.py", "test_classroom.py", "test_grading.py",
    "test_grading_neighbours.py", "test_grading_protocol.py", "test_installed.py", "test_labs.py",
    "test_mutants.py", "test_no_answer_ships.py", "test_release_student.py", "test_sandbox.py", "test_ctrack.py",
}


@pytest.hookimpl(optionalhook=True)  # an xdist hook: without xdist, never called
def pytest_xdist_make_scheduler(config, log):
    """``--dist loadfile``, but the grading-box files count as one file: they run one after
    another in one worker. (Every other file runs whole in one worker: a notebook's cells share
    one kernel, a module's fixtures are built once.)"""
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class GradingBoxesTogether(LoadFileScheduling):
        def _split_scope(self, nodeid):
            path = nodeid.split("::", 1)[0]
            return "grading-boxes" if path.rsplit("/", 1)[-1] in GRADING_BOX_FILES else path

    return GradingBoxesTogether(config, log)


@pytest.hookimpl(optionalhook=True)  # an xdist hook: without xdist, never called
def pytest_testnodedown(node, error):
    """xdist, in the controller: a worker finished; keep the leaks it reported."""
    report = getattr(node, "workeroutput", {}).get(LEAKS_KEY)
    if report:
        _worker_leaks.append(f"{node.gateway.id}: {report}")


NEEDS_OTHER_USER = "IPCLAB_NEEDS_OTHER_USER"


SKIP_UNLESS = re.compile(r"""^[ \t]*if doctor\.skip_unless\(["'](\w+)["']\):""", re.MULTILINE)  # a guarded demo cell


def pytest_runtest_setup(item):
    """Notebook cells whose demo this machine cannot run skip under nbval, saying why.

    A cell marked IPCLAB_NEEDS_OTHER_USER skips where no second user exists (not root, no
    subordinate uids); a cell guarded by ``doctor.skip_unless("gcc")`` (or another check) skips
    where that check fails. In both cases the notebook itself prints the same reason to the
    student, and its stored output is the run where the demo ran."""
    cell = getattr(item, "cell", None)  # nbval's cell items
    if cell is None:
        return
    for name in SKIP_UNLESS.findall(cell.get("source", "")):
        from ipclab.core import doctor
        from ipclab.core.errors import NotSupported
        try:
            doctor.require(name)
        except NotSupported as why:
            pytest.skip(f"this machine cannot run the cell's demo: {why}")
    if NEEDS_OTHER_USER in cell.get("source", ""):
        from ipclab.core import asuser
        from ipclab.core.errors import NotSupported
        try:
            asuser.other_user()
        except NotSupported as why:
            pytest.skip(f"no second user on this machine: {why}")
