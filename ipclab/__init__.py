"""ipclab: the helper package of the IPC course (chapter 19: shared memory and advanced IPC).

The package is in layers, one folder each; imports point one way (a test enforces it):

``core``          processes, names, registry, objects, inventory, doctor, errors
``mechanisms``    the IPC building blocks: shm, semset, msgq, mapping, page_stats, records
``experiments``   what each notebook runs (races, dining, queue patterns, mmap faults, strace)
``presentation``  figures (``plots``) and ipywidgets front-ends (``widgets``); they measure nothing
``tooling``       grading, lab stubs, release, site, notebook build, the ``ipclab`` command
``bench``         the benchmark (transports, runner, jobs)

Notebooks and labs import the stable short names: ``from ipclab import objects, procs, shm``.
Each short name below is the one public module it stands for, imported on first use.
"""

import importlib

__version__ = "0.1.0"

#: short, stable name -> the module it stands for (the documented public surface)
STABLE_NAMES = {
    # core
    "errors": "ipclab.core.errors",
    "names": "ipclab.core.names",
    "registry": "ipclab.core.registry",
    "objects": "ipclab.core.objects",
    "inventory": "ipclab.core.inventory",
    "procs": "ipclab.core.procs",
    "procinfo": "ipclab.core.procinfo",
    "doctor": "ipclab.core.doctor",
    "cbuild": "ipclab.core.cbuild",
    "cprocs": "ipclab.core.cprocs",
    # mechanisms
    "shm": "ipclab.mechanisms.shm",
    "semset": "ipclab.mechanisms.semset",
    "msgq": "ipclab.mechanisms.msgq",
    "mapping": "ipclab.mechanisms.mapping",
    "page_stats": "ipclab.mechanisms.page_stats",
    "records": "ipclab.mechanisms.records",
    "ccell": "ipclab.mechanisms.ccell",
    "tracing": "ipclab.experiments.tracing",
    # experiments
    "race": "ipclab.experiments.race",
    "overview_demos": "ipclab.experiments.overview_demos",
    "shm_demos": "ipclab.experiments.shm_demos",
    "sysv_demos": "ipclab.experiments.sysv_demos",
    "posix_vs_sysv": "ipclab.experiments.posix_vs_sysv",
    "msgq_demos": "ipclab.experiments.msgq_demos",
    "mmap_demos": "ipclab.experiments.mmap_demos",
    "trace_demos": "ipclab.experiments.trace_demos",
    "strace_log": "ipclab.experiments.strace_log",
    "race_detectors": "ipclab.experiments.race_detectors",
    "debug_workers": "ipclab.experiments.debug_workers",
    "race_window": "ipclab.experiments.race_window",
    "litmus": "ipclab.experiments.litmus",
    "pshared_demos": "ipclab.experiments.pshared_demos",
    "atomicity": "ipclab.experiments.atomicity",
    # presentation
    "plots": "ipclab.presentation.plots",
    "widgets": "ipclab.presentation.widgets",
    # tooling
    "grading": "ipclab.tooling.grading.grading",
    "labkit": "ipclab.tooling.grading.labkit",
    "labtests": "ipclab.tooling.grading.labtests",
    "labgen": "ipclab.tooling.labgen",
    "release": "ipclab.tooling.release",
    "notebooks": "ipclab.tooling.notebooks",
    "book": "ipclab.tooling.book",
    # bench
    "bench": "ipclab.bench.runner",
}

__all__ = ["check", "IpclabError", "STABLE_NAMES", *STABLE_NAMES]


def __getattr__(name):
    """Import a stable name's module on first use (keeps ``import ipclab`` light)."""
    if name == "IpclabError":
        from ipclab.core.errors import IpclabError
        return IpclabError
    if name in STABLE_NAMES:
        module = importlib.import_module(STABLE_NAMES[name])
        globals()[name] = module
        return module
    raise AttributeError(f"module 'ipclab' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))


def check(lab, *args, **kw):
    """Grade your lab module in a notebook: ``ipclab.check("lab1")`` (see :mod:`ipclab.tooling.grading.grading`)."""
    from ipclab.tooling.grading.grading import check as _check
    return _check(lab, *args, **kw)
