"""Mutants: broken versions of the lab solutions, each with the bug a lab test is named for.

Each ``labN.py`` holds ``MUTANTS = {name: (edits, tests)}``: *edits* are (old text, new
text) pairs applied to ``solutions/<SOLUTION>`` (an edit that no longer applies fails
loudly, so the mutants follow the solution as it evolves), *tests* the visible tests named
for the bug: graded with the real grader, the mutant must lose every point of each.
tests/test_mutants.py checks it once per mutant; bench/mutants.py measures the catch rate
over many runs and the three start methods.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def make(mutants, name, solution_text):
    """The text of mutant *name*: the solution with its edits applied."""
    text = solution_text
    for old, new in mutants[name][0]:
        assert old in text, f"mutant {name!r}: {old!r} no longer occurs in the solution"
        text = text.replace(old, new)
    return text


def corpus():
    """Every mutant: (lab, name, solution file name, text, tests named for its bug)."""
    from . import lab1, lab2, lab3, lab9, lab10
    out = []
    for mod in (lab1, lab2, lab3, lab9, lab10):
        sol = (ROOT / "solutions" / mod.SOLUTION).read_text()
        for name, (_, tests) in mod.MUTANTS.items():
            out.append((mod.LAB, name, mod.SOLUTION, make(mod.MUTANTS, name, sol), tests))
    return out


def write(dest, name):
    """Write mutant *name* (e.g. 'lab1_no_mutex') as a submission folder under *dest*; its path."""
    for lab, mname, sol, text, _ in corpus():
        if f"{lab}_{mname}" == name:
            folder = Path(dest) / name
            folder.mkdir(parents=True, exist_ok=True)
            (folder / sol).write_text(text)
            return folder
    raise KeyError(name)
