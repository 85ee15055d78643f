"""The course as a static web site: ``ipclab site [OUT]`` (default ``site/``).

Why: a class reads the course before (or without) running it, and a teacher publishes it
(GitHub Pages, a department server). The committed notebooks are already executed, so the
site is a conversion, not a run: nbconvert's HTML exporter (JupyterLab look) turns each
notebook and lab brief into a page with its outputs and figures embedded (``data:`` URIs,
no image files to lose), and an index page links them all. Links between notebooks point
to the pages; the helper sources a notebook links to (``../ipclab/race.py``) are copied
along as plain files. Teacher material (``solutions/``, ``grading/``, ``tests/``) is never
copied. Widgets need a kernel: the site shows their text fallback.
"""

import html
import os
import re
import shutil
from pathlib import Path

from ipclab.core.errors import IpclabError

from ipclab.core.paths import COURSE_ROOT as ROOT  # noqa: E402
SECTIONS = [("notebooks", "Notebooks"), ("labs", "Labs")]
COPYABLE = ("ipclab", "labs", "notebooks")  # linked files a page may take along (never solutions/)
NBVAL_MARK = re.compile(r"^\s*# NBVAL_\w+\s*\n?", re.MULTILINE)
HREF = re.compile(r'href="([^"]*)"')


def pages(root=ROOT):
    """(section, notebook path) for every notebook and lab brief, in reading order."""
    return [(sec, p) for sec, _ in SECTIONS for p in sorted((Path(root) / sec).glob("*.ipynb"))]


def title_of(nb, fallback):
    """The notebook's first Markdown heading, without the #."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip().replace("`", "").replace("**", "")
    return fallback


def minutes_of(nb):
    """The '**Time:** ...' line of a notebook's introduction, or ''."""
    for cell in nb.cells[:3]:
        m = re.search(r"\*\*Time:\*\*\s*([^.*\n]+)", cell.source)
        if m:
            return m.group(1).strip()
    return ""


WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
WIDGET_NOTE = ("<p><em>An interactive widget is here: run the notebook in JupyterLab "
               "(<code>./course lab</code>, or on Binder) to use it.</em></p>")


def for_readers(nb):
    """What a reader of a static page needs: no test-harness markers (``# NBVAL_IGNORE_OUTPUT``),
    and a note where a widget would be (its text form, ``VBox(children=...``, says nothing)."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = NBVAL_MARK.sub("", cell.source)
            for out in cell.get("outputs", []):
                if WIDGET_MIME in out.get("data", {}):
                    out["data"] = {"text/html": WIDGET_NOTE, "text/plain": "(interactive widget)"}
    return nb


def fix_links(page_html, page_rel, out, root=ROOT, missing=None):
    """Point .ipynb links at their pages; copy linked course files along; folders go to the index.

    Links to notebooks that do not exist are left alone and listed in *missing*.
    """
    page_dir = (root / page_rel).parent
    missing = [] if missing is None else missing

    def repl(m):
        href = m.group(1)
        if not href or "://" in href or href.startswith(("#", "mailto:", "data:", "/")):
            return m.group(0)
        path, _, anchor = href.partition("#")
        target = (page_dir / path).resolve()
        try:
            rel = target.relative_to(root)
        except ValueError:
            return m.group(0)
        index = os.path.relpath(out / "index.html", out / page_dir.relative_to(root))
        if target.suffix == ".ipynb" and target.is_file():
            new = Path(path).with_suffix(".html").as_posix()
        elif target.suffix == ".ipynb":
            missing.append(f"{page_rel} links {href}, which does not exist")
            return m.group(0)
        elif target.is_dir():
            new = f"{index}#{rel.parts[0]}" if rel.parts else index
        elif target.is_file() and rel.parts[0] in COPYABLE:
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(target, out / rel)
            new = path
        else:
            return m.group(0)
        return f'href="{new}{"#" + anchor if anchor else ""}"'

    return HREF.sub(repl, page_html)


INDEX = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ipclab: Linux shared memory and advanced IPC</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 52rem; margin: 2rem auto; padding: 0 1rem;
       line-height: 1.5; color: #222; }}
h1 {{ font-size: 1.7rem; }} h2 {{ margin-top: 2rem; border-bottom: 1px solid #ddd; }}
li {{ margin: .35rem 0; }} .time {{ color: #666; font-size: .9em; }} code {{ background: #f3f3f3; }}
</style></head><body>
<h1>ipclab: Linux shared memory and advanced IPC</h1>
<p>Chapter 19 of a C systems course, taught in Python on real processes and real kernel
objects. These pages show the notebooks as executed; to run them, clone the repository and
type <code>./course lab</code> (or open it on Binder).</p>
{sections}
</body></html>
"""


def build(out="site", root=ROOT, missing=None):
    """Write the site to *out*; return the pages written (relative paths), index first.

    Links to notebooks that do not exist are appended to *missing* (a list), if given.
    """
    import nbformat
    from nbconvert import HTMLExporter

    root, out = Path(root), Path(out).resolve()
    if out == root:
        raise IpclabError(f"{out} is the course checkout itself: choose a folder such as {root / 'site'}")
    found = pages(root)
    if not found:
        raise IpclabError(f"no notebooks under {root / 'notebooks'} or {root / 'labs'}")
    exporter = HTMLExporter(template_name="lab")
    out.mkdir(parents=True, exist_ok=True)
    written, entries = [], {sec: [] for sec, _ in SECTIONS}
    for sec, path in found:
        nb = nbformat.read(path, as_version=4)
        rel = path.relative_to(root)
        body, _ = exporter.from_notebook_node(for_readers(nb), resources={"metadata": {"name": path.stem}})
        target = out / rel.with_suffix(".html")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(fix_links(body, rel, out, root, missing), encoding="utf-8")
        written.append(target.relative_to(out))
        entries[sec].append((rel.with_suffix(".html").as_posix(), title_of(nb, path.stem), minutes_of(nb)))
    sections = []
    for sec, heading in SECTIONS:
        if entries[sec]:
            items = "".join(
                f'<li><a href="{html.escape(href)}">{html.escape(title)}</a>'
                + (f' <span class="time">({html.escape(time)})</span>' if time else "") + "</li>"
                for href, title, time in entries[sec])
            sections.append(f'<h2 id="{sec}">{heading}</h2><ul>{items}</ul>')
    (out / "index.html").write_text(INDEX.format(sections="\n".join(sections)), encoding="utf-8")
    return [Path("index.html")] + written


def add_arguments(parser):
    parser.add_argument("out", nargs="?", default=str(ROOT / "site"),
                        help="folder to write the site to (default: site/ in the checkout)")


def main(args):
    missing = []
    written = build(args.out, missing=missing)
    for line in missing:
        print(f"warning: {line}")
    print(f"{len(written)} pages written to {Path(args.out).resolve()}; open {Path(args.out) / 'index.html'}")
    return 0
