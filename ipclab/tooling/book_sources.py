"""What the course book is made of, in reading order, and the copy of it that Sphinx reads.

Why a copy: the book is built from the sources the course runs (the executed notebooks, the
lab briefs, the answers notebooks where the edition keeps them, the teachers' docs), but a
reader of a static page needs a few things the course files do not carry:

* no test-harness markers in the code (``# NBVAL_IGNORE_OUTPUT``);
* a sentence where a widget was (a widget needs a live kernel; its text form says nothing);
* links that work on a web site: a link to a course file (``../ipclab/experiments/race.py``,
  ``lab1_ringbuffer.py``) goes to a page that shows that file highlighted, a link to a
  folder goes to a page listing it (or to the part of the index for ``../labs/``), a link
  to a notebook or doc stays as it is (MyST resolves it).

The copy lives in a temporary folder laid out like the checkout (``notebooks/``, ``labs/``,
``docs/``), so the launch buttons' paths are the repository's paths. Teacher material
(``solutions/``, ``grading/``, ``tests/``) is never read.
"""

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from ipclab.tooling import book_lexer
from ipclab.tooling.release import teacher_material

__all__ = ["PARTS", "DOCS", "Page", "pages", "stage", "title_of", "minutes_of", "WIDGET_MIME", "WIDGET_NOTE"]

#: (part id = the heading's anchor, glob under the course root, heading in the index and caption in the sidebar)
PARTS = [
    ("chapter-19", "notebooks/*.ipynb", "Chapter 19"),
    ("labs", "labs/*.ipynb", "Labs"),
    ("answers", "notebooks/answers/*.ipynb", "Answers"),
    ("for-teachers", "docs/*.md", "For teachers"),
]
#: The docs that go in the book, in this order (those that exist).
DOCS = ["INSTRUCTOR.md", "RELIABILITY.md", "DEPLOY.md"]
#: Folders whose files a page may link to and the book shows as code pages (never solutions/).
CODE_DIRS = ("ipclab", "labs", "notebooks", "bench", "docs", "deploy")
LANGUAGES = {".py": "python", ".c": "c", ".h": "c", ".md": "markdown", ".toml": "toml", ".yml": "yaml",
             ".yaml": "yaml", ".json": "json", ".cfg": "ini", ".sh": "bash", ".txt": "text", "": "bash"}
IMAGES = (".png", ".jpg", ".jpeg", ".gif", ".svg")
RAW = "_raw"      # plain copies of linked files, included by the code pages (not pages themselves)
CODE = "source"   # code pages: source/<path>.md shows <path>

NBVAL_MARK = re.compile(r"^\s*# NBVAL_\w+\s*\n?", re.MULTILINE)
LINK = re.compile(r"(\]\(\s*<?|href=\")([^)\s\"<>]+)")
CODE_SPANS = re.compile(r"(```.*?```|~~~.*?~~~|`[^`\n]*`)", re.DOTALL)  # links are not looked for in code
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
GLASS_HEAD = re.compile(r"# \S+  \([^)]*, line \d+\)\n")  # the first line glass.show prints
WIDGET_NOTE = ("<p><em>An interactive widget is here: launch this page (the rocket button above) "
               "or run the notebook in JupyterLab (<code>./course lab</code>) to use it.</em></p>")


@dataclass
class Page:
    part: str      # a PARTS id
    rel: Path      # path in the checkout, e.g. notebooks/00_overview.ipynb
    title: str
    minutes: str   # the '**Time:** ...' of its introduction, or ''

    @property
    def docname(self):
        return self.rel.with_suffix("").as_posix()


def title_of(cells_or_text, fallback):
    """The first Markdown heading, without the # and inline marks."""
    texts = [cells_or_text] if isinstance(cells_or_text, str) else [
        c.source for c in cells_or_text if c.cell_type == "markdown"]
    for text in texts:
        for line in text.splitlines():
            if line.startswith("#"):
                return line.lstrip("#").strip().replace("`", "").replace("**", "")
    return fallback


def minutes_of(text):
    m = re.search(r"\*\*Time:\*\*\s*([^.*\n]+)", text)
    return m.group(1).strip() if m else ""


def pages(root):
    """Every page of the book, in reading order: chapter, labs, answers, teachers' docs."""
    import nbformat
    root, found = Path(root), []
    for part, pattern, _ in PARTS:
        if part == "for-teachers":
            paths = [root / "docs" / name for name in DOCS if (root / "docs" / name).is_file()]
        else:
            paths = sorted(root.glob(pattern))
        for path in paths:
            if path.suffix == ".ipynb":
                nb = nbformat.read(path, as_version=4)
                title = title_of(nb.cells, path.stem)
                intro = "\n".join(c.source for c in nb.cells[:3])
            else:
                intro = path.read_text(encoding="utf-8")
                title = title_of(intro, path.stem)
            found.append(Page(part, path.relative_to(root), title, minutes_of(intro[:3000])))
    return found


def for_readers(nb):
    """No test-harness markers in code; a sentence where a widget would be; shown sources as text.

    A source shown by :func:`ipclab.presentation.glass.show` is published as its plain text
    (numbered, ``>>`` on the marked lines): the HTML a notebook stored carries the colours of
    the style it was built with, which the book cannot vouch for (contrast).
    """
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = NBVAL_MARK.sub("", cell.source)
            for out in cell.get("outputs", []):
                data = out.get("data", {})
                if WIDGET_MIME in data:
                    out["data"] = {"text/html": WIDGET_NOTE, "text/plain": "(interactive widget)"}
                elif "text/html" in data and GLASS_HEAD.match(_text(data.get("text/plain", ""))):
                    del data["text/html"]
    return nb


def _text(value):
    return "".join(value) if isinstance(value, list) else value


class _Stager:
    """Writes the copy; remembers the code pages made and the links that lead nowhere."""

    def __init__(self, root, src, book_pages):
        self.root, self.src = Path(root).resolve(), Path(src)
        self.docs = {p.rel.as_posix(): p for p in book_pages}
        self.made, self.problems = set(), []

    # ------------------------------------------------------------- links
    def fix_links(self, text, page_rel):
        parts = CODE_SPANS.split(text)  # odd items are code: left as they are
        return "".join(part if k % 2 else LINK.sub(lambda m: m.group(1) + self._target(m.group(2), page_rel), part)
                       for k, part in enumerate(parts))

    def _target(self, href, page_rel):
        if "://" in href or href.startswith(("#", "mailto:", "data:", "/", "project:", "path:")):
            return href
        path, _, anchor = href.partition("#")
        here = (self.root / page_rel).parent
        target = Path(os.path.normpath(here / path))
        try:
            rel = target.relative_to(self.root)
        except ValueError:
            self.problems.append(f"{page_rel} links {href}, outside the course")
            return href
        new = self._page_for(rel, target, page_rel, href)
        if new is None:
            return href
        out = os.path.relpath(self.src / new, (self.src / page_rel).parent)
        return Path(out).as_posix() + ("#" + anchor if anchor and not new.endswith("#" + anchor) else "")

    def _page_for(self, rel, target, page_rel, href):
        """The book file (relative to src) that *rel* should link to, or None to leave the link."""
        if rel.as_posix() in self.docs:
            return rel.as_posix()
        if teacher_material(rel):
            self.problems.append(f"{page_rel} links {href}: teacher material is not published")
            return None
        if not target.exists():
            self.problems.append(f"{page_rel} links {href}, which does not exist")
            return None
        part = next((pid for pid, pattern, _ in PARTS if Path(pattern).parent == rel), None)
        if target.is_dir() and part:
            return f"index.md#{part}"
        if not rel.parts or rel.parts[0] not in CODE_DIRS:
            self.problems.append(f"{page_rel} links {href}: only files under {', '.join(CODE_DIRS)} are published")
            return None
        if target.suffix.lower() in IMAGES:
            self._copy(target, rel)
            return rel.as_posix()
        return self._code_page(rel) if target.is_file() else self._folder_page(rel)

    # ------------------------------------------------------------- code and folder pages
    def _copy(self, target, dest_rel):
        dest = self.src / dest_rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(target, dest)

    def _code_page(self, rel):
        page = f"{CODE}/{rel.as_posix()}.md"
        if page not in self.made:
            self.made.add(page)
            self._copy(self.root / rel, Path(RAW) / rel)
            lang = LANGUAGES.get(rel.suffix.lower(), "text")
            fence = "`" * 4
            self._write(page, f"---\norphan: true\n---\n\n# `{rel.as_posix()}`\n\n"
                              f"The file as it is in the course.\n\n"
                              f"{fence}{{literalinclude}} /{RAW}/{rel.as_posix()}\n:language: {lang}\n:linenos:\n{fence}\n")
        return page

    def _folder_page(self, rel):
        page = f"{CODE}/{rel.as_posix()}/index.md"
        if page in self.made:
            return page
        self.made.add(page)
        items = []
        for entry in sorted((self.root / rel).iterdir()):
            if teacher_material(sub := rel / entry.name) or entry.name.startswith("."):
                continue
            if entry.is_dir():
                items.append(f"- [{entry.name}/]({Path(os.path.relpath(self._folder_page(sub), Path(page).parent)).as_posix()})")
            elif entry.suffix.lower() in LANGUAGES:
                items.append(f"- [{entry.name}]({Path(os.path.relpath(self._code_page(sub), Path(page).parent)).as_posix()})")
        self._write(page, f"---\norphan: true\n---\n\n# `{rel.as_posix()}/`\n\n" + "\n".join(items) + "\n")
        return page

    def _write(self, rel, text):
        dest = self.src / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(text, encoding="utf-8")

    # ------------------------------------------------------------- pages and index
    def page(self, p):
        import nbformat
        source = self.root / p.rel
        if p.rel.suffix == ".ipynb":
            nb = for_readers(nbformat.read(source, as_version=4))
            if nb.metadata.get("language_info", {}).get("name", "python") == "python":
                nb.metadata.setdefault("language_info", {})["pygments_lexer"] = book_lexer.NAME
            for cell in nb.cells:
                if cell.cell_type == "markdown":
                    cell.source = self.fix_links(cell.source, p.rel)
            (self.src / p.rel).parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, self.src / p.rel)
        else:
            self._write(p.rel, self.fix_links(source.read_text(encoding="utf-8"), p.rel))

    def index(self, book_pages, title, intro):
        body, toc = [f"# {title}\n", intro, ""], []
        for part, _, heading in PARTS:
            mine = [p for p in book_pages if p.part == part]
            if not mine:
                continue
            body.append(f"\n## {heading}\n")
            for p in mine:
                time = f" ({p.minutes})" if p.minutes else ""
                body.append(f"- [{p.title}]({p.rel.as_posix()}){time}")
            toc.append(f"\n```{{toctree}}\n:hidden:\n:caption: {heading}\n\n"
                       + "\n".join(p.docname for p in mine) + "\n```\n")
        self._write("index.md", "\n".join(body) + "\n" + "".join(toc))


INTRO = ("Chapter 19 of a C systems course, taught in Python on real processes and real kernel "
         "objects. These pages show the notebooks as they were executed, outputs and figures "
         "included. To run a page, use its launch button (the rocket at the top: Binder, or your "
         "class's JupyterHub), or clone the repository and type `./course lab`.")


def stage(root, src, title, intro=INTRO):
    """Write the book's sources under *src*; return (pages, problems): problems are links that lead nowhere."""
    book_pages = pages(root)
    stager = _Stager(root, src, book_pages)
    for p in book_pages:
        stager.page(p)
    stager.index(book_pages, title, intro)
    return book_pages, stager.problems
