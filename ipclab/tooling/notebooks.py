"""Build the committed notebooks from their readable sources, executed top to bottom.

Why: a notebook is read on GitHub with its outputs and plots, and checked by nbval against
those outputs, so it must be committed *executed*, with counts in order and no noisy
metadata. Its source of truth is the paired ``notebooks/py/NAME.py`` (jupytext percent
format: reviewable diffs, no JSON). One command regenerates everything::

    ipclab notebooks            # build and execute every notebook (and lab brief)
    ipclab notebooks 01         # only those whose name contains "01"
    ipclab notebooks --check    # fail if a .ipynb's cells differ from its .py source
"""

import os
import sys
from pathlib import Path

from ipclab.core.paths import COURSE_ROOT as ROOT  # noqa: E402

__all__ = ["SOURCE_DIRS", "KEEP_NB_METADATA", "REVEAL_TAG", "CELL_TIMEOUT", "sources", "read_source",
           "clean", "execute", "build", "out_of_sync", "add_arguments", "main"]
# each may hold a py/ folder of sources; notebooks/answers/ holds one answers notebook per chapter
SOURCE_DIRS = [ROOT / "notebooks", ROOT / "notebooks" / "answers", ROOT / "labs"]
KEEP_NB_METADATA = ("kernelspec", "ipclab")
#: A code cell tagged ``reveal`` holds an answer: its output is stored (nbval checks it) but
#: collapsed when the notebook opens (JupyterLab's ``jupyter.outputs_hidden``; the book's
#: ``hide-output`` toggle), so a student predicts before clicking to see it.
REVEAL_TAG = "reveal"
CELL_TIMEOUT = 180


def sources(pattern=""):
    """(source .py, target .ipynb) pairs whose name contains *pattern*."""
    pairs = []
    for d in SOURCE_DIRS:
        for src in sorted((d / "py").glob("*.py")):
            if pattern in src.stem:
                pairs.append((src, d / f"{src.stem}.ipynb"))
    return pairs


def read_source(src):
    import jupytext
    nb = jupytext.read(src)
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    return nb


def clean(nb):
    """Drop what changes from run to run and says nothing: timings, ids, jupytext and widget state."""
    nb.metadata = {k: v for k, v in nb.metadata.items() if k in KEEP_NB_METADATA}
    nb.metadata["language_info"] = {"name": "python"}
    for i, cell in enumerate(nb.cells):
        tags = list(cell.metadata.get("tags") or [])
        cell.metadata = {}
        if REVEAL_TAG in tags and cell.cell_type == "code":
            tags += [] if "hide-output" in tags else ["hide-output"]
            cell.metadata["jupyter"] = {"outputs_hidden": True}
        if tags:
            cell.metadata["tags"] = tags
        cell["id"] = f"cell-{i:03d}"
    return nb


def execute(nb, cwd):
    """Run every cell in a fresh kernel of this interpreter, in *cwd*."""
    from nbclient import NotebookClient
    os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
    NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3", record_timing=False,
                   resources={"metadata": {"path": str(cwd)}}).execute()
    return nb


def build(src, target, run=True):
    import nbformat
    nb = read_source(src)
    if run:
        execute(nb, target.parent)
    nb = clean(nb)
    if run:  # who ran it: the committed outputs are an ordinary user's (issue 15), a test checks
        nb.metadata["ipclab"] = {"built_as": "root" if os.getuid() == 0 else "ordinary user"}
    nbformat.write(nb, target)


def out_of_sync(src, target):
    """Why *target* does not match *src* (cell kinds and sources), or '' if it does."""
    import nbformat
    if not target.exists():
        return f"{target.name} is missing"
    want = [(c.cell_type, c.source.strip()) for c in read_source(src).cells]
    have = [(c.cell_type, c.source.strip()) for c in nbformat.read(target, as_version=4).cells]
    if want == have:
        return ""
    for i, (w, h) in enumerate(zip(want, have)):
        if w != h:
            return f"{target.name}: cell {i} differs from {src.relative_to(ROOT)}"
    return f"{target.name}: {len(have)} cells, its source has {len(want)}"


def add_arguments(parser):
    parser.add_argument("pattern", nargs="?", default="", help="only notebooks whose name contains this")
    parser.add_argument("--check", action="store_true", help="only check .ipynb files match their sources")
    parser.add_argument("--no-run", action="store_true", help="write without executing")


def main(args):
    pairs = sources(args.pattern)
    if not pairs:
        from ipclab.core.errors import BadArgument
        raise BadArgument(f"no notebook source matches {args.pattern!r}; sources are "
                          + ", ".join(s.stem for s, _ in sources()))
    if args.check:
        problems = [p for p in (out_of_sync(s, t) for s, t in pairs) if p]
        print("\n".join(problems) or f"{len(pairs)} notebooks match their sources")
        return 1 if problems else 0
    for src, target in pairs:
        print(f"building {target.relative_to(ROOT)} ...", flush=True)
        build(src, target, run=not args.no_run)
    return 0
