"""The course as a student sees it: every chapter and a lab brief run in JupyterLab, in a real browser.

nbval checks the outputs a kernel produces; this checks what the *browser* shows: a
JupyterLab server on a free localhost port with a random token, a headless Chromium
(Debian's ``chromium``, driven by Playwright for Python) opens each notebook, runs all
cells, and checks that no cell shows an error, every widget is drawn (not "Loading
widget...", not "model not found"), every figure is a loaded image, and a lab's check cell
shows its results table. A screenshot of each notebook goes to ``build/screenshots/``.

The server works on a temporary copy of ``notebooks/`` and ``labs/`` (running cells never
touches the committed notebooks), its kernels inherit ``IPCLAB_RUN_ID`` (the suite's leak
check covers them), and it is stopped with its kernels in teardown, even on failure.

Missing browser or Playwright: the tests skip and say why (set IPCLAB_REQUIRE_BROWSER=1, as
CI does, to make that a failure). Knobs: IPCLAB_CHROMIUM (browser path),
IPCLAB_BROWSER_NB_TIMEOUT (seconds per notebook, default 240).
"""

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import warnings
from pathlib import Path

import pytest

from ipclab import inventory, registry

ROOT = Path(__file__).resolve().parents[2]
# Every chapter, and one lab brief: the eight briefs are built alike (a brief, cells that
# import the student's module, one `ipclab.check` cell whose table this test looks for), and
# each brief also runs under nbval and in tests/test_labs.py. Lab 8 stands for them: it also
# draws a figure. Running all eight here cost two minutes of CI for the same browser checks
# (IPCLAB_BROWSER_ALL_LABS=1 runs them all).
LABS = sorted((ROOT / "labs").glob("*.ipynb"))
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb")) + (
    LABS if os.environ.get("IPCLAB_BROWSER_ALL_LABS") == "1" else [ROOT / "labs" / "lab8_prefork.ipynb"])
SCREENSHOTS = ROOT / "build" / "screenshots"
NB_TIMEOUT = float(os.environ.get("IPCLAB_BROWSER_NB_TIMEOUT", "240"))
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
                  "--no-proxy-server"]  # the page is on localhost
# JupyterLab settings for a test run: every cell in the DOM (no virtual scrolling), no
# autosave, no news or update pop-ups.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
}

RUN_ID = registry.current().id  # the suite's run: the server and its kernels inherit IPCLAB_RUN_ID


def object_key(row):
    return (row["kind"], row["name"] or row["id"])


pytestmark = [pytest.mark.browser, pytest.mark.timeout(NB_TIMEOUT + 240)]


def chromium_path():
    """The browser to drive: IPCLAB_CHROMIUM if set (and only it), else the first one on PATH."""
    if os.environ.get("IPCLAB_CHROMIUM"):
        return shutil.which(os.environ["IPCLAB_CHROMIUM"])
    for candidate in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(candidate):
            return shutil.which(candidate)
    return None


def missing_browser():
    """Why the browser tests cannot run here, or '' if they can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return ("Playwright for Python is not installed: `pip install -e '.[test]'` "
                "(or `pip install playwright`) in the course's venv.")
    if not chromium_path():
        where = os.environ.get("IPCLAB_CHROMIUM") or "chromium, chromium-browser, google-chrome on PATH"
        return (f"no Chromium found ({where}): on Debian/Ubuntu `sudo apt-get install chromium` "
                "(Playwright's own browser download is not needed).")
    return ""


@pytest.fixture(scope="module")
def browser_ready(browser_skips):
    reason = missing_browser()
    if reason and os.environ.get("IPCLAB_REQUIRE_BROWSER") == "1":
        pytest.fail(f"IPCLAB_REQUIRE_BROWSER=1 but {reason}")
    if reason:
        browser_skips.append(reason)
        print(f"\nbrowser tests skipped: {reason}", file=sys.stderr)
        pytest.skip(reason)


# ---------------------------------------------------------------- the JupyterLab server

NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def descendants(pid):
    """PIDs of every living descendant of *pid* (read from /proc)."""
    children = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2:].split()
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class LabServer:
    """``jupyter lab`` on a copy of the course, a random port and token; stop() leaves nothing."""

    def __init__(self, base):
        self.base = Path(base)
        self.root = self.base / "course"
        for name in ("notebooks", "labs"):  # copied: what the cells write stays in the copy
            if (ROOT / name).is_dir():
                shutil.copytree(ROOT / name, self.root / name,
                                ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        for entry in ROOT.iterdir():  # the rest as links, so '../ipclab/...' paths work as in the checkout
            if entry.name not in ("notebooks", "labs", "build", "site") and not entry.name.startswith("."):
                (self.root / entry.name).symlink_to(entry)
        settings = self.base / "settings"
        for plugin, values in LAB_SETTINGS.items():
            path = settings / f"{plugin}.jupyterlab-settings"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        self.token = secrets.token_hex(24)
        self.proc = None
        self.log = self.base / "jupyter.log"
        self.settings = settings

    def start(self, attempts=3):
        for _ in range(attempts):
            self.port = free_port()
            self._spawn()
            if self._wait_ready(timeout=90):
                return self
            self.stop()
        pytest.fail(f"JupyterLab did not start; its log:\n{self.log.read_text()[-3000:]}")

    def _spawn(self):
        env = dict(os.environ)  # IPCLAB_RUN_ID included: the kernels join the suite's run
        env.update(JUPYTER_CONFIG_DIR=str(self.base / "config"), JUPYTER_RUNTIME_DIR=str(self.base / "runtime"),
                   IPYTHONDIR=str(self.base / "ipython"),
                   PATH=os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", ""))
        env.pop("MPLBACKEND", None)
        cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
               "--ip=127.0.0.1", f"--port={self.port}", "--port-retries=0",
               f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root}",
               f"--LabApp.user_settings_dir={self.settings}", f"--LabApp.workspaces_dir={self.base / 'workspaces'}",
               "--LabApp.expose_app_in_browser=True",
               # safety nets should teardown never run (pytest killed): idle kernels and server exit
               "--MappingKernelManager.cull_idle_timeout=900", "--MappingKernelManager.cull_interval=60",
               "--ServerApp.shutdown_no_activity_timeout=1200"]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, cwd=self.root, env=env, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def api(self, method, path, timeout=10):
        req = urllib.request.Request(self.url(path), method=method,
                                     headers={"Authorization": f"token {self.token}"})
        with NO_PROXY.open(req, timeout=timeout) as r:  # localhost: never through an http_proxy
            body = r.read()
        return json.loads(body) if body else None

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                self.api("GET", "/api/status", timeout=3)
                return True
            except (OSError, urllib.error.URLError):
                time.sleep(0.5)
        return False

    def shutdown_kernels(self):
        try:
            for k in self.api("GET", "/api/kernels"):
                self.api("DELETE", f"/api/kernels/{k['id']}", timeout=30)
        except (OSError, urllib.error.URLError, ValueError):
            pass

    def stop(self):
        if not self.proc:
            return
        if self.proc.poll() is None:
            self.shutdown_kernels()
        # kernels run in their own sessions: found by parentage, with their start times so that a
        # PID reused meanwhile by someone else's process is never signalled
        family = [(pid, registry.proc_start_time(pid)) for pid in descendants(self.proc.pid)]
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # the server shuts its kernels down on SIGTERM
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        for pid, started in family:
            if started is not None and registry.proc_start_time(pid) == started:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.proc = None


@pytest.fixture(scope="module")
def lab_server(browser_ready):
    base = tempfile.mkdtemp(prefix="ipclab-browser-")
    server = LabServer(base)
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def browser(browser_ready):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:  # launch() gives the browser a fresh temporary --user-data-dir
        b = p.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_FLAGS,
                              timeout=60_000)
        try:
            yield b
        finally:
            b.close()


# ---------------------------------------------------------------- in the page

OPEN_NOTEBOOK_JS = """async () => {
  const app = window.jupyterapp;
  const panel = app.shell.currentWidget;
  await panel.context.ready;
  await panel.sessionContext.ready;
  app.shell.collapseLeft();
  return panel.context.path;
}"""

KERNEL_IDLE_JS = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const k = panel && panel.sessionContext.session && panel.sessionContext.session.kernel;
  return !!k && k.status === 'idle';
}"""

RUN_ALL_JS = """() => {
  window.__ipclabDone = undefined;
  window.jupyterapp.commands.execute('notebook:run-all-cells').then(
    ok => { window.__ipclabDone = {ok: ok}; },
    err => { window.__ipclabDone = {ok: false, error: String(err)}; });
}"""

# Every code cell: its model outputs, and what the DOM shows for them.
REPORT_JS = """() => {
  const WIDGET = 'application/vnd.jupyter.widget-view+json';
  const panel = window.jupyterapp.shell.currentWidget;
  const cells = [];
  panel.content.widgets.forEach((cell, index) => {
    const m = cell.model;
    if (m.type !== 'code') return;
    const outputs = m.outputs.toJSON().map(o => ({
      type: o.output_type, name: o.name || '', ename: o.ename || '', evalue: o.evalue || '',
      mimes: o.data ? Object.keys(o.data) : [],
      text: String(o.text || (o.data && o.data['text/plain']) || '').slice(0, 1500),
      model_id: o.data && o.data[WIDGET] ? o.data[WIDGET].model_id : null,
    }));
    const area = cell.node.querySelector('.jp-Cell-outputArea') || cell.node;
    // one .jp-OutputArea-child per model output, in order: a widget output is found by its index
    const children = [...area.querySelectorAll(':scope > .jp-OutputArea-child')];
    const widgets = outputs.map((o, j) => [o, children[j]])
      .filter(([o, child]) => o.model_id && child && child.offsetParent !== null)
      .map(([o, child]) => {
        const out = child.querySelector('.jp-OutputArea-output') || child;
        const cut = [...out.querySelectorAll('label, .widget-label, .widget-label-basic, button')]
          .filter(l => l.scrollWidth > l.clientWidth + 1).map(l => l.textContent.trim());
        return {text: out.innerText.slice(0, 200),
                drawn: !!out.querySelector('.jupyter-widgets, [class*="widget-"]'),
                height: out.getBoundingClientRect().height, truncated: cut};
      });
    const images = [...area.querySelectorAll('img')].map(img => ({
      loaded: img.complete && img.naturalWidth > 0, width: img.naturalWidth, height: img.naturalHeight}));
    cells.push({
      index, source: m.sharedModel.getSource(), execution_count: m.executionCount,
      outputs, widgets, images,
      tables: area.querySelectorAll('table').length,
      shown_text: area.innerText.slice(0, 4000),
    });
  });
  return cells;
}"""

SETTLED_JS = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const node = panel.content.node;
  const text = node.innerText;
  if (text.includes('Loading widget...')) return false;
  return [...node.querySelectorAll('.jp-OutputArea-output img')].every(i => i.complete);
}"""

STATUS_JS = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  return panel.content.widgets.filter(c => c.model.type === 'code').map(c => {
    const p = c.node.querySelector('.jp-InputPrompt');
    return {count: c.model.executionCount, prompt: p ? p.innerText.trim() : '',
            source: c.model.sharedModel.getSource().split('\\n').slice(0, 3).join('\\n')};
  });
}"""


def is_check_cell(source):
    return ".check(" in source and not source.lstrip().startswith("#")


def problems_in(cells, lab):
    """What a user would see go wrong, one line each (an empty list: all good)."""
    problems = []
    for c in cells:
        where = f"cell {c['index']} ({c['source'].strip().splitlines()[0][:70] if c['source'].strip() else ''!r})"
        if c["execution_count"] is None:
            problems.append(f"{where}: not executed")
        for o in c["outputs"]:
            if o["type"] == "error":
                problems.append(f"{where}: error output {o['ename']}: {o['evalue'][:300]}")
            elif o["type"] == "stream" and o["name"] == "stderr" and any(
                    w in o["text"] for w in ("Traceback", "Error", "Warning", "warn(")):
                problems.append(f"{where}: stderr shows {o['text'][:300]!r}")
        for w in c["widgets"]:
            if w["text"].startswith("Loading widget") or "Error displaying widget" in w["text"]:
                problems.append(f"{where}: widget not drawn, shows {w['text'][:120]!r}")
            elif not w["drawn"]:
                problems.append(f"{where}: widget output has no widget in it: {w['text'][:120]!r}")
        n_model_widgets = sum(1 for o in c["outputs"] if o["model_id"])
        if n_model_widgets > len(c["widgets"]):
            problems.append(f"{where}: {n_model_widgets} widget output(s), {len(c['widgets'])} shown")
        bad = [i for i in c["images"] if not i["loaded"]]
        if bad:
            problems.append(f"{where}: {len(bad)} image(s) did not load")
        n_figures = sum(1 for o in c["outputs"] if any(m.startswith("image/") for m in o["mimes"]))
        loaded = sum(1 for i in c["images"] if i["loaded"])
        if loaded < n_figures:
            problems.append(f"{where}: {n_figures} figure output(s), {loaded} shown as images")
    if lab:
        checks = [c for c in cells if is_check_cell(c["source"])]
        if not checks:
            problems.append("lab brief has no check cell (ipclab.check(...))")
        for c in checks:
            if not (c["tables"] or _text_table(c["shown_text"])):
                problems.append(f"check cell {c['index']} shows no results table: {c['shown_text'][:300]!r}")
    return problems


def _text_table(text):
    """A plain-text results table: at least two lines that look like rows (columns split by | or runs of spaces)."""
    rows = [line for line in text.splitlines() if line.count("|") >= 2 or len(line.split("  ")) >= 3]
    return len(rows) >= 2


SCROLLER_JS = """(top) => {
  const nb = window.jupyterapp.shell.currentWidget.content.node;
  const scroller = nb.querySelector('.jp-WindowedPanel-outer') || nb;
  scroller.scrollTop = top;
  return scroller.scrollHeight; }"""
MAX_VIEWPORT = 12000  # Chromium cannot paint much taller pages: a longer notebook is shot in parts


def screenshot(page, name):
    """The whole notebook as it looks: a viewport as tall as the notebook (or parts: NAME-2.png...)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for old in [SCREENSHOTS / f"{name}.png", *SCREENSHOTS.glob(f"{name}-[0-9]*.png")]:
        old.unlink(missing_ok=True)
    height = int(page.evaluate(SCROLLER_JS, 0))
    chrome = 160  # menu bar, toolbar and status bar around the notebook
    page.set_viewport_size({"width": 1280, "height": max(800, min(height + chrome, MAX_VIEWPORT))})
    page.wait_for_timeout(500)
    step = MAX_VIEWPORT - chrome
    paths = []
    for i in range(max(1, -(-height // step))):
        page.evaluate(SCROLLER_JS, i * step)
        page.wait_for_timeout(200)
        path = SCREENSHOTS / (f"{name}.png" if i == 0 else f"{name}-{i + 1}.png")
        page.screenshot(path=str(path), timeout=60_000)
        paths.append(path)
    return paths[0]


def run_in_lab(browser, server, rel, name, lab=False):
    """Open *rel* in JupyterLab, run all cells, screenshot it; (cells report, problems, screenshot)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page_errors = []
    page.on("pageerror", lambda e: page_errors.append(str(e)))
    workspace = f"ipclab-{name}-{secrets.token_hex(3)}"  # a fresh layout: only this notebook open
    before = {object_key(r) for r in inventory.course_objects(RUN_ID)}
    try:
        page.goto(server.url(f"/lab/workspaces/{workspace}/tree/{rel}?token={server.token}"), timeout=60_000)
        page.wait_for_function(
            "() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
            " && window.jupyterapp.shell.currentWidget.context", timeout=90_000)
        assert page.evaluate(OPEN_NOTEBOOK_JS) == rel
        page.wait_for_function(KERNEL_IDLE_JS, timeout=90_000, polling=250)
        page.evaluate(RUN_ALL_JS)
        try:
            page.wait_for_function("() => window.__ipclabDone !== undefined",
                                   timeout=NB_TIMEOUT * 1000, polling=500)
        except PlaywrightTimeout:
            stuck = [c for c in page.evaluate(STATUS_JS) if c["prompt"].startswith("[*]")]
            shot = screenshot(page, name + "-TIMEOUT")
            page.evaluate("() => window.jupyterapp.commands.execute('notebook:interrupt-kernel')")
            pytest.fail(f"{rel}: still running after {NB_TIMEOUT:.0f} s (screenshot {shot}); "
                        f"running or queued: {[c['source'] for c in stuck][:2]}")
        try:  # widgets draw and images decode after the last reply
            page.wait_for_function(SETTLED_JS, timeout=30_000, polling=250)
        except PlaywrightTimeout:
            pass  # what is still unsettled is reported cell by cell
        cells = page.evaluate(REPORT_JS)
        shot = screenshot(page, name)
        problems = problems_in(cells, lab)
        done = page.evaluate("() => window.__ipclabDone")
        if done.get("ok") is not True and not problems:
            problems.append(f"run-all did not complete: {done}")
        problems += [f"page error: {e[:200]}" for e in page_errors]
        # Cells clean up behind themselves (CONTRIBUTING): after run-all, with the kernel still
        # alive, no object of this run may remain (a kernel's exit would hide it).
        left = [r for r in inventory.course_objects(RUN_ID) if object_key(r) not in before]
        if left:
            problems.append(f"{len(left)} IPC object(s) left after running every cell:\n"
                            + inventory.format_rows(left))
            inventory.remove_rows(left)
        return cells, problems, shot
    finally:
        try:  # this notebook's kernel goes now, so the leak check sees what its cells left
            page.evaluate("async () => { const p = window.jupyterapp.shell.currentWidget;"
                          " if (p && p.sessionContext) await p.sessionContext.shutdown(); }")
        except Exception:
            pass
        server.shutdown_kernels()
        context.close()


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[str(p.relative_to(ROOT)) for p in NOTEBOOKS])
def test_notebook_runs_in_jupyterlab(notebook, lab_server, browser):
    rel = notebook.relative_to(ROOT).as_posix()
    cells, problems, shot = run_in_lab(browser, lab_server, rel, notebook.stem, lab=rel.startswith("labs/"))
    assert not problems, f"{rel} in JupyterLab (screenshot {shot}):\n  " + "\n  ".join(problems)
    for c in cells:  # not a failure, but a user cannot read these: shown in the warnings summary
        for w in c["widgets"]:
            if w.get("truncated"):
                warnings.warn(f"{rel} cell {c['index']}: widget labels cut off on screen: {w['truncated']}",
                              UserWarning, stacklevel=1)
    print(f"{rel}: {len(cells)} code cells, {sum(len(c['widgets']) for c in cells)} widgets, "
          f"{sum(len(c['images']) for c in cells)} images; screenshot {shot}")


SELF_CHECK_CELLS = [
    "import ipywidgets as w\nw.IntSlider(value=3, description='workers')",
    "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2]); plt.title('a figure'); plt.show()",
    "import os\nfrom ipclab import objects\nleft = objects.create_posix_shm(4096, tag='left')\n"
    "print('run', os.environ.get('IPCLAB_RUN_ID'))",
    "1 / 0",
    "print('never runs')",
]


def test_the_harness_sees_widgets_figures_and_errors(lab_server, browser):
    """The checks above can fail: a notebook with a widget, a figure and an error, seen as such."""
    import nbformat
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in SELF_CHECK_CELLS])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    (lab_server.root / "selfcheck").mkdir(exist_ok=True)
    nbformat.write(nb, lab_server.root / "selfcheck" / "selfcheck.ipynb")
    cells, problems, shot = run_in_lab(browser, lab_server, "selfcheck/selfcheck.ipynb", "zz-selfcheck")
    widget, figure, leaver, error, last = cells
    assert f"run {RUN_ID}" in leaver["shown_text"]  # the kernels join the suite's run...
    assert any("left after running every cell" in p and "posix_shm" in p for p in problems), problems
    assert widget["widgets"] and all(w["drawn"] for w in widget["widgets"]), widget
    assert "workers" in widget["shown_text"]
    assert len(figure["images"]) == 1 and figure["images"][0]["loaded"] and figure["images"][0]["width"] > 100
    assert any("ZeroDivisionError" in p and "cell 3" in p for p in problems), problems
    assert any("cell 4" in p and "not executed" in p for p in problems), problems  # run-all stopped
    assert not [p for p in problems if "cell 0" in p or "cell 1" in p or "cell 2" in p], problems
    assert len(problems) == 3, problems  # the error, the cell never run, the object left


def report(source="x = 1", **cell):
    base = dict(index=0, source=source, execution_count=1, outputs=[], widgets=[], images=[],
                tables=0, shown_text="")
    return {**base, **cell}


@pytest.mark.parametrize("cell, expected", [
    (report(widgets=[{"text": "Loading widget...", "drawn": False, "height": 18}]), "widget not drawn"),
    (report(widgets=[{"text": "Error displaying widget: model not found", "drawn": True, "height": 18}]),
     "widget not drawn"),
    (report(outputs=[{"type": "display_data", "mimes": ["image/png", "text/plain"], "model_id": None,
                      "name": "", "text": ""}]), "1 figure output(s), 0 shown"),
    (report(images=[{"loaded": False, "width": 0, "height": 0}]), "did not load"),
    (report(outputs=[{"type": "stream", "name": "stderr", "text": "DeprecationWarning: x",
                      "mimes": [], "model_id": None}]), "stderr shows"),
    (report(execution_count=None), "not executed"),
], ids=["loading", "model-not-found", "figure-missing", "image-broken", "stderr-warning", "not-run"])
def test_problems_in_names_what_a_user_would_see(cell, expected):
    problems = problems_in([cell], lab=False)
    assert len(problems) == 1 and expected in problems[0], problems


def test_a_lab_check_cell_must_show_a_table():
    check = 'import ipclab\nipclab.check("lab1")'
    assert problems_in([report(check, shown_text="lab1: 0/10")], lab=True)
    assert not problems_in([report(check, tables=1)], lab=True)
    assert not problems_in([report(check, shown_text="test  points  result\nring  2  FAIL\nfull  3  PASS")],
                           lab=True)
    assert "no check cell" in problems_in([report()], lab=True)[0]
