"""Write the student edition of the course: ``ipclab release DIR``.

What a student gets: the notebooks, the labs (briefs and the generated stubs), the ipclab
package with the *visible* lab tests, and what it takes to install and run them. What a
student never gets: ``solutions/`` (the reference code), ``grading/`` (hidden tests), the
developers' ``tests/`` (which include the broken submissions and solution checks), git and
CI files. The edition is checked after it is written: no solution marker, no hidden test,
stubs identical to what :mod:`ipclab.tooling.labgen` makes.
"""

import shutil
from pathlib import Path

from ipclab.tooling import labgen
from ipclab.core.errors import IpclabError

from ipclab.core.paths import COURSE_ROOT as ROOT  # noqa: E402
INCLUDE = ["README.md", "CONTRIBUTING.md", "pyproject.toml", "environment.yml", "course", "notebooks",
           "labs", "ipclab", "bench", "docs"]
# Teacher material lives in top-level folders only: ``ipclab/tooling/grading/`` (the grader
# students run on their own labs) is part of the package and is released.
NEVER_TOP = {"solutions", "grading", "tests", ".git", ".ci", ".venv", "build"}
NEVER_ANYWHERE = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache"}


def teacher_material(rel):
    """True if the course path *rel* (relative to the checkout) is never given to students."""
    parts = Path(rel).parts
    return bool(parts) and (parts[0] in NEVER_TOP or any(p in NEVER_ANYWHERE for p in parts))


IGNORE = shutil.ignore_patterns(*NEVER_ANYWHERE, "*.pyc", "*.egg-info", "*.orig", "*.rej")


def write(dest, force=False, site=True):
    """Copy the student edition to *dest*; return the list of files written.

    *site*: also build the edition's own book into ``dest/site`` from what the edition holds
    (:mod:`ipclab.tooling.book`), so it shows no solution and no hidden test.
    """
    dest = Path(dest).resolve()
    if dest == ROOT or ROOT in dest.parents:
        raise IpclabError(f"{dest} is inside the course checkout: choose a folder outside {ROOT}")
    if dest.exists() and any(dest.iterdir()):
        if not force:
            raise IpclabError(f"{dest} is not empty: choose a new folder, or pass --force to replace it")
        shutil.rmtree(dest)
    bad = labgen.problems()
    if bad:
        raise IpclabError("the lab stubs are out of step with solutions/: run `python -m ipclab.tooling.labgen` "
                          "and commit, then release again:\n  " + "\n  ".join(bad))
    dest.mkdir(parents=True, exist_ok=True)
    for name in INCLUDE:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=IGNORE)
        elif src.exists():
            shutil.copy2(src, dest / name)
    problems = audit(dest)
    if problems:
        shutil.rmtree(dest)
        raise IpclabError("the release would leak teacher material, nothing written:\n  " + "\n  ".join(problems))
    if site:
        from ipclab.tooling import book
        book.build(dest / "site", root=dest)
    return sorted(p.relative_to(dest) for p in dest.rglob("*") if p.is_file())


def audit(dest):
    """Why *dest* is not a clean student edition (empty list if it is)."""
    dest = Path(dest)
    out = [f"{p.relative_to(dest)} must not be released" for p in dest.rglob("*")
           if teacher_material(p.relative_to(dest))]
    for p in dest.rglob("*.py"):
        if p.relative_to(dest) == Path("ipclab", "tooling", "labgen.py"):  # the tool that names the markers
            continue
        lines = {line.strip() for line in p.read_text(errors="replace").splitlines()}
        if labgen.BEGIN in lines or labgen.END in lines:
            out.append(f"{p.relative_to(dest)} contains a solution region")
    for sol, stub in labgen.pairs():
        if not (dest / "labs" / stub.name).exists():
            out.append(f"labs/{stub.name} is missing")
    return out


def add_arguments(parser):
    parser.add_argument("dest", help="an empty folder (outside the course checkout) for the student edition")
    parser.add_argument("--force", action="store_true", help="replace DEST if it is not empty")
    parser.add_argument("--no-site", action="store_true", help="do not build the edition's book into DEST/site")


def main(args):
    files = write(args.dest, args.force, site=not args.no_site)
    labs = sorted(p.name for p in files if p.parts[0] == "labs" and p.suffix == ".py" and len(p.parts) == 2)
    print(f"wrote the student edition to {args.dest}: {len(files)} files; labs: {', '.join(labs) or 'none'}")
    print("not included: solutions/, grading/ (hidden tests), tests/, git and CI files")
    if not args.no_site:
        print(f"its book (no solutions, no hidden tests): {Path(args.dest) / 'site' / 'index.html'}")
    return 0
