"""Code highlighting for the course book: Python cells as IPython, ``%%c`` cells as C.

Why: the course's cells are IPython (``%timeit``, ``!ipcs``) and its C cells start with the
``%%c`` magic (:mod:`ipclab.mechanisms.ccell`). Highlighted as plain Python, a C cell fails to
lex (Sphinx warns and shows it unhighlighted); IPython's own lexer shows an unknown cell
magic's body as plain text. This lexer is IPython's, plus one rule: after a ``%%c`` line,
the body is C. :mod:`ipclab.tooling.book_sources` names it as the notebooks' lexer
(``language_info.pygments_lexer = "ipclab"``) in the book's copy of each notebook.
"""

from IPython.lib.lexers import IPython3Lexer
from pygments.lexer import bygroups, using
from pygments.lexers.c_cpp import CLexer
from pygments.token import Keyword, Operator, Text

__all__ = ["NAME", "CourseLexer", "setup"]

NAME = "ipclab"


class CourseLexer(IPython3Lexer):
    """IPython 3 cells; the body of a ``%%c`` cell is C."""

    name = "ipclab course cell"
    aliases = [NAME]
    tokens = {**IPython3Lexer.tokens, "root": [
        (r"(?s)(\s*)(%%)(c)(\b[^\n]*\n)(.*)", bygroups(Text, Operator, Keyword, Text, using(CLexer))),
        *IPython3Lexer.tokens["root"],
    ]}


def setup(app):
    app.add_lexer(NAME, CourseLexer)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
