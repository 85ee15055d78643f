"""The house: ipclab's layers import one way, with no cycles, and stable names resolve (issue 22).

Allowed directions (a module may import its own layer and those listed):
tooling -> anything; presentation -> experiments, bench, mechanisms, core; experiments ->
mechanisms, core; bench -> mechanisms, core; mechanisms -> core; core -> core only.
"""

import ast
from pathlib import Path

import pytest

import ipclab

PKG = Path(ipclab.__file__).resolve().parent
ALLOWED = {
    "core": {"core"},
    "mechanisms": {"mechanisms", "core"},
    "experiments": {"experiments", "mechanisms", "core"},
    "bench": {"bench", "mechanisms", "core"},
    "presentation": {"presentation", "experiments", "bench", "mechanisms", "core"},
    "tooling": {"tooling", "presentation", "experiments", "mechanisms", "core", "bench"},
}


def _modules():
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG)
        if len(rel.parts) > 1 and rel.parts[0] in ALLOWED:
            yield rel.parts[0], ".".join(("ipclab",) + rel.with_suffix("").parts), path


def _imports(path, top_level_only=False):
    """Every ipclab module named by an import in *path* (``top_level_only``: not inside functions)."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else ast.walk(tree)
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ipclab"):
            assert node.level == 0, f"{path}: relative import; use the full ipclab.* path"
            yield node.module
            for alias in node.names:
                yield f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("ipclab"):
                    yield alias.name


def _layer(module):
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in ALLOWED else None


@pytest.mark.parametrize("layer,module,path", list(_modules()), ids=lambda x: x if isinstance(x, str) else "")
def test_imports_point_one_way(layer, module, path):
    wrong = sorted({m for m in _imports(path) if _layer(m) and _layer(m) not in ALLOWED[layer]})
    assert not wrong, f"{module} ({layer}) imports {wrong}: allowed layers are {sorted(ALLOWED[layer])}"


def test_no_import_cycles_at_module_level():
    graph = {}
    known = {m for _, m, _ in _modules()}
    for _, module, path in _modules():
        graph[module] = {m for m in _imports(path, top_level_only=True) if m in known and m != module}
    state = {}

    def visit(node, stack):
        state[node] = "open"
        for nxt in graph[node]:
            if state.get(nxt) == "open":
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(nxt):] + [nxt]))
            if nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for node in graph:
        if node not in state:
            visit(node, [node])


def test_stable_names_resolve_to_layer_modules():
    for short, full in ipclab.STABLE_NAMES.items():
        assert getattr(ipclab, short).__name__ == full
        assert _layer(full), f"{short} -> {full} is outside the layers"


def test_no_module_shadows_the_standard_library():
    import sys
    names = {p.stem for p in PKG.rglob("*.py")} | {p.name for p in PKG.rglob("*") if p.is_dir()}
    clash = sorted(names & set(sys.stdlib_module_names))
    assert not clash, f"ipclab modules named like standard-library modules: {clash}"


def test_only_paths_finds_files_from_the_package_location():
    """Package data and the course tree are found through ipclab.core.paths (one place), not by
    walking up from a module's own file: that breaks when the package is installed, not checked out."""
    import re
    walk_up = re.compile(r"__file__\)?(\.resolve\(\))?\.parent\.parent")
    offenders = [str(p.relative_to(PKG)) for p in PKG.rglob("*.py")
                 if p != PKG / "core" / "paths.py" and walk_up.search(p.read_text())]
    assert not offenders, f"modules that walk up from __file__ (use ipclab.core.paths): {offenders}"


def test_cli_imports_a_plugin_only_when_its_command_runs():
    import subprocess
    import sys
    code = ("import sys; from ipclab.tooling import cli; cli.main(['ls', '--json']);"
            "print(sorted(m for m in sys.modules if m.startswith('ipclab.tooling.') or m.startswith('ipclab.bench')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True).stdout
    assert out.strip().splitlines()[-1] == "['ipclab.tooling.cli']"


def test_cli_says_which_plugin_failed_to_import(monkeypatch, capsys):
    from ipclab.tooling import cli
    monkeypatch.setitem(cli.PLUGINS, "bench", ("ipclab.no_such_module", "x"))
    with pytest.raises(SystemExit) as e:
        cli.main(["bench"])
    assert "cannot import ipclab.no_such_module" in str(e.value)


def test_ruff_finds_no_error():
    """The lint CI runs (rules in pyproject.toml); skipped with its reason if ruff is not installed."""
    import shutil
    import subprocess
    import sys
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if not Path(ruff).exists():
        pytest.skip("ruff is not installed (pip install ruff, or ./course test installs it)")
    root = PKG.parent
    r = subprocess.run([ruff, "check", "."], cwd=root, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout[-3000:]


def test_package_data_lists_every_file_the_package_reads():
    """An installed ipclab (pip install ., a wheel) holds only what package-data names."""
    import tomllib
    from pathlib import PurePosixPath

    globs = tomllib.loads((PKG.parent / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["ipclab"]
    pkg = PKG
    missing = []
    for f in pkg.rglob("*"):
        if not f.is_file() or f.suffix in (".py", ".pyc") or "__pycache__" in f.parts:
            continue
        rel = PurePosixPath(f.relative_to(pkg).as_posix())
        if not any(len(PurePosixPath(g).parts) == len(rel.parts) and rel.match(g) for g in globs):
            missing.append(str(rel))
    assert not missing, f"add to [tool.setuptools.package-data] in pyproject.toml: {missing}"


def test_every_public_module_declares_all():
    """Notebooks and labs import documented names: each module says which are public (``__all__``)."""
    import importlib

    exempt = {"ipclab.__main__", "ipclab.tooling.book_src.conf"}
    missing, wrong = [], []
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG)
        if rel.name == "__init__.py" or rel.parts[:3] == ("tooling", "grading", "labtests"):
            continue
        name = ".".join(("ipclab",) + rel.with_suffix("").parts)
        if name in exempt:
            continue
        if "__all__" not in path.read_text():
            missing.append(name)
            continue
        module = importlib.import_module(name)
        wrong += [f"{name}.{n}" for n in module.__all__ if not hasattr(module, n)]
    assert not missing, f"declare __all__ in: {missing}"
    assert not wrong, f"__all__ names what the module does not define: {wrong}"
