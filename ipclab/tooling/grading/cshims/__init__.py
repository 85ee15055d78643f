"""The C track's adapters: a student's C library presented through the Python lab API.

One module per lab (``lab1.py`` ...). It runs inside the grading box, in the process that
serves the test (the agent), where the grader's generated ``MODULE.py`` loads it: the visible
and hidden tests of the Python track then run unchanged against the C code. Nothing here is
trusted: like the student's Python module, it only turns calls into results, and the verdicts
are decided outside the box (see :mod:`ipclab.tooling.grading.ctrack`).
"""
