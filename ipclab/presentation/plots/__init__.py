"""matplotlib figures from experiment results, one module per topic (no measuring here).

Experiments (``ipclab.experiments.race``, ``ipclab.bench.runner``...) return plain results; functions here
only draw them and return the ``Figure``, so a notebook calls the experiment, then the plot.
"""
