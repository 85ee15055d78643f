"""Deliberately broken lab submissions, kept as edits of the reference solution.

Each ``labN.py`` holds ``BROKEN = {kind: ([(old, new), ...], test, expected_status)}``; the
edits are applied to the solution's text so the broken copies follow the solution as it
evolves (an edit that no longer applies fails loudly).
"""


def apply(broken, kind, solution_text):
    """The text of broken submission *kind*: the solution with its edits applied."""
    text = solution_text
    for old, new in broken[kind][0]:
        assert old in text, f"broken submission {kind!r}: {old!r} no longer occurs in the solution"
        text = text.replace(old, new)
    return text
