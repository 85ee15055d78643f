"""Collect one lab from every student's home and grade the whole class in one command.

    sudo python deploy/collect_and_grade.py lab1                      # members of group 'students'
    sudo python deploy/collect_and_grade.py lab1 --group ipclabclass --out /srv/grading/lab1
    python deploy/collect_and_grade.py lab1 --homes /srv/exchange     # one folder per student already

Collect: for each student, ``~/ipclab/labs/<lab module>.py`` (where the hub's course copy puts
it) is copied into ``OUT/<student>/``. Run as root, so it trusts nothing in a home: it opens
the file with O_NOFOLLOW (a symlink to /etc/shadow is refused, not followed), takes only a
regular file, and at most 1 MiB. Grade: ``ipclab grade LAB --batch OUT --csv CSV`` (the
trusted grader's own command; it runs student code in its sandbox), one row per student.
"""

import argparse
import grp
import os
import pwd
import stat
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_BYTES = 1 << 20

__all__ = ["lab_module", "students", "collect", "grade", "main"]


def lab_module(lab):
    """The file a student hands in for *lab*: ``labs/<lab>_<name>.py`` in the course."""
    found = sorted(p.name for p in (ROOT / "labs").glob(f"{lab}_*.py"))
    if len(found) != 1:
        raise SystemExit(f"no single labs/{lab}_*.py in {ROOT}: name a lab such as lab1 (found {found})")
    return found[0]


def students(group=None, homes=None):
    """(name, home) of each student: members of *group* (primary or listed), or sub-folders of *homes*."""
    if homes:
        return sorted((p.name, p) for p in Path(homes).iterdir() if p.is_dir() and not p.name.startswith("."))
    try:
        g = grp.getgrnam(group)
    except KeyError:
        raise SystemExit(f"no group {group!r}: pass --group (the hub's IPCLAB_STUDENTS_GROUP) or --homes") from None
    names = set(g.gr_mem) | {p.pw_name for p in pwd.getpwall() if p.pw_gid == g.gr_gid}
    return sorted((n, Path(pwd.getpwnam(n).pw_dir)) for n in names)


def _read_safely(path):
    """The bytes of *path* if it is a regular file of at most MAX_BYTES, never through a symlink."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(f"{path} is not a regular file")
        if st.st_size > MAX_BYTES:
            raise OSError(f"{path} is {st.st_size} bytes (more than {MAX_BYTES})")
        return os.read(fd, MAX_BYTES + 1)
    finally:
        os.close(fd)


def collect(lab, out, group=None, homes=None, relpath="ipclab/labs"):
    """Copy each student's lab module into ``out/<student>/``; returns {student: note}."""
    module = lab_module(lab)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    notes = {}
    for name, home in students(group, homes):
        src = home / module if homes else home / relpath / module
        dest = out / name
        dest.mkdir(exist_ok=True)
        try:
            data = _read_safely(src)
        except OSError as e:
            notes[name] = f"not collected: {e.strerror or e}"
            continue
        (dest / module).write_bytes(data)
        notes[name] = "collected"
    return notes


def grade(lab, out, csv_path, jobs=1, python=sys.executable):
    """``ipclab grade LAB --batch OUT --csv CSV``: the grader's own command, its exit code."""
    cmd = [python, "-m", "ipclab", "grade", lab, "--batch", str(out), "--csv", str(csv_path), "--jobs", str(jobs)]
    return subprocess.run(cmd, cwd=ROOT).returncode


def main(argv=None):
    ap = argparse.ArgumentParser(description="collect a lab from the students' homes and grade the class")
    ap.add_argument("lab", help="the lab to collect and grade: lab1, lab2, ... (labs/*.ipynb)")
    ap.add_argument("--group", default=os.environ.get("IPCLAB_STUDENTS_GROUP", "students"))
    ap.add_argument("--homes", help="a folder with one sub-folder per student holding the module (an exchange)")
    ap.add_argument("--out", help="where submissions are gathered (default ./submissions-LAB-DATE)")
    ap.add_argument("--csv", help="grades file (default OUT/grades.csv)")
    ap.add_argument("--jobs", "-j", type=int, default=1)
    args = ap.parse_args(argv)
    out = Path(args.out or f"submissions-{args.lab}-{time.strftime('%Y%m%d-%H%M')}")
    if out.exists() and any(out.iterdir()):
        raise SystemExit(f"{out} is not empty: choose a new --out (old submissions are never overwritten)")
    t0 = time.monotonic()
    notes = collect(args.lab, out, args.group, args.homes)
    t1 = time.monotonic()
    missing = {k: v for k, v in notes.items() if v != "collected"}
    print(f"collected {len(notes) - len(missing)} of {len(notes)} submissions into {out} in {t1 - t0:.1f}s")
    for name, note in missing.items():
        print(f"  {name}: {note}")
    csv_path = Path(args.csv or out / "grades.csv")
    rc = grade(args.lab, out, csv_path, args.jobs)
    print(f"graded in {time.monotonic() - t1:.1f}s -> {csv_path} (exit {rc})")
    return rc


if __name__ == "__main__":
    sys.exit(main())
