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
