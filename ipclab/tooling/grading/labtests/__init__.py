"""The visible tests of each lab, one module per lab (``lab1.py`` ...), shipped to students.

Each module names its lab (``LAB``, ``TITLE``), the file the student edits (``MODULE``,
found in ``labs/``), how many hidden tests the teacher also runs (``HIDDEN``; they live in
``grading/hidden/labN.py``, which a student release does not contain), and its tests
written with :mod:`ipclab.tooling.grading.labkit`.
"""

import importlib
import pkgutil


def lab_ids():
    """Every lab that has tests: ``['lab1', 'lab3', ...]`` in numeric order."""
    found = [m.name for m in pkgutil.iter_modules(__path__) if m.name.startswith("lab")]
    return sorted(found, key=lambda s: int(s[3:]))


def lab_module(lab):
    """The visible-test module of *lab* (``'lab1'`` or ``1``)."""
    lab = lab if str(lab).startswith("lab") else f"lab{lab}"
    return importlib.import_module(f"{__name__}.{lab}")
