"""What each notebook runs: races, dining philosophers, SEM_UNDO kills, queue patterns,
mmap faults, strace demos. They return plain results; :mod:`ipclab.presentation` draws them.
May import :mod:`ipclab.mechanisms` and :mod:`ipclab.core`.
"""
