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


# The fast tier (`./course test --fast`, README) leaves these files out: fault injection, real
# kernels, slow grading, whole-course builds, classes of users. Each is still in every full run.
SLOW_FILES = {
    "test_fault_injection.py",   # 200 SIGKILL injections
    "test_kernel_faults.py",     # real Jupyter kernels interrupted and killed
    "test_broken_lab45.py",      # broken submissions graded to their time limits
    "test_classroom.py",         # a JupyterHub with three Unix users
    "test_concurrent_runs.py",   # two test runs at once
    "test_release_student.py",   # the student edition, built and tested
    "test_labs.py",              # every lab brief executed, every solution and stub graded
    "test_grading.py",           # the grader on broken submissions, batches, Gradescope
    "test_grading_neighbours.py",  # a whole lab graded beside a live run
    "test_installed.py",         # pip install . into a copy of the environment, then doctor and grade
    "test_site.py",              # the course built as a book
    "test_suite_leak_check.py",  # the suite's own leak check, in a pytest run of its own
    "test_ctrack.py",            # lab 1 in C: reference, stub and C mutants graded (about 35 s)
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.name in SLOW_FILES:
            item.add_marker(pytest.mark.slow)
