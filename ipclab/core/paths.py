"""Where things are: the package's data files, and the course checkout (notebooks, labs).

One place for every path, so nothing reaches the course through ``parent.parent``. The
package's own data (C sources, recorded traces) ships inside it (declared as package data);
the course tree (notebooks/, labs/, solutions/, grading/) is found from ``IPCLAB_COURSE``, the
current folder or its parents, or the checkout an editable install points to.
"""

import os
from pathlib import Path

__all__ = ["PACKAGE_DIR", "C_DIR", "DATA_DIR", "course_root", "COURSE_ROOT"]

PACKAGE_DIR = Path(__file__).resolve().parent.parent
C_DIR = PACKAGE_DIR / "c"
DATA_DIR = PACKAGE_DIR / "data"


def _is_course(path):
    return (path / "notebooks").is_dir() and (path / "labs").is_dir()


def course_root():
    """The course checkout: $IPCLAB_COURSE, else the current folder or a parent, else the package's parent."""
    env = os.environ.get("IPCLAB_COURSE")
    if env:
        return Path(env).resolve()
    here = Path.cwd().resolve()
    for p in (here, *here.parents):
        if _is_course(p):
            return p
    return PACKAGE_DIR.parent


COURSE_ROOT = course_root()
