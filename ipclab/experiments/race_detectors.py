"""Race detectors on the course's C race: Valgrind's Helgrind (or DRD) and ThreadSanitizer.

Why a module of its own: strace shows which system calls a line makes; a data race makes
none, so finding one takes another kind of tool, the one the chapter names for races in C.
This module compiles a small C program (``ipclab/c/race_helgrind.c``), runs it under
Helgrind (:func:`helgrind`) or built with ``-fsanitize=thread`` (:func:`tsan`), and parses
Helgrind's report (:func:`parse_helgrind`); :func:`recorded_helgrind` serves the report
recorded on the course's machine where valgrind is missing.

Defined in :mod:`ipclab.experiments.race_detectors`; taught in ``notebooks/06_debugging_ipc.ipynb``.
"""

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ipclab.core.errors import NotSupported
from ipclab.core.paths import C_DIR
from ipclab.experiments.tracing import RECORDED_DIR

__all__ = ["C_DIR", "HelgrindReport", "parse_helgrind", "compile_c", "helgrind", "recorded_helgrind", "tsan"]


@dataclass
class HelgrindReport:
    """What Helgrind said about one run: error count and the races (kind, size, source lines)."""
    errors: int
    races: list      # [{"access": "write", "size": 4, "where": ["race_helgrind.c:27", ...]}]
    exit_code: int
    text: str

    def race_lines(self, source):
        """Line numbers of *source* (a file name) that appear in a data race report."""
        out = set()
        for race in self.races:
            for w in race["where"]:
                f, _, line = w.partition(":")
                if f == source and line.isdigit():
                    out.add(int(line))
        return sorted(out)


_RACE = re.compile(r"Possible data race during (?P<access>read|write) of size (?P<size>\d+)")
_WHERE = re.compile(r"\((?P<file>[\w.+-]+):(?P<line>\d+)\)")
_SUMMARY = re.compile(r"ERROR SUMMARY: (?P<n>\d+) errors?")


def parse_helgrind(text, exit_code=0):
    """A :class:`HelgrindReport` from Valgrind's stderr (``==PID==`` prefixed lines)."""
    races, cur = [], None
    errors = 0
    for raw in text.splitlines():
        line = re.sub(r"^==\d+==\s?", "", raw)
        m = _RACE.search(line)
        if m:
            cur = {"access": m["access"], "size": int(m["size"]), "where": []}
            races.append(cur)
            continue
        if cur is not None:
            if not line.strip() or line.startswith("This conflicts"):
                cur = None if not line.strip() else cur
                continue
            w = _WHERE.search(line)
            if w and line.lstrip().startswith(("at ", "by ")):
                cur["where"].append(f"{w['file']}:{w['line']}")
        s = _SUMMARY.search(line)
        if s:
            errors = int(s["n"])
    return HelgrindReport(errors, races, exit_code, text)


def compile_c(source, output, extra=(), timeout=60):
    """SOURCE compiled by :mod:`ipclab.core.cbuild` with ``-g -O0`` (what Helgrind reports best on), copied to OUTPUT.

    No sanitizers: valgrind and AddressSanitizer cannot run together. Raises NotSupported
    without gcc, :class:`~ipclab.core.cbuild.CompileError` with gcc's diagnostics.
    """
    from ipclab.core import cbuild
    exe = cbuild.build([Path(source)], Path(output).name, opt="-O0", extra=("-g", *extra), timeout=timeout)
    shutil.copy2(exe, output)
    return output


def helgrind(args=(), source=C_DIR / "race_helgrind.c", tool="helgrind", timeout=120):
    """Compile *source* and run it under ``valgrind --tool=helgrind`` (or drd); the parsed report."""
    if not shutil.which("valgrind"):
        raise NotSupported("no valgrind: apt-get install valgrind")
    with tempfile.TemporaryDirectory(prefix="ipclab-hg-") as tmp:
        exe = compile_c(source, Path(tmp) / "race")
        p = subprocess.run(["valgrind", f"--tool={tool}", "--error-exitcode=3", str(exe), *map(str, args)],
                           capture_output=True, text=True, timeout=timeout)
    return parse_helgrind(p.stderr, p.returncode)


def recorded_helgrind(mode):
    """The Helgrind report recorded on the course's machine for ``race MODE``."""
    path = RECORDED_DIR / f"helgrind-{mode}.txt"
    return parse_helgrind(path.read_text())


def tsan(args=(), source=C_DIR / "race_helgrind.c", timeout=60):
    """Build *source* with ``-fsanitize=thread`` and run it: (exit code, report text)."""
    with tempfile.TemporaryDirectory(prefix="ipclab-tsan-") as tmp:
        exe = compile_c(source, Path(tmp) / "race_tsan", extra=("-fsanitize=thread",))
        p = subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True, timeout=timeout,
                           env=dict(os.environ, TSAN_OPTIONS="halt_on_error=0 exitcode=66"))
    return p.returncode, p.stderr
