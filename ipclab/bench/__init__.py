"""The benchmark: one transport definition per mechanism, the runner, and the jobs notebooks
use. May import :mod:`ipclab.mechanisms` and :mod:`ipclab.core`.
"""
