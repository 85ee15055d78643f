"""The static site (`ipclab site`): a page per notebook and lab brief, figures embedded, an index, links that work."""

import base64
import html
import re
from pathlib import Path

import nbformat
import pytest

from ipclab import cli, site
from ipclab.errors import IpclabError

ROOT = Path(site.__file__).resolve().parent.parent
PAGES = site.pages()
IMG = re.compile(r'<img[^>]+src="data:image/(png|jpeg);base64,([^"]+)"')


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    assert cli.main(["site", str(out)]) == 0  # the one command, as a teacher types it
    return out


def figures_in(nb):
    return sum(1 for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
               if any(m in o.get("data", {}) for m in ("image/png", "image/jpeg")))


def test_there_is_something_to_publish():
    assert any(sec == "notebooks" for sec, _ in PAGES)


@pytest.mark.parametrize("section, path", PAGES, ids=[p.name for _, p in PAGES])
def test_every_notebook_has_its_page_with_its_figures(built, section, path):
    page = built / section / (path.stem + ".html")
    assert page.is_file(), f"no page for {path.relative_to(ROOT)}"
    text = page.read_text(encoding="utf-8")
    nb = nbformat.read(path, as_version=4)
    plain = html.unescape(re.sub(r"<[^>]+>", "", text))
    assert site.title_of(nb, "") and site.title_of(nb, "") in plain
    images = IMG.findall(text)
    assert len(images) == figures_in(nb), f"{page.name}: {len(images)} images, the notebook has {figures_in(nb)}"
    for kind, data in images:  # each one a real picture, embedded: the page works alone
        head = base64.b64decode(data[:24])
        assert head.startswith(b"\x89PNG") if kind == "png" else head.startswith(b"\xff\xd8")
    assert "NBVAL_" not in text  # the test harness's markers are not for readers
    widgets = sum(1 for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                  if site.WIDGET_MIME in o.get("data", {}))
    assert text.count(site.WIDGET_NOTE) == widgets  # where a widget was, the reader is told how to use it


def test_the_index_links_every_page(built):
    index = (built / "index.html").read_text(encoding="utf-8")
    links = set(re.findall(r'href="([^"]+)"', index))
    for section, path in PAGES:
        assert f"{section}/{path.stem}.html" in links
        assert site.title_of(nbformat.read(path, as_version=4), path.stem) in html.unescape(index)


def test_links_between_pages_and_to_sources_resolve(built):
    for page in built.rglob("*.html"):
        for href in re.findall(r'href="([^"#:]+)(?:#[^"]*)?"', page.read_text(encoding="utf-8")):
            target = (page.parent / href).resolve()
            if href.endswith((".html", ".py", ".c")):
                assert target.is_file(), f"{page.relative_to(built)}: broken link {href}"
            elif href.endswith(".ipynb"):  # left alone only when that notebook is not in the course
                assert not (ROOT / target.relative_to(built)).exists(), f"{page.name} links {href}, not its page"


def test_no_teacher_material_is_published(built):
    assert not any((built / d).exists() for d in ("solutions", "grading", "tests"))
    for f in built.rglob("*"):
        if f.is_file():
            assert "### BEGIN SOLUTION" not in f.read_text(encoding="utf-8", errors="replace"), f


def test_links_are_rewritten_for_the_site(tmp_path):
    out = tmp_path / "out"
    page = ('<a href="01_posix_shared_memory.ipynb#x">n</a> <a href="../labs/">l</a> '
            '<a href="../ipclab/names.py">s</a> <a href="../solutions/x.py">t</a> <a href="https://a.b/c.ipynb">w</a>')
    fixed = site.fix_links(page, Path("notebooks/00_overview.ipynb"), out)
    assert 'href="01_posix_shared_memory.html#x"' in fixed
    assert 'href="../index.html#labs"' in fixed
    assert 'href="../ipclab/names.py"' in fixed and (out / "ipclab" / "names.py").is_file()
    assert not (out / "solutions").exists()  # linked teacher files are not copied along
    assert 'href="https://a.b/c.ipynb"' in fixed


def test_building_into_the_checkout_itself_is_refused():
    with pytest.raises(IpclabError, match="checkout"):
        site.build(ROOT)
