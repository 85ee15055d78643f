"""Figures and widgets: they present experiments' plain results and measure nothing.
May import :mod:`ipclab.experiments`, :mod:`ipclab.mechanisms` and :mod:`ipclab.core`.
"""
