"""Make the lab stubs students edit from the reference solutions: one source of truth.

Each ``solutions/labN_name.py`` marks what the student must write with nbgrader's markers::

    def put(self, data, timeout=None):
        \"\"\"...the docstring stays: it is the specification...\"\"\"
        ### BEGIN SOLUTION
        ...reference code...
        ### END SOLUTION

``labs/labN_name.py`` is the same file with each region replaced by
``raise NotImplementedError(...)`` naming the function and the brief to read. Regions must
sit inside a function (a stub must still import), with one exception: a region at module
level holding the lab's ``PROTOCOL`` string (the student's written synchronisation
protocol, shown to the teacher in the grade report) becomes :data:`PROTOCOL_TEMPLATE`, the
questions to answer.

A "diagnose and fix" lab (lab 10) gives the student a program that runs and is wrong, not
one with holes. Its regions carry the broken version too, after a ``### BROKEN <defect>``
line, commented out (so the solution never runs it)::

        ### BEGIN SOLUTION
        self.sems.acquire(COUNT, timeout=timeout)
        done = w[DONE] + 1
        ### BROKEN race
        # done = w[DONE] + 1
        # self.sems.acquire(COUNT, timeout=timeout)
        ### END SOLUTION

The stub gets the broken lines, uncommented and unmarked (nothing says where a defect is);
:func:`broken_text` puts back the defects named (the mutants of tests/mutants/lab10.py are
the solution with one defect back). Commands::

    python -m ipclab.tooling.labgen            # (re)write labs/*.py from solutions/
    python -m ipclab.tooling.labgen --check    # fail if a stub is not what the generator makes
"""

import re
import sys
from pathlib import Path

from ipclab.core.paths import COURSE_ROOT as ROOT  # noqa: E402

__all__ = ["SOLUTIONS", "LABS", "HEADER", "BROKEN_HEADER", "PROTOCOL_TEMPLATE", "stub_text", "broken_regions",
           "broken_text", "pairs", "problems", "write", "main"]
SOLUTIONS = ROOT / "solutions"
LABS = ROOT / "labs"
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
BROKEN = "### BROKEN"
HEADER = ("# Your file for {lab}: replace each `raise NotImplementedError` with your code.\n"
          "# The brief is {brief}; check your work with ipclab.check(\"{lab}\").\n"
          "# (Course maintainers: this file is generated from solutions/{name} by\n"
          "#  `python -m ipclab.tooling.labgen`; edit the solution, not this file.)\n")
BROKEN_HEADER = ("# Your file for {lab}: a program that runs, and is wrong. Find its defects with the tools\n"
                 "# of notebook 06, then fix them; the brief is {brief}; check with ipclab.check(\"{lab}\").\n"
                 "# (Course maintainers: this file is generated from solutions/{name} by\n"
                 "#  `python -m ipclab.tooling.labgen`; edit the solution, not this file.)\n")
PROTOCOL_TEMPLATE = '''PROTOCOL = """
(Write your synchronisation protocol here, in your own words; your teacher reads it
with your grade. Replace every line in brackets.)
Shared state: [what lives in shared memory / the file / the queues, and its layout]
Locks: [each semaphore or lock, its initial value, and exactly what it guards]
Order: [if a process ever holds two locks, the order it takes them in, and why no deadlock]
Invariants: [what is true of the shared state whenever no process holds its lock]
Waiting: [every blocking call, and its timeout]
Death: [what happens when a process dies while holding a lock, and who cleans up]
"""
'''
_DEF = re.compile(r"^(\s*)(?:async\s+)?def\s+(\w+)|^(\s*)class\s+(\w+)")


def _owner(lines, i, indent):
    """'Class.method' or 'function' enclosing line *i* (the nearest def/class less indented)."""
    parts, limit = [], indent
    for line in reversed(lines[:i]):
        m = _DEF.match(line)
        if m:
            ind = len(m.group(1) if m.group(1) is not None else m.group(3))
            if ind < limit:
                parts.insert(0, m.group(2) or m.group(4))
                limit = ind
                if ind == 0:
                    break
    return ".".join(parts)


def stub_text(source, name):
    """The stub for solution file *name* whose text is *source*."""
    lab = name.split("_", 1)[0]
    brief = f"labs/{name[:-3]}.ipynb"
    lines = source.splitlines(keepends=True)
    out, i, broken = [], 0, False
    while i < len(lines):
        line = lines[i]
        if line.strip() == BEGIN:
            indent = line[: len(line) - len(line.lstrip())]
            if not indent and i + 1 < len(lines) and lines[i + 1].startswith("PROTOCOL"):
                j = i + 1
                while j < len(lines) and lines[j].strip() != END:
                    j += 1
                if j == len(lines):
                    raise ValueError(f"{name}:{i + 1}: {BEGIN} without {END}")
                out.append(PROTOCOL_TEMPLATE)
                i = j + 1
                continue
            if not indent:
                raise ValueError(f"{name}:{i + 1}: a solution region must be inside a function")
            owner = _owner(lines, i, len(indent))
            j = i + 1
            while j < len(lines) and lines[j].strip() != END:
                if lines[j].strip() == BEGIN:
                    raise ValueError(f"{name}:{j + 1}: nested {BEGIN}")
                j += 1
            if j == len(lines):
                raise ValueError(f"{name}:{i + 1}: {BEGIN} without {END}")
            region = _split_broken(lines[i + 1:j], indent, name, i + 2)
            if region is not None:
                broken = True
                out.extend(region[2])
            else:
                out.append(f"{indent}# YOUR CODE HERE\n")
                out.append(f'{indent}raise NotImplementedError("{lab}: write {owner}() (see {brief})")\n')
            i = j + 1
            continue
        if line.strip() == END:
            raise ValueError(f"{name}:{i + 1}: {END} without {BEGIN}")
        out.append(line)
        i += 1
    return (BROKEN_HEADER if broken else HEADER).format(lab=lab, brief=brief, name=name) + "".join(out)


def _split_broken(body, indent, name, lineno):
    """(tag, solution lines, broken lines uncommented) of a region's *body*, or None without ``### BROKEN``."""
    at = next((k for k, line in enumerate(body) if line.strip().startswith(BROKEN)), None)
    if at is None:
        return None
    tag = body[at].strip()[len(BROKEN):].strip()
    if not tag.isidentifier():
        raise ValueError(f"{name}:{lineno + at}: {BROKEN} needs a defect name, e.g. '{BROKEN} race'")
    code = []
    for k, line in enumerate(body[at + 1:]):
        if line.strip() == "#" and line.startswith(indent):
            code.append("\n")
        elif line.startswith(indent + "# "):
            code.append(indent + line[len(indent) + 2:])
        else:
            raise ValueError(f"{name}:{lineno + at + 1 + k}: the broken version is commented out, "
                             f"'{indent}# ' before each line")
    if not code:
        raise ValueError(f"{name}:{lineno + at}: {BROKEN} {tag} has no lines")
    return tag, body[:at], code


def broken_regions(source, name="solution"):
    """Every region with a broken version: dicts of ``tag``, ``text`` (the region, markers included)
    and ``broken`` (the lines that replace it in the stub)."""
    lines = source.splitlines(keepends=True)
    out, i = [], 0
    while i < len(lines):
        if lines[i].strip() == BEGIN:
            j = next((k for k in range(i + 1, len(lines)) if lines[k].strip() == END), None)
            if j is None:
                raise ValueError(f"{name}:{i + 1}: {BEGIN} without {END}")
            indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
            region = _split_broken(lines[i + 1:j], indent, name, i + 2)
            if region is not None:
                out.append({"tag": region[0], "text": "".join(lines[i:j + 1]), "broken": "".join(region[2])})
            i = j
        i += 1
    return out


def broken_text(source, tags=None, name="solution"):
    """*source* with the broken version of each region whose tag is in *tags* (all when None) put back."""
    for r in broken_regions(source, name):
        if tags is None or r["tag"] in tags:
            source = source.replace(r["text"], r["broken"], 1)
    return source


def pairs():
    """(solution, stub) paths for every lab solution."""
    return [(s, LABS / s.name) for s in sorted(SOLUTIONS.glob("lab*_*.py"))]


def problems():
    """Why labs/ is not what the generator makes (empty list if in step)."""
    out = []
    for sol, stub in pairs():
        want = stub_text(sol.read_text(), sol.name)
        if not stub.exists():
            out.append(f"{stub.relative_to(ROOT)} is missing")
        elif stub.read_text() != want:
            out.append(f"{stub.relative_to(ROOT)} differs from what {sol.relative_to(ROOT)} generates")
    return out


def write():
    LABS.mkdir(exist_ok=True)
    for sol, stub in pairs():
        stub.write_text(stub_text(sol.read_text(), sol.name))
        print(f"wrote {stub.relative_to(ROOT)}")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if "--check" in argv:
        bad = problems()
        print("\n".join(bad) or f"{len(pairs())} lab stubs match their solutions")
        return 1 if bad else 0
    write()
    return 0


if __name__ == "__main__":
    sys.exit(main())
