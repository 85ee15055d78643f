"""Alt text for the figures of the course book: a Sphinx extension (``ipclab site``).

Why: myst-nb turns a notebook's image output into an ``<img>`` with no ``alt``, and Sphinx
then writes the image's file name (a hash) as its alt text. A screen-reader user hears
"3f9a...c2.png". Each figure of the course says in words what it shows; this extension
finds that sentence and puts it in the ``alt`` attribute.

Where a notebook says what a figure shows (contributors: use one of these), for the k-th
image output of a code cell, first found wins:

1. **the output's metadata**, per MIME type (what ``IPython.display.display(fig,
   metadata={"image/png": {"alt": "..."}})`` stores)::

       "outputs": [{"output_type": "display_data", "data": {"image/png": "..."},
                    "metadata": {"image/png": {"alt": "Bar chart of ..."}}}]

2. **the cell's metadata**, key ``ipclab`` -> ``alt``: one string for every image of the
   cell, or a list (one per image, in order). In a jupytext percent source::

       # %% ipclab={"alt": "Line chart of throughput against message size ..."}

   (myst-nb's own ``mystnb: {image: {alt: ...}}`` cell metadata is honoured too.)
3. **the sentence the cell prints**: a line of the cell's output that starts with
   ``Figure:`` after the image (what :func:`ipclab.presentation.plots.style.show` prints),
   or anywhere in the output of a cell that shows one image.
4. **a Markdown sentence right after the cell**: the next Markdown cell starting with
   ``Figure:`` (or ``**Figure:**``, ``*Figure.*``, ``Alt text:``).

A figure with none of these still gets a non-empty alt ("Figure 2 of <page>: drawn by the
code cell above; no description given") and the build lists it as a warning, so the gap
is visible to whoever builds the site.
"""

import hashlib
import os
import re
from base64 import b64decode
from pathlib import Path

from docutils import nodes

__all__ = ["IMAGE_MIMES", "CELL_KEY", "alt_texts", "setup"]

IMAGE_MIMES = ("image/png", "image/jpeg", "image/gif", "image/svg+xml")
CELL_KEY = "ipclab"  # cell metadata: {"ipclab": {"alt": "..." or ["...", ...]}}
FIGURE_LINE = re.compile(r"^\s*(?:[*_]{1,2})?(?:Figure|Alt text)\s*[:.](?:[*_]{1,2})?\s*(\S.*)$", re.I)


def _digest(mime, data):
    """The name myst-nb gives the image file: sha256 of its bytes (see myst_nb.core.render.render_image)."""
    if isinstance(data, list):
        data = "".join(data)
    if mime in ("image/png", "image/jpeg", "image/gif"):
        raw = b64decode(data)
    else:
        raw = os.linesep.join(data.splitlines()).encode("utf-8")
    return hashlib.sha256(raw).hexdigest()


def _first_paragraph(text):
    return " ".join(text.strip().split("\n\n")[0].split())


def _figure_lines(out):
    text = out.get("text", "") if out.get("output_type") == "stream" else out.get("data", {}).get("text/plain", "")
    text = "".join(text) if isinstance(text, list) else text
    return [m.group(1).strip() for m in map(FIGURE_LINE.match, text.splitlines()) if m]


def _printed(outputs, start):
    """The 'Figure: ...' line printed after output *start* and before the next image; in a cell with
    one image, a line printed before it counts too (a figure shown at the end of the cell comes last)."""
    for out in outputs[start + 1:]:
        if any(m in out.get("data", {}) for m in IMAGE_MIMES):
            break
        if _figure_lines(out):
            return _figure_lines(out)[0]
    if sum(1 for o in outputs if any(m in o.get("data", {}) for m in IMAGE_MIMES)) == 1:
        lines = [line for o in outputs[:start] for line in _figure_lines(o)]
        return lines[0] if lines else ""
    return ""


def _from_cell(cell, k):
    alt = cell.get("metadata", {}).get(CELL_KEY, {}).get("alt")
    if isinstance(alt, list):
        return alt[k] if k < len(alt) else ""
    return alt or ""


def _from_next_markdown(cells, i):
    nxt = cells[i + 1] if i + 1 < len(cells) else None
    if nxt is not None and nxt.get("cell_type") == "markdown":
        m = FIGURE_LINE.match(_first_paragraph("".join(nxt.get("source", ""))))
        return m.group(1).strip() if m else ""
    return ""


def alt_texts(nb, page_title="this page"):
    """{sha256 of the image bytes: (alt text, True if the notebook gave it)} for every image output.

    *nb* is a notebook as a dict (nbformat 4). The order of the sources is the module's docstring.
    """
    found, figure = {}, 0
    cells = nb.get("cells", [])
    for i, cell in enumerate(cells):
        if cell.get("cell_type") != "code":
            continue
        outputs, k = cell.get("outputs", []), 0
        for j, out in enumerate(outputs):
            data, meta = out.get("data", {}), out.get("metadata", {})
            for mime in IMAGE_MIMES:
                if mime not in data:
                    continue
                figure += 1
                given = ((meta.get(mime) or {}).get("alt") or meta.get("alt") or _from_cell(cell, k)
                         or _printed(outputs, j) or _from_next_markdown(cells, i))
                text = given or (f"Figure {figure} of “{page_title}”: drawn by the code cell above; "
                                 "no description given")
                found[_digest(mime, data[mime])] = (" ".join(str(text).split()), bool(given))
                k += 1
                break  # one picture per output: the first image MIME type myst-nb would show
    return found


# ----------------------------------------------------------------- the Sphinx side

def _on_doctree_read(app, doctree):
    """Give every notebook image its alt text (an alt already set, e.g. by mystnb metadata, is kept)."""
    import nbformat
    from sphinx.util import logging

    docname = app.env.docname
    source = Path(app.env.doc2path(docname))
    if source.suffix != ".ipynb":
        return
    title = next((n.astext() for n in doctree.findall(nodes.title)), docname)
    table = alt_texts(nbformat.read(source, as_version=4), title)
    for node in doctree.findall(nodes.image):
        key = Path(node.get("uri", "")).stem
        if key in table and not node.get("alt"):
            text, given = table[key]
            node["alt"] = text
            if not given:
                logging.getLogger(__name__).warning(
                    f"a figure has no alt text; {text[:60]}... (see ipclab.tooling.book_alt for the ways to "
                    "give one)", location=docname, type="ipclab", subtype="alt")


def setup(app):
    app.connect("doctree-read", _on_doctree_read)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
