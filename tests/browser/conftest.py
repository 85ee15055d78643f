"""The browser tests never skip silently: the reason is printed at the end of every run."""

import pytest

_REASONS = []  # why the browser tests could not run here


@pytest.fixture(scope="session")
def browser_skips():
    """Append a reason here when skipping: the terminal summary prints it."""
    return _REASONS


def pytest_terminal_summary(terminalreporter):
    for reason in dict.fromkeys(_REASONS):
        terminalreporter.write_sep("=", "browser tests SKIPPED", yellow=True, bold=True)
        terminalreporter.write_line(reason)
