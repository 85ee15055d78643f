"""Course tooling: the grader, lab stubs, the student release, the site, the notebook build
and the ``ipclab`` command. May import anything below it.
"""
