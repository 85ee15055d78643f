"""The course as a book (`ipclab site OUT`): Sphinx + myst-nb + sphinx-book-theme, built offline.

Checked on the built HTML files (the browser side is tests/browser/test_book.py): every
notebook, lab brief and doc has its page, in chapter order in the sidebar, with previous and
next links; the stored outputs are shown as they are (no re-execution); each figure has a
non-empty alt text; code is highlighted (``%%c`` cells as C); launch links (Binder, and
JupyterHub through nbgitpuller) and the .ipynb download are there; internal links resolve;
no teacher material is published; the student edition's book holds no solution.
"""

import contextlib
import io
import os
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import nbformat
import pytest

from ipclab.core.errors import IpclabError
from ipclab.tooling import book_alt, book_sources
from ipclab.tooling import book
from ipclab.tooling import cli

ROOT = book.ROOT
PAGES = book_sources.pages(ROOT)
REPO = "https://github.com/example-org/ipclab"
HUB = "https://hub.example.edu"


class Tags(HTMLParser):
    """Every tag of a page with its attributes, and its text (outside scripts and styles)."""

    def __init__(self, text):
        super().__init__()
        self.tags, self.text, self._skip = [], [], 0
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._skip += tag in ("script", "style")

    def handle_endtag(self, tag):
        self._skip -= tag in ("script", "style") and self._skip > 0

    def handle_data(self, data):
        if not self._skip:
            self.text.append(data)

    def find(self, tag, cls=None):
        return [a for t, a in self.tags if t == tag and (cls is None or cls in (a.get("class") or "").split())]

    @property
    def plain(self):
        return " ".join("".join(self.text).split())


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("book") / "site"
    said = io.StringIO()
    with contextlib.redirect_stdout(said):  # the one command, as a teacher types it
        assert cli.main(["site", str(out), "--repo", REPO, "--branch", "main", "--hub", HUB]) == 0
    print(said.getvalue())
    (out.parent / "said.txt").write_text(said.getvalue())  # what the command printed, for the tests below
    return out


def said(built):
    return (built.parent / "said.txt").read_text().splitlines()


def html_of(built, page):
    return Tags((built / (page.docname + ".html")).read_text(encoding="utf-8"))


def image_outputs(nb):
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
            if any(m in o.get("data", {}) for m in book_alt.IMAGE_MIMES)]


def test_the_book_has_the_course_in_it():
    parts = [p.part for p in PAGES]
    assert parts.count("chapter-19") == len(list((ROOT / "notebooks").glob("*.ipynb")))
    assert parts.count("labs") == len(list((ROOT / "labs").glob("*.ipynb")))
    assert parts.count("answers") == len(list((ROOT / "notebooks" / "answers").glob("*.ipynb")))
    assert [p.rel.name for p in PAGES if p.part == "for-teachers"] == [
        d for d in book_sources.DOCS if (ROOT / "docs" / d).is_file()]
    assert parts == sorted(parts, key=[pid for pid, _, _ in book_sources.PARTS].index)  # reading order


@pytest.mark.parametrize("page", PAGES, ids=[p.docname for p in PAGES])
def test_every_page_shows_its_stored_outputs_and_figures(built, page):
    tags = html_of(built, page)
    assert page.title in tags.plain.replace("’", "'")  # Sphinx sets typographic apostrophes
    if page.rel.suffix != ".ipynb":
        return
    nb = nbformat.read(ROOT / page.rel, as_version=4)
    # stored outputs appear as they are: every printed line of the committed notebook is on the page
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            for line in (out.get("text", "") if out.get("output_type") == "stream" else "").splitlines()[:3]:
                line = "".join(ch for ch in line if ch.isprintable() or ch.isspace())
                if line.strip():
                    assert " ".join(line.split()) in tags.plain, f"{page.rel}: output line {line!r} not shown"
    images = [a for a in tags.find("img") if "_images/" in a.get("src", "")]
    assert len(images) == len(image_outputs(nb))
    for img in images:  # a real file, and words for it: never empty, never its file name
        assert (built / page.rel.parent / img["src"]).resolve().is_file()
        alt = img.get("alt", "")
        assert len(alt.split()) >= 3 and not alt.endswith((".png", ".jpg", ".svg")), alt
    assert "NBVAL_" not in tags.plain  # the test harness's markers are not for readers
    widgets = sum(1 for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                  if book_sources.WIDGET_MIME in o.get("data", {}))
    assert tags.plain.count("An interactive widget is here") == widgets


def test_the_sidebar_lists_the_pages_in_chapter_order(built):
    tags = Tags((built / "index.html").read_text(encoding="utf-8"))
    nav = [a["href"] for a in tags.find("a", "reference") if "internal" in a.get("class", "")
           and a.get("href", "").endswith(".html")]
    assert nav[:len(PAGES)] == [p.docname + ".html" for p in PAGES]
    assert len(tags.find("p", "caption")) == len({p.part for p in PAGES})  # one caption per part


def test_previous_and_next_follow_the_reading_order(built):
    for k, page in enumerate(PAGES):
        tags = html_of(built, page)
        prev, nxt = tags.find("a", "left-prev"), tags.find("a", "right-next")
        here = built / page.rel.parent
        want_prev = "index.html" if k == 0 else PAGES[k - 1].docname + ".html"
        assert prev and os.path.relpath((here / prev[0]["href"]).resolve(), built) == want_prev
        if k + 1 < len(PAGES):
            assert nxt and os.path.relpath((here / nxt[0]["href"]).resolve(), built) == PAGES[k + 1].docname + ".html"


def test_search_index_knows_shm_open(built):
    index = (built / "searchindex.js").read_text(encoding="utf-8")
    assert '"shm_open"' in index
    assert (built / "search.html").is_file()


@pytest.mark.parametrize("page", [p for p in PAGES if p.rel.suffix == ".ipynb"][:3] + [
    p for p in PAGES if p.part == "labs"][:1], ids=lambda p: p.docname)
def test_launch_and_download_buttons(built, page):
    links = [a["href"] for a in html_of(built, page).find("a") if "href" in a]
    binder = [u for u in links if u.startswith("https://mybinder.org/")]
    hub = [u for u in links if u.startswith(HUB + "/")]
    assert len(binder) == 1 and len(hub) == 1
    b = urlsplit(binder[0])
    assert b.path == "/v2/gh/example-org/ipclab/main"
    assert parse_qs(b.query)["urlpath"] == [f"lab/tree/{page.rel.as_posix()}"]
    h = urlsplit(hub[0])  # nbgitpuller: /hub/user-redirect/git-pull?repo=&urlpath=&branch=
    q = parse_qs(h.query)
    assert h.path == "/hub/user-redirect/git-pull"
    assert q["repo"] == [REPO] and q["branch"] == ["main"]
    assert q["urlpath"] == [f"lab/tree/ipclab/{page.rel.as_posix()}"]  # nbgitpuller clones into the repo's name
    download = [u for u in links if u.endswith(".ipynb") and "_sources/" in u]
    assert download
    got = nbformat.read(built / page.rel.parent / download[0], as_version=4)
    committed = nbformat.read(ROOT / page.rel, as_version=4)
    assert [c.get("outputs") for c in got.cells] == [c.get("outputs") for c in book_sources.for_readers(committed).cells]


def test_no_jupyterhub_button_unless_a_hub_is_given(tmp_path, monkeypatch):
    monkeypatch.delenv(book.ENV["hub"], raising=False)
    assert book.settings().hub == ""
    monkeypatch.setenv(book.ENV["hub"], "https://jupyter.example.org/")
    assert book.settings().hub == "https://jupyter.example.org"
    assert book.settings(binder="none").binder == ""
    assert book.settings(repo="https://git.example.edu/course/ipclab.git/").repo == "https://git.example.edu/course/ipclab"
    with pytest.raises(IpclabError, match="https://"):
        book.settings(hub="jupyter.example.org")
    with pytest.raises(IpclabError, match="branch"):
        book.settings(branch="main; rm -rf /")


def test_code_is_highlighted_and_c_cells_as_c(built):
    highlighted = [p for p in PAGES if p.rel.suffix == ".ipynb"
                   and '<span class="k">' in (built / (p.docname + ".html")).read_text(encoding="utf-8")]
    assert len(highlighted) == sum(1 for p in PAGES if p.rel.suffix == ".ipynb")
    c_pages = [p for p in PAGES if p.rel.suffix == ".ipynb" and any(
        c.cell_type == "code" and c.source.lstrip().startswith("%%c")
        for c in nbformat.read(ROOT / p.rel, as_version=4).cells)]
    for page in c_pages:  # a C preprocessor line is lexed as C, not as a Python comment
        assert '<span class="cp">#include' in (built / (page.docname + ".html")).read_text(encoding="utf-8")


def test_internal_links_resolve(built):
    """Every link inside the book reaches a file, and its #anchor is on that page."""
    broken, ids = [], {}

    def ids_of(path):
        if path not in ids:
            ids[path] = {a["id"] for _, a in Tags(path.read_text(encoding="utf-8")).tags if "id" in a}
        return ids[path]

    for f in built.rglob("*.html"):
        if "_static" in f.relative_to(built).parts:
            continue
        for a in Tags(f.read_text(encoding="utf-8")).find("a"):
            href = a.get("href", "")
            if not href or "://" in href or href.startswith(("mailto:", "javascript:")):
                continue
            path, _, anchor = href.partition("#")
            target = (f.parent / path.split("?")[0]).resolve() if path else f
            if not target.exists():
                broken.append(f"{f.relative_to(built)} -> {href}")
            elif anchor and target.suffix == ".html" and unquote(anchor) not in ids_of(target):
                broken.append(f"{f.relative_to(built)} -> {href} (no such anchor)")
    assert not broken, "\n".join(broken)


def test_every_link_in_the_sources_leads_somewhere(built):
    """A link to a file that does not exist (or is not published) is named by the build: none may be."""
    dead = [line for line in said(built) if line.startswith("warning:") and " links " in line]
    assert not dead, "\n".join(dead)


def test_the_build_names_figures_without_alt_text(built):
    """Every image has an alt text; one the notebook did not give is named in the build's warnings."""
    missing = [line for line in said(built) if "a figure has no alt text" in line]
    given = sum(1 for p in PAGES if p.rel.suffix == ".ipynb"
                for _, ok in book_alt.alt_texts(nbformat.read(ROOT / p.rel, as_version=4)).values() if ok)
    total = sum(len(image_outputs(nbformat.read(ROOT / p.rel, as_version=4))) for p in PAGES if p.rel.suffix == ".ipynb")
    assert len(missing) == total - given
    print(f"{given} of {total} figures carry their alt text; the others get a placeholder and a warning")


def test_linked_course_files_are_shown_as_code_pages(built):
    shown = sorted((built / book_sources.CODE).rglob("*.html"))
    assert shown  # the lab briefs link their modules
    lab = next(p for p in PAGES if p.part == "labs")
    stub = lab.rel.with_suffix(".py")
    page = built / book_sources.CODE / (stub.as_posix() + ".html")
    assert page.is_file()
    first_def = next(line for line in (ROOT / stub).read_text().splitlines() if line.startswith("def "))
    assert " ".join(first_def.split()) in Tags(page.read_text(encoding="utf-8")).plain


def solution_lines():
    """Long lines from inside the solution regions of solutions/*.py that nothing public has
    (not the stubs, not the ipclab package): if one is in the book, a solution leaked."""
    public = " ".join(" ".join(f.read_text(errors="replace").split())
                      for d in ("labs", "ipclab") for f in (ROOT / d).rglob("*.py"))
    out = set()
    for path in (ROOT / "solutions").glob("*.py"):
        inside = False
        for line in path.read_text().splitlines():
            if line.strip() in ("### BEGIN SOLUTION", "### END SOLUTION"):
                inside = line.strip() == "### BEGIN SOLUTION"
            elif inside and len(line.strip()) >= 40 and " ".join(line.split()) not in public:
                out.add(" ".join(line.split()))
    return out


def test_no_teacher_material_is_published(built):
    assert not any((built / d).exists() for d in ("solutions", "grading", "tests"))
    secret = solution_lines()
    assert secret or not (ROOT / "solutions").is_dir()
    for f in built.rglob("*"):
        if f.is_file() and f.suffix in (".html", ".ipynb", ".md", ".txt", ".js"):
            text = " ".join(Tags(f.read_text(encoding="utf-8", errors="replace")).plain.split())
            leaked = [line for line in secret if line in text]
            assert not leaked, f"{f.relative_to(built)} shows solution code: {leaked[:2]}"


def test_the_student_edition_builds_its_own_book(tmp_path):
    """`ipclab release` writes DEST/site from what the edition holds: no solution, no hidden test."""
    from ipclab.tooling import release
    dest = tmp_path / "edition"
    said = io.StringIO()
    with contextlib.redirect_stdout(said):
        assert cli.main(["release", str(dest)]) == 0
    site = dest / "site"
    assert (site / "index.html").is_file() and "site" in said.getvalue()
    assert [p.rel for p in book_sources.pages(dest)] == [p.rel for p in PAGES if (dest / p.rel).is_file()]
    for p in book_sources.pages(dest):
        assert (site / (p.docname + ".html")).is_file()
    title = re.compile(r'labkit\.test\(\s*"([^"]+)"')
    hidden = {t for f in (ROOT / "grading" / "hidden").glob("*.py") for t in title.findall(f.read_text())}
    visible = {t for f in (dest / "ipclab").rglob("labtests/*.py") for t in title.findall(f.read_text())}
    secret_tests, secret_code = hidden - visible, solution_lines()
    for f in site.rglob("*"):
        if f.is_file() and f.suffix in (".html", ".ipynb", ".md", ".txt", ".js"):
            text = " ".join(Tags(f.read_text(encoding="utf-8", errors="replace")).plain.split())
            assert not [t for t in secret_tests if t in text], f"{f.relative_to(site)} names a hidden test"
            assert not [line for line in secret_code if line in text], f"{f.relative_to(site)} shows solution code"
    assert release.write is not None and not (dest / "jupyter_execute").exists()


def test_a_solution_region_is_never_published(tmp_path):
    root = tmp_path / "course"
    (root / "notebooks").mkdir(parents=True)
    nbformat.write(nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Lab"),
        nbformat.v4.new_code_cell("def f():\n    ### BEGIN SOLUTION\n    return 42\n    ### END SOLUTION\n")]),
        root / "notebooks" / "00.ipynb")
    with pytest.raises(IpclabError, match="teacher material"):
        book.build(tmp_path / "out", root=root)
    assert not (tmp_path / "out").exists()


def test_staging_rewrites_links_and_reports_the_dead_ones(tmp_path):
    root = tmp_path / "course"
    (root / "notebooks").mkdir(parents=True)
    (root / "ipclab" / "c").mkdir(parents=True)
    (root / "solutions").mkdir()
    (root / "ipclab" / "c" / "x.c").write_text("int main(void) { return 0; }\n")
    (root / "solutions" / "lab1.py").write_text("### BEGIN SOLUTION\n")
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Title\n[a](../ipclab/c/x.c) [b](../ipclab/c/) [c](../solutions/lab1.py) "
                                      "[d](gone.ipynb) [e](../labs/) `[f](g)` [h](01.ipynb#sec)"),
        nbformat.v4.new_code_cell("# NBVAL_IGNORE_OUTPUT\nx = 1")])
    nbformat.write(nb, root / "notebooks" / "00.ipynb")
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Next")]),
                   root / "notebooks" / "01.ipynb")
    pages, problems = book_sources.stage(root, tmp_path / "src", "T")
    staged = nbformat.read(tmp_path / "src" / "notebooks" / "00.ipynb", as_version=4)
    md, code = staged.cells[0].source, staged.cells[1].source
    assert "](../source/ipclab/c/x.c.md)" in md and (tmp_path / "src" / "_raw" / "ipclab" / "c" / "x.c").is_file()
    assert "](../source/ipclab/c/index.md)" in md
    assert "](01.ipynb#sec)" in md and "`[f](g)`" in md
    assert "NBVAL" not in code and staged.metadata["language_info"]["pygments_lexer"] == "ipclab"
    assert not (tmp_path / "src" / "solutions").exists()
    assert any("solutions/lab1.py" in p and "not published" in p for p in problems)
    assert any("gone.ipynb" in p and "does not exist" in p for p in problems)
    assert any("../labs/" in p for p in problems)  # no labs in this course


def test_alt_text_sources_in_order():
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
    png2 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="

    def img(data=png, meta=None):
        return nbformat.v4.new_output("display_data", data={"image/png": data, "text/plain": "<Figure>"},
                                      metadata=meta or {})

    def stream(text):
        return nbformat.v4.new_output("stream", name="stdout", text=text)

    def one(cells):
        return [v for v in book_alt.alt_texts(nbformat.v4.new_notebook(cells=cells), "P").values()]

    code = nbformat.v4.new_code_cell
    assert one([code("", outputs=[img(meta={"image/png": {"alt": "From output metadata."}}),
                                  stream("Figure: printed")])]) == [("From output metadata.", True)]
    cell = code("", outputs=[img(), img(png2)], metadata={"ipclab": {"alt": ["First.", "Second."]}})
    assert one([cell]) == [("First.", True), ("Second.", True)]
    assert one([code("", outputs=[img(), stream("Figure: Bar chart of X.\n")])]) == [("Bar chart of X.", True)]
    assert one([code("", outputs=[stream("Figure: Printed first.\n"), img()])]) == [("Printed first.", True)]
    assert one([code("", outputs=[img()]), nbformat.v4.new_markdown_cell("**Figure:** Line chart of Y.")]) == [
        ("Line chart of Y.", True)]
    (text, given), = one([code("", outputs=[img()])])
    assert not given and "Figure 1 of “P”" in text


def test_building_into_the_checkout_is_refused(tmp_path):
    for bad in (ROOT, ROOT / "notebooks", ROOT.parent):
        with pytest.raises(IpclabError, match="choose"):
            book.build(bad)
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(IpclabError, match="not empty"):
        book.build(tmp_path)
    assert (tmp_path / "keep.txt").read_text() == "mine"
