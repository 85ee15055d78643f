"""The glass-box helpers: the real source is shown, marks must exist, reveal cells are collapsed."""

import pytest

from ipclab.presentation import glass
from ipclab.tooling import notebooks


def _worker(counter, n):
    for _ in range(n):
        value = counter.value
        counter.value = value + 1


def test_show_prints_the_real_source_with_marks():
    text = repr(glass.show(_worker, mark=["value = counter"]))
    assert "def _worker(counter, n):" in text
    marked = [line for line in text.splitlines() if line.startswith(">>")]
    assert len(marked) == 1 and "value = counter.value" in marked[0]
    start, _ = glass.source_lines(_worker)
    assert f"{start:4d}  def _worker" in text  # numbered as in the file


def test_show_html_highlights():
    html = glass.show(_worker, mark=[2])._repr_html_()
    assert "_worker" in html
    assert html.count('<span style="background-color') == 1  # the one marked line


def test_a_stale_mark_fails_loudly():
    with pytest.raises(ValueError, match="not in the source"):
        glass.show(_worker, mark=["lock.acquire()"])
    with pytest.raises(ValueError, match="outside"):
        glass.show(_worker, mark=[99])


def test_reveal_cells_are_stored_collapsed():
    import nbformat
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1", metadata={"tags": ["reveal"]}),
                                         nbformat.v4.new_code_cell("2")])
    notebooks.clean(nb)
    first, second = nb.cells
    assert first.metadata["jupyter"] == {"outputs_hidden": True}
    assert "hide-output" in first.metadata["tags"]
    assert second.metadata == {}


def test_the_book_publishes_a_shown_source_as_its_text():
    """The stored HTML carries the colours of the style it was built with; the book shows the text."""
    import nbformat

    from ipclab.tooling import book_sources
    shown = glass.show(_worker, mark=["value = counter"])
    out = nbformat.v4.new_output("display_data", data={"text/plain": repr(shown), "text/html": shown._repr_html_()})
    other = nbformat.v4.new_output("display_data", data={"text/plain": "a table", "text/html": "<table></table>"})
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("show(_worker)", outputs=[out, other])])
    book_sources.for_readers(nb)
    first, second = nb.cells[0].outputs
    assert set(first["data"]) == {"text/plain"} and ">>" in first["data"]["text/plain"]
    assert "text/html" in second["data"]  # other HTML outputs are kept
