"""The course book (`ipclab site`) in a real browser: every page loads, search finds shm_open,
launch links are well formed, no internal link is broken, and axe-core finds no serious or
critical accessibility violation.

The book is built into a temporary folder and served from a local HTTP server on
127.0.0.1 (a free port); headless Chromium (Debian's ``chromium``, driven by Playwright for
Python, as in test_jupyterlab.py) reads it. Every request that leaves the local server is
refused and counted: the book must work offline. Screenshots go to ``build/screenshots/``.

axe-core is the npm package, installed where CI installs it::

    npm install --prefix build/node --no-save --no-audit --no-fund axe-core@4.14.1

(``IPCLAB_AXE`` may point at another ``axe.min.js``). Missing browser or Playwright: the tests
skip and say why, unless IPCLAB_REQUIRE_BROWSER=1 (CI), where that is a failure. A missing
axe-core is always a failure that says the command above.
"""

import functools
import html
import http.server
import json
import os
import re
import shutil
import sys
import threading
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from ipclab.tooling import book_sources
from ipclab.tooling import book

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "build" / "screenshots"
AXE = Path(os.environ.get("IPCLAB_AXE") or ROOT / "build" / "node" / "node_modules" / "axe-core" / "axe.min.js")
AXE_INSTALL = "npm install --prefix build/node --no-save --no-audit --no-fund axe-core@4.14.1"
REPO, HUB = "https://github.com/example-org/ipclab", "https://hub.example.edu"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--no-proxy-server"]

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]


# ------------------------------------------------------------ browser (as test_jupyterlab.py finds it)

def chromium_path():
    """IPCLAB_CHROMIUM if set (and only it), else the first Chromium on PATH."""
    if os.environ.get("IPCLAB_CHROMIUM"):
        return shutil.which(os.environ["IPCLAB_CHROMIUM"])
    return next((shutil.which(c) for c in ("chromium", "chromium-browser", "google-chrome") if shutil.which(c)), None)


def missing_browser():
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed: `pip install -e '.[test]'` in the course's venv."
    if not chromium_path():
        return "no Chromium found (IPCLAB_CHROMIUM, or chromium on PATH): on Debian/Ubuntu `sudo apt-get install chromium`."
    return ""


@pytest.fixture(scope="module")
def browser(browser_skips):
    reason = missing_browser()
    if reason and os.environ.get("IPCLAB_REQUIRE_BROWSER") == "1":
        pytest.fail(f"IPCLAB_REQUIRE_BROWSER=1 but {reason}")
    if reason:
        browser_skips.append(reason)
        print(f"\nbook browser tests skipped: {reason}", file=sys.stderr)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_FLAGS, timeout=60_000)
        try:
            yield b
        finally:
            b.close()


# ------------------------------------------------------------ the book, served locally

class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(base URL, folder, Book): the book built for a class with a hub, on a local server."""
    out = tmp_path_factory.mktemp("book") / "site"
    built = book.build(out, repo=REPO, branch="main", hub=HUB)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(out)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", out, built
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def offline_context(browser, base, **options):
    """A browser context where nothing leaves the local server (offline); outside requests are recorded."""
    ctx = browser.new_context(**options)
    ctx.outside = []

    def route(r):
        if r.request.url.startswith(base):
            r.continue_()
        else:
            ctx.outside.append(r.request.url)
            r.abort()
    ctx.route("**/*", route)
    return ctx


@pytest.fixture(scope="module")
def context(browser, served):
    ctx = offline_context(browser, served[0], viewport={"width": 1280, "height": 900})
    try:
        yield ctx
    finally:
        ctx.close()


def html_pages(out):
    """The book's pages (not the theme's files under _static/)."""
    rels = (p.relative_to(out) for p in out.rglob("*.html"))
    return sorted(r.as_posix() for r in rels if not any(part.startswith("_") for part in r.parts))


LINKS_JS = """() => [...document.querySelectorAll('a[href]')].map(a => a.href)"""
IMAGES_JS = """() => [...document.images].map(i => ({src: i.src, alt: i.getAttribute('alt'),
                                                    ok: i.complete && i.naturalWidth > 0}))"""


def test_every_page_loads_offline_and_no_internal_link_is_broken(context, served):
    base, out, _ = served
    page = context.new_page()
    errors, links, bad_images = [], set(), []
    page.on("pageerror", lambda e: errors.append(f"{page.url}: {e}"))
    page.on("console", lambda m: m.type == "error" and errors.append(f"{page.url}: console: {m.text}"))
    pages = html_pages(out)
    assert len(pages) >= len(book_sources.pages(ROOT)) + 2  # every page, the index and search at least
    for rel in pages:
        response = page.goto(base + rel, wait_until="load")
        assert response and response.ok, f"{rel}: HTTP {response and response.status}"
        assert page.title(), f"{rel} has no title"
        links.update((rel, href) for href in page.evaluate(LINKS_JS))
        bad_images += [f"{rel}: {i['src']}" for i in page.evaluate(IMAGES_JS) if not i["ok"]]
    page.close()
    assert not errors, "\n".join(errors)
    assert not bad_images, "images that did not load:\n" + "\n".join(bad_images)
    assert not context.outside, "requests that left the book (it must work offline):\n" + "\n".join(context.outside)
    broken = []
    for rel, href in sorted(links):
        if not href.startswith(base):
            continue
        parts = urlsplit(href)
        path = unquote(parts.path[len(urlsplit(base).path):]) or "index.html"
        target = out / path
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            broken.append(f"{rel} -> {href} (no such file)")
        elif parts.fragment and target.suffix == ".html":
            ids = set(re.findall(r'\sid="([^"]+)"', target.read_text(encoding="utf-8")))
            if html.unescape(unquote(parts.fragment)) not in {html.unescape(i) for i in ids}:
                broken.append(f"{rel} -> {href} (no #{parts.fragment} there)")
    assert not broken, "broken internal links:\n" + "\n".join(broken)


def test_search_finds_shm_open(context, served):
    base = served[0]
    page = context.new_page()
    page.goto(base + "index.html")
    page.keyboard.press("Control+k")  # as a reader does: the search dialog, type, Enter
    field = page.locator("input[name='q']:visible").first
    field.fill("shm_open")
    field.press("Enter")
    page.wait_for_url("**/search.html?q=shm_open*")
    results = page.locator("#search-results ul.search li a")
    results.first.wait_for(timeout=30_000)
    hrefs = [urlsplit(h).path for h in results.evaluate_all("as => as.map(a => a.href)")]
    page.close()
    assert any(h.endswith("notebooks/01_posix_shared_memory.html") for h in hrefs), hrefs


def test_launch_and_download_links_are_well_formed(context, served):
    base, _, built = served
    page = context.new_page()
    notebooks = [p for p in built.pages if p.rel.suffix == ".ipynb"]
    for p in notebooks:
        page.goto(base + p.docname + ".html")
        page.locator("button[aria-label='Launch interactive content']").click()
        binder = page.locator("a[href^='https://mybinder.org/']")
        hub = page.locator(f"a[href^='{HUB}/']")
        binder.first.wait_for(state="visible")  # the dropdown shows them
        assert binder.count() == 1 and hub.count() == 1, p.rel
        b, h = urlsplit(binder.get_attribute("href")), urlsplit(hub.get_attribute("href"))
        assert b.path == "/v2/gh/example-org/ipclab/main" and parse_qs(b.query)["urlpath"] == [f"lab/tree/{p.rel.as_posix()}"]
        q = parse_qs(h.query)
        assert h.path == "/hub/user-redirect/git-pull"
        assert q == {"repo": [REPO], "branch": ["main"], "urlpath": [f"lab/tree/ipclab/{p.rel.as_posix()}"]}
        assert (ROOT / p.rel).is_file()  # the path the launch opens is the repository's
        download = page.locator("a[href$='.ipynb'][href*='_sources/']")
        assert download.count() == 1, p.rel
        reply = page.request.get(download.evaluate("a => a.href"))
        assert reply.ok and json.loads(reply.body())["nbformat"] == 4
    page.close()


@pytest.mark.parametrize("scheme, width", [("light", 1280), ("dark", 390)], ids=["light-desktop", "dark-phone"])
def test_no_serious_accessibility_violation(browser, served, scheme, width):
    if not AXE.is_file():
        pytest.fail(f"axe-core is not installed ({AXE}): run `{AXE_INSTALL}` in the checkout (or set IPCLAB_AXE)")
    base, out, built = served
    targets = ["index.html", "search.html"] + [p.docname + ".html" for p in built.pages]
    targets += sorted(p.relative_to(out).as_posix() for p in (out / book_sources.CODE).rglob("*.html"))[:2]
    ctx = offline_context(browser, base, color_scheme=scheme, viewport={"width": width, "height": 900})
    page = ctx.new_page()
    serious, moderate = [], 0
    try:
        for rel in targets:
            page.goto(base + rel)
            page.add_script_tag(path=str(AXE))
            violations = page.evaluate("""async () => (await axe.run(document, {resultTypes: ['violations']}))
                .violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                       nodes: v.nodes.slice(0, 3).map(n => n.html.slice(0, 160))}))""")
            for v in violations:
                if v["impact"] in ("serious", "critical"):
                    serious.append(f"{rel}: {v['impact']} {v['id']} ({v['help']}): {v['nodes']}")
                else:
                    moderate += 1
    finally:
        ctx.close()
    print(f"axe-core ({scheme}, {width} px) on {len(targets)} pages: {len(serious)} serious/critical, "
          f"{moderate} minor/moderate violations")
    assert not serious, "\n".join(serious)


def test_screenshots_for_a_reader(context, served):
    """What a reader sees: the overview's top, and a figure with its alt text (build/screenshots/book-*.png)."""
    base, _, built = served
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = context.new_page()
    first = built.pages[0]
    page.goto(base + first.docname + ".html")
    page.screenshot(path=str(SCREENSHOTS / "book-page.png"))
    figure = next((p for p in built.pages if (served[1] / (p.docname + ".html")).read_text().count("_images/")), None)
    if figure:
        page.goto(base + figure.docname + ".html")
        img = page.locator("div.cell_output img").first
        img.scroll_into_view_if_needed()
        assert img.get_attribute("alt")
        page.screenshot(path=str(SCREENSHOTS / "book-figure.png"))
    page.close()
    assert (SCREENSHOTS / "book-page.png").stat().st_size > 10_000
