"""Write the student edition of the course: ``ipclab release DIR``.

What a student gets: the notebooks, the labs (briefs and the generated stubs), the ipclab
package with the *visible* lab tests, and what it takes to install and run them. What a
student never gets: ``solutions/`` (the reference code), ``grading/`` (hidden tests), the
developers' ``tests/`` (which include the broken submissions and solution checks), git and
CI files. The edition is checked after it is written: no solution marker, no hidden test,
stubs identical to what :mod:`ipclab.tooling.labgen` makes.

Answers (``notebooks/answers/``, one notebook per chapter with the worked answer of every
"Try it" and exercise) are kept by default, for self-study. ``--no-answers`` leaves them out,
for a graded course: the folder is not copied, and every link to it in the chapter notebooks
(``[answer](answers/NN_name_answers.ipynb#try-1)``, in the ``.ipynb`` and in its ``py/``
source alike, so the two stay in step) becomes plain text saying the answer is withheld.
"""

import re
import shutil
from pathlib import Path

from ipclab.tooling import labgen
from ipclab.core.errors import IpclabError

from ipclab.core.paths import COURSE_ROOT as ROOT  # noqa: E402

__all__ = ["INCLUDE", "NEVER_TOP", "NEVER_ANYWHERE", "ANSWERS", "ANSWER_LINK", "WITHHELD", "withhold_link",
           "withhold_answers", "teacher_material", "IGNORE", "write", "audit", "add_arguments", "main"]
INCLUDE = ["README.md", "CONTRIBUTING.md", "pyproject.toml", "environment.yml", "course", "notebooks",
           "labs", "ipclab", "bench", "docs"]
# Teacher material lives in top-level folders only: ``ipclab/tooling/grading/`` (the grader
# students run on their own labs) is part of the package and is released.
NEVER_TOP = {"solutions", "grading", "tests", ".git", ".ci", ".venv", "build"}
NEVER_ANYWHERE = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache"}


ANSWERS = Path("notebooks", "answers")
#: a markdown link into notebooks/answers/ from a chapter notebook (text, target)
ANSWER_LINK = re.compile(r"\[([^\]\n]*)\]\((?:\.\./)?answers/[^)\s]*\)")
WITHHELD = "withheld in this edition"


def withhold_link(match):
    """``[answer](answers/x.ipynb#a)`` -> ``answer withheld in this edition``; other texts keep their words."""
    text = match.group(1)
    return f"{text} {WITHHELD}" if text.lower() == "answer" else f"{text} ({WITHHELD})"


def withhold_answers(dest):
    """Remove ``notebooks/answers`` from the edition at *dest*; unlink the chapters' links to it.

    Returns the files whose links were rewritten.
    """
    dest = Path(dest)
    shutil.rmtree(dest / ANSWERS, ignore_errors=True)
    changed = []
    for p in sorted([*(dest / "notebooks").glob("*.ipynb"), *(dest / "notebooks" / "py").glob("*.py")]):
        text = p.read_text()
        new = ANSWER_LINK.sub(withhold_link, text)
        if new != text:
            p.write_text(new)
            changed.append(p.relative_to(dest))
    return changed


def teacher_material(rel):
    """True if the course path *rel* (relative to the checkout) is never given to students."""
    parts = Path(rel).parts
    return bool(parts) and (parts[0] in NEVER_TOP or any(p in NEVER_ANYWHERE for p in parts))


IGNORE = shutil.ignore_patterns(*NEVER_ANYWHERE, "*.pyc", "*.egg-info", "*.orig", "*.rej")


def write(dest, force=False, site=True, answers=True):
    """Copy the student edition to *dest*; return the list of files written.

    *site*: also build the edition's own book into ``dest/site`` from what the edition holds
    (:mod:`ipclab.tooling.book`), so it shows no solution and no hidden test.
    *answers*: keep ``notebooks/answers`` (self-study); False withholds them
    (:func:`withhold_answers`), for a graded course.
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
    if not answers:
        withhold_answers(dest)
    problems = audit(dest, answers=answers)
    if problems:
        shutil.rmtree(dest)
        raise IpclabError("the release would leak teacher material, nothing written:\n  " + "\n  ".join(problems))
    if site:
        from ipclab.tooling import book
        book.build(dest / "site", root=dest)
    return sorted(p.relative_to(dest) for p in dest.rglob("*") if p.is_file())


def audit(dest, answers=True):
    """Why *dest* is not a clean student edition (empty list if it is).

    With ``answers=False`` the answers notebooks, and any link to them, are teacher material too.
    """
    dest = Path(dest)
    out = [f"{p.relative_to(dest)} must not be released" for p in dest.rglob("*")
           if teacher_material(p.relative_to(dest))]
    if not answers:
        if (dest / ANSWERS).exists():
            out.append(f"{ANSWERS} must not be released with --no-answers")
        out += [f"{p.relative_to(dest)} still links to an answers notebook"
                for p in [*(dest / "notebooks").glob("*.ipynb"), *(dest / "notebooks" / "py").glob("*.py")]
                if ANSWER_LINK.search(p.read_text())]
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
    parser.add_argument("--no-answers", action="store_true",
                        help="leave out notebooks/answers/ (the worked answers to every 'Try it' and exercise), "
                             "for a graded course; the chapters' links to them then say the answer is withheld "
                             "in this edition. Without it the answers are kept, for self-study")


def main(args):
    files = write(args.dest, args.force, site=not args.no_site, answers=not args.no_answers)
    labs = sorted(p.name for p in files if p.parts[0] == "labs" and p.suffix == ".py" and len(p.parts) == 2)
    print(f"wrote the student edition to {args.dest}: {len(files)} files; labs: {', '.join(labs) or 'none'}")
    print("not included: solutions/, grading/ (hidden tests), tests/, git and CI files"
          + (", notebooks/answers/ (--no-answers: the chapters say the answers are withheld)" if args.no_answers
             else "; included: notebooks/answers/ (leave them out with --no-answers)"))
    if not args.no_site:
        print(f"its book (no solutions, no hidden tests): {Path(args.dest) / 'site' / 'index.html'}")
    return 0
