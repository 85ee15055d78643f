"""Glass box: show the code that runs, where the student reads the lesson.

Why: a verdict from a helper teaches a conclusion; the worker's own lines teach the
mechanism. :func:`show` prints the *real* source of a function, class or module (the object
itself, read with :func:`inspect.getsource`, never a copy), numbered as in its file, with the
lines that matter marked. In JupyterLab it is highlighted HTML; headless (nbval, a terminal)
it is plain text with ``>>`` markers, so stored outputs stay stable and diffable.

    from ipclab.presentation.glass import show
    show(race.unlocked_worker, mark=["value = counter", "counter ="])
"""

import inspect

__all__ = ["source_lines", "show"]


def source_lines(obj):
    """(first line number, list of lines) of *obj*'s source, as in its file."""
    lines, start = inspect.getsourcelines(obj)
    return max(start, 1), [line.rstrip("\n") for line in lines]


def _marked(lines, mark):
    """Indexes of the lines that contain any of the strings (or are listed as 1-based offsets) in *mark*."""
    out = set()
    for m in mark or ():
        if isinstance(m, int):
            if not 1 <= m <= len(lines):
                raise ValueError(f"line {m} is outside the {len(lines)} lines shown")
            out.add(m - 1)
            continue
        hits = [i for i, line in enumerate(lines) if m in line]
        if not hits:
            raise ValueError(f"{m!r} is not in the source shown: mark a string that appears in it")
        out.update(hits)
    return out


def as_text(obj, mark=()):
    """The numbered source of *obj* with ``>>`` before the marked lines (what headless runs print)."""
    start, lines = source_lines(obj)
    hot = _marked(lines, mark)
    where = inspect.getsourcefile(obj) or "?"
    head = f"# {getattr(obj, '__module__', None) or obj.__name__}.{getattr(obj, '__qualname__', '')}".rstrip(".")
    head += f"  ({where.rsplit('/ipclab/', 1)[-1] if '/ipclab/' in where else where.rsplit('/', 1)[-1]}, line {start})"
    body = [f"{'>>' if i in hot else '  '} {start + i:4d}  {line}" for i, line in enumerate(lines)]
    return "\n".join([head, *body])


class _Shown:
    """Plain text for nbval and terminals, highlighted HTML for JupyterLab."""

    def __init__(self, obj, mark):
        self.obj, self.mark = obj, mark
        self.text = as_text(obj, mark)

    def __repr__(self):
        return self.text

    def _repr_html_(self):
        from pygments import highlight
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import PythonLexer
        from pygments.styles import get_all_styles
        start, lines = source_lines(self.obj)
        hot = sorted(i + 1 for i in _marked(lines, self.mark))
        # colours that pass WCAG AA contrast (accessible-pygments, installed with the book's theme)
        style = "a11y-high-contrast-light" if "a11y-high-contrast-light" in get_all_styles() else "default"
        fmt = HtmlFormatter(linenos="inline", linenostart=start, hl_lines=hot, noclasses=True, style=style)
        return highlight("\n".join(lines), PythonLexer(), fmt)


def show(obj, mark=()):
    """Display the source of *obj* (function, class, method or module), *mark* lines highlighted.

    *mark*: strings (every line containing one is marked) or 1-based line offsets within
    the shown source. A string that is not in the source raises ValueError, so a stale mark
    fails the notebook's check instead of silently marking nothing.
    """
    return _Shown(obj, mark)
