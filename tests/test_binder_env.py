"""environment.yml (conda users and Binder) stays in step with pyproject.toml.

Binder (repo2docker) builds the course from the root ``environment.yml``: it installs the
conda packages, then the pip section, whose ``-e .`` is the course itself. A dependency
added to pyproject.toml but not to environment.yml would still arrive through ``-e .``,
but from pip, unpinned against the conda packages: so every runtime dependency is listed,
with the same lower bound. (A real Binder build cannot run here; this checks its input.)
"""

import re
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

tomllib = pytest.importorskip("tomllib" if __import__("sys").version_info >= (3, 11) else "tomli")

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
RUNTIME = [Requirement(r) for r in PYPROJECT["project"]["dependencies"]]


def norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def conda_spec(entry):
    """'jupyterlab>=4' or 'python=3.11' -> (name, SpecifierSet)."""
    m = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", entry)
    spec = m.group(2).strip().replace(" ", "")
    if re.match(r"^=[^=]", spec):  # conda's 'x=3.11' means 3.11.*
        spec = f"=={spec[1:]}.*"
    return norm(m.group(1)), SpecifierSet(spec)


@pytest.fixture(scope="module")
def env():
    return yaml.safe_load((ROOT / "environment.yml").read_text())


def listed(env):
    """name -> (where, SpecifierSet) for every package environment.yml installs by name."""
    out, pip = {}, []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip += dep.get("pip", [])
        else:
            name, spec = conda_spec(dep)
            out[name] = ("conda", spec)
    for line in pip:
        if not line.startswith("-"):
            req = Requirement(line)
            out[norm(req.name)] = ("pip", req.specifier)
    return out, pip


def test_environment_yml_parses_and_installs_the_course(env):
    assert env["name"] and "conda-forge" in env["channels"]
    _, pip = listed(env)
    assert any(line.replace(" ", "") in ("-e.", ".") for line in pip), "the pip section must install the course (-e .)"


def test_its_python_satisfies_requires_python(env):
    names, _ = listed(env)
    _, spec = names["python"]
    minor = re.search(r"(\d+\.\d+)", str(spec)).group(1)
    assert SpecifierSet(PYPROJECT["project"]["requires-python"]).contains(minor + ".0")


@pytest.mark.parametrize("req", RUNTIME, ids=[r.name for r in RUNTIME])
def test_every_runtime_dependency_is_listed_with_the_same_bound(env, req):
    names, _ = listed(env)
    assert norm(req.name) in names, f"{req} is in pyproject.toml but not in environment.yml"
    where, spec = names[norm(req.name)]
    assert spec == req.specifier, f"{req.name}: pyproject says '{req.specifier}', environment.yml ({where}) '{spec}'"


def test_no_binder_folder_hides_the_root_environment():
    # repo2docker reads binder/ (or .binder/) instead of the root files when it exists
    for d in ("binder", ".binder"):
        folder = ROOT / d
        assert not folder.is_dir() or (folder / "environment.yml").exists(), \
            f"{d}/ exists without environment.yml: Binder would ignore the root environment.yml"
