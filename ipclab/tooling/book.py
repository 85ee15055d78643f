"""The course as a book: ``ipclab site [OUT]`` builds it with Sphinx, myst-nb and sphinx-book-theme.

Why this stack: course sites in the field are MyST + Sphinx (Jupyter Book 1 is the same
stack). It gives what a reader needs without code of ours: a sidebar table of contents in
chapter order, previous/next links, full-text search, highlighted code, a launch button
per notebook (Binder, and a JupyterHub through nbgitpuller) and a download button for the
``.ipynb``. It builds offline (the theme's assets ship in its wheel; Jupyter Book 2 would
fetch its theme from the internet at build time).

What goes in (see :mod:`ipclab.tooling.book_sources`): the executed notebooks as committed
(never re-executed: ``nb_execution_mode = "off"``), the lab briefs, ``notebooks/answers/``
where the edition has it, and docs/INSTRUCTOR, RELIABILITY, DEPLOY. Figures keep their
alt text (:mod:`ipclab.tooling.book_alt`). The Sphinx configuration is
``ipclab/tooling/book_src/conf.py`` (package data, so an installed ipclab builds the book).

What a teacher sets per build, by option or environment variable:

* ``--repo`` / ``IPCLAB_REPO_URL``: the course's git repository (launch and repository
  buttons), default ``https://github.com/OWNER/ipclab`` as in the README;
* ``--branch`` / ``IPCLAB_REPO_BRANCH``: default ``main``;
* ``--hub`` / ``IPCLAB_HUB_URL``: the class's JupyterHub (``https://hub.example.edu``):
  each notebook page then has a "JupyterHub" launch link
  (``HUB/hub/user-redirect/git-pull?repo=REPO&urlpath=lab/tree/NAME/PATH&branch=BRANCH``)
  that pulls the repository into the student's server with nbgitpuller (installed on the
  hub); nbgitpuller clones into a folder named after the repository URL's last part
  (``repo.split('/')[-1]`` in jupyterhub/nbgitpuller ``nbgitpuller/handlers.py``), hence
  NAME. Without a hub there is no JupyterHub button;
* ``--binder`` / ``IPCLAB_BINDER_URL``: a BinderHub, default ``https://mybinder.org``
  (``none`` for no Binder button).

The student edition (``ipclab release``) builds its own book from its own folder
(``build(out, root=edition)``): only what the edition holds is published. No book is built if a
solution region would be in it (:func:`audit`); ``solutions/`` and ``grading/`` (hidden tests)
are never read.
"""

import io
import json
import os
import re
import shutil
import tempfile
import warnings as warnings_module
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from ipclab.core.errors import IpclabError
from ipclab.core.paths import COURSE_ROOT as ROOT
from ipclab.tooling import book_sources

__all__ = ["ROOT", "CONF_DIR", "TITLE", "Settings", "Book", "settings", "build", "audit", "add_arguments", "main"]

CONF_DIR = Path(__file__).with_name("book_src")
TITLE = "ipclab: Linux shared memory and advanced IPC"
DEFAULTS = {"repo": "https://github.com/OWNER/ipclab", "branch": "main", "hub": "", "binder": "https://mybinder.org"}
ENV = {"repo": "IPCLAB_REPO_URL", "branch": "IPCLAB_REPO_BRANCH", "hub": "IPCLAB_HUB_URL", "binder": "IPCLAB_BINDER_URL"}
MARK = ".ipclab-book"  # left in OUT: a later build may replace that folder whole
SOLUTION_MARKS = ("### BEGIN SOLUTION", "### END SOLUTION", "### BEGIN HIDDEN TESTS")


@dataclass
class Settings:
    repo: str
    branch: str
    hub: str      # '' for no JupyterHub button
    binder: str   # '' for no Binder button


@dataclass
class Book:
    out: Path
    pages: list                                    # book_sources.Page, reading order
    problems: list = field(default_factory=list)   # links that lead nowhere, figures without alt text, ...
    settings: Settings = None



def _url(name, value):
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise IpclabError(f"--{name} {value!r} is not a web address: give it as https://host/path "
                          f"(or set {ENV[name]}){'; none turns the button off' if name in ('hub', 'binder') else ''}")
    return value.rstrip("/")


def settings(repo=None, branch=None, hub=None, binder=None):
    """What the launch and repository buttons point to: arguments, else environment, else defaults."""
    given = {"repo": repo, "branch": branch, "hub": hub, "binder": binder}
    got = {k: (v if v is not None else os.environ.get(ENV[k], DEFAULTS[k])).strip() for k, v in given.items()}
    for k in ("hub", "binder"):
        if got[k].lower() in ("", "none", "off"):
            got[k] = ""
    if not re.fullmatch(r"[\w./-]+", got["branch"]):
        raise IpclabError(f"--branch {got['branch']!r} is not a branch name (letters, digits, . _ / -)")
    repo = _url("repo", got["repo"])
    repo = repo[:-len(".git")] if repo.endswith(".git") else repo  # the folder nbgitpuller makes is NAME.git else
    return Settings(repo=repo, branch=got["branch"],
                    hub=got["hub"] and _url("hub", got["hub"]), binder=got["binder"] and _url("binder", got["binder"]))


def _overrides(s):
    launch = {"notebook_interface": "jupyterlab"}
    if s.binder:
        launch["binderhub_url"] = s.binder
    if s.hub:
        launch["jupyterhub_url"] = s.hub
    return {"html_theme_options.repository_url": s.repo,
            "html_theme_options.repository_branch": s.branch,
            "html_theme_options.launch_buttons": launch}


COURSE_DIRS = {"notebooks", "labs", "docs", "ipclab", "solutions", "grading", "tests", "bench", ".git"}


def _prepare(out, root, clear=False):
    """Refuse an OUT that would overwrite the course; with *clear*, remove an earlier book there."""
    if out == root or out in root.parents or (out.parent == root and out.name in COURSE_DIRS):
        raise IpclabError(f"{out} is the course checkout, one of its folders or a folder above it: choose "
                          f"a folder of its own, such as {root / 'site'}")
    if out.exists() and any(out.iterdir()):
        if not (out / MARK).is_file():
            raise IpclabError(f"{out} is not empty and holds no earlier book: choose an empty folder, "
                              "or remove it first")
        if clear:
            shutil.rmtree(out)  # an earlier build: replaced whole, so no page of a removed notebook lingers


_TOGGLE_LABEL = re.compile(r'<summary aria-label="Toggle hidden content">')


def _name_toggles_by_their_text(html_dir):
    """The collapsed outputs' toggles (myst-nb's ``hide-output``) keep only their visible name.

    myst-nb labels each ``<summary>`` "Toggle hidden content" while it shows "Show code cell
    output": a screen reader and a voice-control user then name the same button differently
    (WCAG 2.5.3, axe's label-content-name-mismatch). Without the attribute, the visible text is
    the accessible name.
    """
    for page in Path(html_dir).rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        fixed = _TOGGLE_LABEL.sub("<summary>", text)
        if fixed != text:
            page.write_text(fixed, encoding="utf-8")


def build(out=None, root=ROOT, *, repo=None, branch=None, hub=None, binder=None):
    """Build the book of the course at *root* into *out*; return a :class:`Book`.

    *root* is the course checkout, or the student edition's folder (``ipclab release`` builds
    that edition's own book from what it holds). Either way nothing is built if a solution
    region would be published (:func:`audit`); solutions/ and grading/ are never read.
    """
    from sphinx.application import Sphinx
    from sphinx.util.docutils import docutils_namespace, patch_docutils

    root = Path(root).resolve()
    out = Path(out if out is not None else root / "site").resolve()
    s = settings(repo, branch, hub, binder)
    _prepare(out, root)
    work = Path(tempfile.mkdtemp(prefix="ipclab-book-"))
    try:
        src, html = work / "src", work / "html"  # Sphinx builds in the work folder: myst-nb writes beside
        pages, problems = book_sources.stage(root, src, TITLE)  # its output (../jupyter_execute)
        if not pages:
            raise IpclabError(f"nothing to publish: no notebooks under {root / 'notebooks'} or {root / 'labs'}")
        leaks = audit(src)
        if leaks:
            raise IpclabError("the book would publish teacher material, nothing built:\n  " + "\n  ".join(leaks))
        status, warnings = io.StringIO(), io.StringIO()
        with patch_docutils(CONF_DIR), docutils_namespace(), warnings_module.catch_warnings():
            warnings_module.simplefilter("ignore", DeprecationWarning)  # the theme's and myst's, not ours to fix
            warnings_module.simplefilter("ignore", PendingDeprecationWarning)
            app = Sphinx(str(src), str(CONF_DIR), str(html), str(work / "doctrees"), "html",
                         confoverrides=_overrides(s), status=status, warning=warnings,
                         freshenv=True, warningiserror=False, parallel=0)
            app.build()
        if app.statuscode:
            raise IpclabError(f"Sphinx could not build the book:\n{warnings.getvalue()[-3000:]}")
        problems += _warnings(warnings.getvalue(), src, problems)
        _name_toggles_by_their_text(html)
        _prepare(out, root, clear=True)  # only now: a failed build leaves the earlier book as it was
        shutil.copytree(html, out, dirs_exist_ok=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    (out / MARK).write_text("built by `ipclab site`; a new build replaces this folder\n", encoding="utf-8")
    return Book(out, pages, problems, s)


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _warnings(text, src, known):
    """Sphinx's warnings, one line each, paths relative to the book; a broken link already in *known* once."""
    out = []
    for line in ANSI.sub("", text).splitlines():
        line = line.replace(str(src) + os.sep, "").strip()
        target = re.search(r"cross-reference target not found: '([^']+)'", line)
        if "WARNING" in line and not (target and any(f"links {target.group(1)}," in k for k in known)):
            out.append(line)
    return out


def audit(src):
    """Why the staged book at *src* would leak teacher material (empty list if it would not).

    A line that is a solution marker (``### BEGIN SOLUTION``, as :mod:`ipclab.tooling.labgen` reads
    them) in a notebook, doc or shown file; labgen itself, which names the markers, is exempt.
    """
    leaks = []
    for f in sorted(Path(src).rglob("*")):
        rel = f.relative_to(src)
        if not f.is_file() or rel.as_posix().endswith("tooling/labgen.py"):
            continue
        if any(part in ("solutions", "grading") for part in rel.parts):
            leaks.append(f"{rel} is teacher material")
            continue
        text = f.read_text(encoding="utf-8", errors="replace")
        if f.suffix == ".ipynb":
            text = "\n".join(c.get("source", "") if isinstance(c.get("source"), str) else "".join(c.get("source", []))
                             for c in json.loads(text).get("cells", []))
        found = {line.strip() for line in text.splitlines()} & set(SOLUTION_MARKS)
        leaks += [f"{rel} contains {m!r}" for m in sorted(found)]
    return leaks


def add_arguments(parser):
    parser.add_argument("out", nargs="?", default=str(ROOT / "site"),
                        help="folder to write the book to (default: site/ in the checkout)")
    parser.add_argument("--repo", help=f"the course's git repository URL (env {ENV['repo']}; "
                                       f"default {DEFAULTS['repo']})")
    parser.add_argument("--branch", help=f"its branch (env {ENV['branch']}; default {DEFAULTS['branch']})")
    parser.add_argument("--hub", help=f"your JupyterHub's address, for an nbgitpuller launch link "
                                      f"(env {ENV['hub']}; default: no JupyterHub button)")
    parser.add_argument("--binder", help=f"a BinderHub address, or none (env {ENV['binder']}; "
                                         f"default {DEFAULTS['binder']})")


def main(args):
    book = build(args.out, repo=args.repo, branch=args.branch, hub=args.hub, binder=args.binder)
    for line in book.problems:
        print(f"warning: {line}")
    s = book.settings
    buttons = ", ".join(b for b, on in (("Binder", s.binder), ("JupyterHub", s.hub)) if on) or "none"
    print(f"{len(book.pages)} pages written to {book.out} (launch buttons: {buttons}; repository {s.repo}); "
          f"open {book.out / 'index.html'}")
    if not s.hub:
        print(f"no JupyterHub launch button: give your hub with --hub https://HUB or {ENV['hub']}")
    if s.repo == DEFAULTS["repo"]:
        print(f"the launch and repository buttons point to the placeholder {s.repo}: give yours with --repo "
              f"or {ENV['repo']}")
    return 0
