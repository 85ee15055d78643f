"""Session-wide rules for the whole suite (tests/ and nbval over notebooks/).

The suite is one ipclab run: the notebook kernels nbval starts inherit IPCLAB_RUN_ID and
join it. At the end, any course object of this run still present is a leak: it is
reported, removed, and the session fails.
"""

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


def pytest_runtest_setup(item):
    """A notebook cell marked IPCLAB_NEEDS_OTHER_USER skips, with the reason, where no second
    user exists (not root, no subordinate uids): the cell before it says the same to the student."""
    cell = getattr(item, "cell", None)  # nbval's cell items
    if cell is not None and NEEDS_OTHER_USER in cell.get("source", ""):
        from ipclab.core import asuser
        from ipclab.core.errors import NotSupported
        try:
            asuser.other_user()
        except NotSupported as why:
            pytest.skip(f"no second user on this machine: {why}")
