"""The committed notebooks are what their sources make, executed top to bottom."""

import nbformat
import pytest

from ipclab import notebooks

PAIRS = notebooks.sources()


@pytest.mark.parametrize("src,target", PAIRS, ids=[t.name for _, t in PAIRS])
def test_notebook_matches_its_source(src, target):
    assert notebooks.out_of_sync(src, target) == "", "run `ipclab notebooks` and commit the result"


@pytest.mark.parametrize("src,target", PAIRS, ids=[t.name for _, t in PAIRS])
def test_notebook_was_executed_in_order_without_errors(src, target):
    nb = nbformat.read(target, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), \
        f"{target.name} is not executed top to bottom: run `ipclab notebooks {target.stem}`"
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors or target.parent.name == "labs", f"{target.name} was committed with an error output"
    assert set(nb.metadata) <= {"kernelspec", "language_info", "ipclab"}, "metadata not cleaned"


@pytest.mark.parametrize("src,target", PAIRS, ids=[t.name for _, t in PAIRS])
def test_notebook_was_built_as_an_ordinary_user(src, target):
    """What most students see is an ordinary user's run (issue 15): build with `.ci/run notebooks NAME`."""
    nb = nbformat.read(target, as_version=4)
    built_as = nb.metadata.get("ipclab", {}).get("built_as")
    assert built_as == "ordinary user", (f"{target.name} was built as {built_as or 'unknown'}: rebuild it as an "
                                         f"ordinary user (as root: .ci/run notebooks {target.stem})")
