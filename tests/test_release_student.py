"""The student edition (`ipclab release DIR`), tried from a clean folder as a student would.

What a student receives must hold no teacher material (solutions, hidden tests, the
developers' tests), and the README's commands must work in it: ``./course test`` first
checks the notebooks against their sources, then runs pytest (nbval) over the notebooks;
``ipclab.check``/``ipclab grade`` grade a lab with the visible tests only. Here the
edition's own ``ipclab`` is imported (PYTHONPATH), with this venv's packages: installing
a fresh venv from PyPI is what ``./course`` adds on top, tried by hand (docs/INSTRUCTOR.md).
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ipclab.tooling import cli

release = pytest.importorskip("ipclab.tooling.release", reason="ipclab release is not there yet")

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = sorted((ROOT / "solutions").glob("*.py"))
HIDDEN = sorted((ROOT / "grading" / "hidden").glob("*.py"))
LABTESTS = Path("ipclab", "tooling", "grading", "labtests")  # the visible lab tests, in the package
TEST_TITLE = re.compile(r'labkit\.test\(\s*"([^"]+)"')

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    dest = tmp_path_factory.mktemp("student") / "ipclab-course"
    assert cli.main(["release", str(dest)]) == 0
    return dest


def in_edition(edition, *args, timeout):
    """Run ``python args`` inside the edition, importing the edition's own ipclab."""
    env = dict(os.environ, PYTHONPATH=str(edition))
    env.pop("PYTEST_ADDOPTS", None)
    return subprocess.run([sys.executable, *args], cwd=edition, env=env, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def files(edition):
    return [p for p in edition.rglob("*") if p.is_file()]


def test_no_teacher_folder_is_released(edition):
    # teacher folders are top-level; ipclab/tooling/grading (the grader students run) is released
    for name in ("solutions", "grading", "tests", ".git", ".ci", ".venv", "build", "conftest.py"):
        assert not (edition / name).exists(), f"{name} is in the student edition"
    assert not list(edition.rglob("conftest.py")) and not list(edition.rglob("hidden")), "hidden tests released"


def test_no_solution_and_no_hidden_test_in_any_file(edition):
    solutions = {p.read_bytes() for p in SOLUTIONS}
    hidden_titles = {t for p in HIDDEN for t in TEST_TITLE.findall(p.read_text())}
    visible_titles = {t for p in (edition / LABTESTS).glob("*.py") for t in TEST_TITLE.findall(p.read_text())}
    secret = hidden_titles - visible_titles
    for f in files(edition):
        data = f.read_bytes()
        assert data not in solutions, f"{f.relative_to(edition)} is a reference solution"
        text = data.decode("utf-8", errors="replace")
        lines = {line.strip() for line in text.splitlines()}
        if f.relative_to(edition) != Path("ipclab", "tooling", "labgen.py"):  # the stub maker names the markers
            assert "### BEGIN SOLUTION" not in lines, f"{f.relative_to(edition)} holds a solution region"
        leaked = [t for t in secret if t in text]
        assert not leaked, f"{f.relative_to(edition)} names hidden tests: {leaked}"


def test_every_lab_has_its_stub_not_its_solution(edition):
    assert SOLUTIONS, "no labs in solutions/"
    for sol in SOLUTIONS:
        stub = edition / "labs" / sol.name
        assert stub.is_file(), f"labs/{sol.name} missing from the edition"
        assert stub.read_text() != sol.read_text()
        brief = ROOT / "labs" / f"{sol.stem}.ipynb"
        assert not brief.exists() or (edition / "labs" / brief.name).is_file()


def test_the_readme_commands_are_there(edition):
    course = edition / "course"
    assert os.access(course, os.X_OK), "./course must be executable in the edition"
    assert subprocess.run(["bash", "-n", str(course)], timeout=30).returncode == 0
    usage = subprocess.run([str(course)], cwd=edition, capture_output=True, text=True, timeout=30)
    assert usage.returncode == 2 and "./course lab" in usage.stderr
    assert "./course test" in (edition / "README.md").read_text()


def test_its_ipclab_is_the_one_imported(edition):
    r = in_edition(edition, "-c", "import ipclab; print(ipclab.__file__)", timeout=60)
    assert r.returncode == 0 and Path(r.stdout.strip()).is_relative_to(edition), r.stdout + r.stderr


def test_course_test_first_step_passes_there(edition):
    r = in_edition(edition, "-m", "ipclab", "notebooks", "--check", timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "match their sources" in r.stdout


def test_a_student_can_grade_an_untouched_lab_with_visible_tests_only(edition):
    lab = sorted(p.stem for p in (edition / LABTESTS).glob("lab*.py"))[0]
    r = in_edition(edition, "-m", "ipclab", "grade", lab, timeout=600)
    out = r.stdout + r.stderr
    assert "Traceback" not in out, out
    assert r.returncode != 0 and "FAIL" in out, out  # the stub fails its tests, and says so


def test_course_test_runs_a_notebook_there(edition):
    """The second step of ./course test (pytest with the edition's own nbval settings), on 19.0."""
    r = in_edition(edition, "-m", "pytest", "-q", "notebooks/00_overview.ipynb", timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert "passed" in r.stdout


def test_the_links_in_its_notebooks_resolve_inside_it(edition):
    """A student clicks a link in a brief or a notebook: the file is in their edition."""
    import nbformat
    broken = []
    for nb_path in sorted(edition.glob("notebooks/*.ipynb")) + sorted(edition.glob("labs/*.ipynb")):
        for cell in nbformat.read(nb_path, as_version=4).cells:
            if cell.cell_type != "markdown":
                continue
            text = re.sub(r"`[^`\n]*`", "", cell.source)  # code such as `handlers[op](arg)` is no link
            for href in re.findall(r"\]\(([^)\s]+)\)", text):
                if "://" in href or href.startswith(("#", "mailto:")):
                    continue
                if not (nb_path.parent / href.split("#")[0]).exists():
                    broken.append(f"{nb_path.relative_to(edition)} -> {href}")
    assert not broken, "links to files the student edition does not have:\n  " + "\n  ".join(broken)


def test_answers_are_kept_by_default(edition):
    """Self-study (the default): every answers notebook of the course is in the edition."""
    ours = sorted(p.name for p in (ROOT / "notebooks" / "answers").glob("*.ipynb"))
    assert ours, "the course has no answers notebook (notebooks/answers/*.ipynb)"
    assert sorted(p.name for p in (edition / "notebooks" / "answers").glob("*.ipynb")) == ours


def in_step(notebooks, src, target):
    """True if the .ipynb *target* has the cells of its jupytext source *src* (what --check compares)."""
    import nbformat
    want = [(c.cell_type, c.source.strip()) for c in notebooks.read_source(src).cells]
    return want == [(c.cell_type, c.source.strip()) for c in nbformat.read(target, as_version=4).cells]


def test_no_answers_withholds_them_and_the_links_say_so(tmp_path):
    """``ipclab release --no-answers`` (a graded course): no answers notebook, no link to one.

    The chapters' links become text saying the answer is withheld, in the .ipynb and in its
    py/ source alike, so the edition's own ``ipclab notebooks --check`` still passes.
    """
    from ipclab.tooling import notebooks
    linked = [p for p in sorted((ROOT / "notebooks").glob("*.ipynb")) if release.ANSWER_LINK.search(p.read_text())]
    assert linked, "no chapter notebook links to its answers"
    dest = tmp_path / "graded"
    assert cli.main(["release", str(dest), "--no-site", "--no-answers"]) == 0
    assert not (dest / "notebooks" / "answers").exists()
    assert not [p for p in dest.rglob("*_answers.*")], "an answers file is still in the edition"
    for p in linked:
        for copy in (dest / "notebooks" / p.name, dest / "notebooks" / "py" / f"{p.stem}.py"):
            text = copy.read_text()
            assert not release.ANSWER_LINK.search(text), f"{copy.name} still links to an answers notebook"
            assert release.WITHHELD in text, f"{copy.name} does not say its answers are withheld"
        if in_step(notebooks, ROOT / "notebooks" / "py" / f"{p.stem}.py", p):   # rewriting must not break the pair
            assert in_step(notebooks, dest / "notebooks" / "py" / f"{p.stem}.py", dest / "notebooks" / p.name), \
                f"{p.name} no longer matches its source after the links were rewritten"
    assert release.audit(dest, answers=False) == []
