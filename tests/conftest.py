"""Fixtures for the unit tests: a leak check around every test, and worker modules on the path."""

import os
import sys

import pytest

from ipclab import inventory, procs

sys.path.insert(0, os.path.dirname(__file__))  # tests/workers.py, for spawn and forkserver too
os.environ["PYTHONPATH"] = os.path.dirname(__file__) + os.pathsep + os.environ.get("PYTHONPATH", "")


@pytest.fixture(autouse=True)
def no_leaks():
    """Every test must remove what it creates: a leftover fails the test that made it."""
    with inventory.leak_check():
        yield


@pytest.fixture(params=procs.START_METHODS)
def start_method(request):
    return request.param
