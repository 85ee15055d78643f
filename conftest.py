"""Session-wide rules for the whole suite (tests/ and nbval over notebooks/).

The suite is one ipclab run: the notebook kernels nbval starts inherit IPCLAB_RUN_ID and
join it. At the end, any course object of this run still present is a leak: it is
reported, removed, and the session fails.
"""

import re

import pytest

from ipclab import inventory, registry

RUN = registry.current()


def pytest_sessionfinish(session, exitstatus):
    leaked = inventory.course_objects(RUN.id)
    if leaked:
        inventory.remove_rows(leaked)
        print(f"\nLEAK: the suite left {len(leaked)} IPC object(s) behind:\n{inventory.format_rows(leaked)}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


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
