"""ipclab: the helper package of the IPC course (chapter 19: shared memory and advanced IPC).

The notebooks import what they teach from here; the plumbing (processes, names, cleanup,
inspection) lives in small modules, one job each:

``procs``     start real workers safely      ``names``/``registry``  unique names, cleanup
``objects``   create 0600 objects, removed   ``inspect``  what exists now, leak checks
``doctor``    what this machine supports     ``errors``   exceptions that say what to do
"""

from . import errors, names, registry  # noqa: F401
from .errors import IpclabError  # noqa: F401

__version__ = "0.1.0"


def check(lab, *args, **kw):
    """Grade your lab module in a notebook: ``ipclab.check("lab1")`` (see :mod:`ipclab.grading`)."""
    from .grading import check as _check
    return _check(lab, *args, **kw)
