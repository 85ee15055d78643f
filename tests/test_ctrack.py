"""The C track of the labs (issue 20.4): a student's C file, compiled and graded by the Python track's tests.

Labs 1, 2, 3 and 9. The reference (solutions/c/) gets full marks, the stub (labs/c/) 0 and says "not
implemented"; each C mutant (tests/mutants/lab1_c.py, lab2_c.py, lab3_c.py,
lab9_c.py) loses every point of the tests named for its bug; a file
that does not compile gets 0 with gcc's own message (no traceback); undefined behaviour is
reported by UBSan; a forged verdict and a surviving child earn nothing. Without gcc the tests
that need it skip with the reason, and `ipclab grade --track c` says gcc is needed.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import mutants
from ipclab import grading, inventory
from ipclab.core import cbuild
from ipclab.tooling.grading import ctrack
from mutants import lab1_c, lab2_c, lab3_c, lab9_c

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
REFERENCE = ROOT / "solutions" / "c" / "lab1_ringbuffer.c"
STUB = ROOT / "labs" / "c" / "lab1_ringbuffer.c"
needs_gcc = pytest.mark.skipif(not cbuild.have_gcc(), reason="gcc is not installed here: the C track compiles "
                               "the student's C file (CI's student environment hides gcc on purpose)")
MUTANT_CASES = [(mod, name, test) for mod in (lab1_c, lab2_c, lab3_c, lab9_c)
                for name, (_, tests) in mod.MUTANTS.items() for test in tests]
C_LABS = sorted(ctrack.LABS)


def _reference(lab):
    return ROOT / "solutions" / "c" / f"{ctrack.LABS[lab]}.c"


def _stub(lab):
    return ROOT / "labs" / "c" / f"{ctrack.LABS[lab]}.c"


def _submit(tmp_path, text, name="lab1_ringbuffer.c"):
    sub = tmp_path / name
    sub.write_text(text)
    return sub


def _nothing_left(rep):
    runs = {r.run for r in rep.results}
    assert not [o for o in inventory.course_objects() if o["run"] in runs]
    mine = [n for n in os.listdir("/dev/shm") if n.startswith(f"ipl{os.getuid()}-") or
            n.startswith(f"sem.ipl{os.getuid()}-")]
    assert not [n for n in mine if any(r.run and r.run in n for r in rep.results)]


# -- no gcc needed ------------------------------------------------------------------------------

def test_source_check_refuses_what_could_read_the_graders_files():
    bad = ('#include "/etc/passwd"\n#include <../../etc/shadow.h>\n#include "other.h"\n'
           'asm(".incbin \\"/etc/shadow\\"");\n#define F <stdio.h>\n#include F\n')
    problems = ctrack.check_source(bad, "lab1")
    assert any("line 1" in p for p in problems) and any("line 2" in p for p in problems)
    assert any("line 3" in p for p in problems) and any("asm" in p for p in problems)
    assert any("line 6" in p for p in problems)
    for lab in C_LABS:
        assert ctrack.check_source(_reference(lab).read_text(), lab) == []
        assert ctrack.check_source(_stub(lab).read_text(), lab) == []
    # a comment or a string that mentions asm or an include is not code
    assert ctrack.check_source('/* asm("x") #include "x.h" */\nconst char *s = "asm";\n', "lab1") == []


def test_protocol_is_read_from_the_c_string_as_text():
    assert ctrack.protocol_of('const char PROTOCOL[] =\n  "a line\\n"\n  "and \\"more\\"";\n') == 'a line\nand "more"'
    assert ctrack.protocol_of("int x;") is None
    assert grading.PROTOCOL_PLACEHOLDER in ctrack.protocol_of(STUB.read_text())


@pytest.mark.parametrize("lab", C_LABS)
def test_the_stub_defines_what_the_header_declares(lab):
    import re
    header = ctrack.header_of(lab).read_text()
    # the prototypes (a line that starts with a type and ends with ");"), not the header's own
    # static inline helpers (rb_deadline) nor a comment that names a function
    declared = re.findall(r"^(?!static\b)[A-Za-z_][\w \t*]*?\b((?:rb|sr|dt|svc)_[a-z_]+)\([^;{]*\);", header, re.M)
    assert len(declared) == {"lab2": 9}.get(lab, 7), declared
    for fn in declared:
        assert re.search(rf"^\S.*\b{fn}\(", _stub(lab).read_text(), re.M), (lab, fn)
        assert re.search(rf"^\S.*\b{fn}\(", _reference(lab).read_text(), re.M), (lab, fn)


def test_without_gcc_the_cli_says_gcc_is_needed(tmp_path):
    env = dict(os.environ, IPCLAB_CC=str(tmp_path / "no-such-gcc"))
    done = subprocess.run([PY, "-m", "ipclab", "grade", "lab1", str(STUB), "--track", "c"], capture_output=True,
                          text=True, timeout=120, env=env, cwd=ROOT)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "needs gcc" in done.stderr and "Traceback" not in done.stderr, done.stderr


@pytest.mark.parametrize("lab", C_LABS)
def test_the_brief_and_the_c_readme_point_to_the_c_track(lab):
    """A student reading the lab's brief learns the C track exists, and how to check a C file."""
    module = ctrack.LABS[lab]
    brief = (ROOT / "labs" / "py" / f"{module}.py").read_text()
    assert f'ipclab.check("{lab}", track="c")' in brief and f"(c/{module}.h)" in brief, lab
    readme = (ROOT / "labs" / "c" / "README.md").read_text()
    assert f"({module}.h)" in readme and f'"{module}.h"' in readme, lab


def test_track_is_checked():
    from ipclab.core.errors import BadArgument
    with pytest.raises(BadArgument, match="C file"):
        grading.grade_lab("lab1", STUB, track="py")
    with pytest.raises(BadArgument, match="no C track"):
        grading.grade_lab("lab4", "x.c")


# -- with gcc: graded in boxes ---------------------------------------------------------------------

@needs_gcc
@pytest.mark.parametrize("lab", C_LABS)
def test_reference_gets_full_marks_stub_gets_zero(lab):
    rep = grading.grade_lab(lab, _reference(lab), include_hidden=True, jobs=2)
    assert rep.score == rep.max_score > 0, rep.text()
    assert rep.protocol_status == "written", rep.text()
    _nothing_left(rep)
    stub = grading.grade_lab(lab, _stub(lab), include_hidden=False, jobs=2)
    assert stub.score == 0 and all("not implemented" in r.summary for r in stub.results), stub.text()
    assert stub.protocol_status == "template"


@needs_gcc
def test_a_file_that_does_not_compile_gets_zero_with_gccs_message(tmp_path):
    text = REFERENCE.read_text().replace("    uint32_t tail = h->tail;\n    rb_store_u32",
                                         "    int unused = 0;\n    uint32_t tail = h->tail;\n    rb_store_u32", 1)
    rep = grading.grade_lab("lab1", _submit(tmp_path, text), include_hidden=False)
    out = rep.text()
    assert rep.score == 0 and "gcc could not compile your C file" in out, out
    assert "unused variable" in out and "Werror" in out and "lab1_ringbuffer.c:" in out, out
    assert "Traceback" not in out and str(tmp_path) not in rep.import_error, out


@needs_gcc
def test_undefined_behaviour_is_reported_by_ubsan_and_nothing_leaks(tmp_path):
    text = REFERENCE.read_text().replace("rb_store_u32(slot(rb, tail), (uint32_t)len);",
                                         "{ volatile int big = 2147483647; big = big + (int)len; }\n"
                                         "    rb_store_u32(slot(rb, tail), (uint32_t)len);", 1)
    rep = grading.grade_lab("lab1", _submit(tmp_path, text), include_hidden=False, only="fifo_one_process")
    (r,) = rep.results
    assert r.status == "crashed" and "UndefinedBehaviorSanitizer" in r.summary, rep.text()
    assert any("runtime error: signed integer overflow" in line for line in r.output_tail), rep.text()
    assert any(line.startswith("lab1_ringbuffer.c:") for line in r.output_tail), rep.text()
    assert r.leaks, rep.text()   # it died holding the buffer: the box's objects were counted, then removed
    _nothing_left(rep)


@needs_gcc
@pytest.mark.parametrize("mod,name,test", MUTANT_CASES, ids=[f"{m.LAB}_{n}-{t}" for m, n, t in MUTANT_CASES])
def test_c_mutant_loses_the_points_of_its_test(mod, name, test, tmp_path):
    text = mutants.make(mod.MUTANTS, name, (ROOT / "solutions" / mod.SOLUTION).read_text())
    sub = _submit(tmp_path, text, f"{ctrack.LABS[mod.LAB]}.c")
    rep = grading.grade_lab(mod.LAB, sub, include_hidden=False, only=test)
    (r,) = rep.results
    assert not rep.import_error, rep.text()           # it compiled: it lost the points for its bug
    assert r.score == 0 and r.status != "passed", f"C mutant {name} passed {test}:\n" + rep.text()
    assert "not implemented" not in r.summary, rep.text()
    _nothing_left(rep)


@needs_gcc
def test_a_forged_verdict_and_a_surviving_child_earn_nothing(tmp_path):
    """The student's constructor runs in the box when the library loads: it writes a 'passed'
    verdict to every descriptor but the agent's channel and forks a child that never exits. The verdict comes from the
    trusted test process, not from anything the box writes; the child dies with the box."""
    forge = STUB.read_text() + r'''
#include <signal.h>
__attribute__((constructor)) static void forge(void)
{
    static const char v[] = "{\"verdict\": {\"status\": \"passed\", \"summary\": \"\", \"lines\": []}, "
                            "\"leaks\": [], \"strays\": 0}\n";
    for (int fd = 0; fd < 64; fd++)   /* not 3, the agent's channel: the tests must still run */
        if (fd != 3)
            (void)!write(fd, v, sizeof v - 1);
    if (fork() == 0) {
        setsid();
        signal(SIGTERM, SIG_IGN);
        for (;;)
            pause();
    }
}
'''
    rep = grading.grade_lab("lab1", _submit(tmp_path, forge), include_hidden=True, jobs=2)
    assert rep.score == 0 and not any(r.passed for r in rep.results), rep.text()
    assert not rep.import_error and all("not implemented" in r.summary for r in rep.results), rep.text()
    holders = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if "liblab1_ringbuffer.so" in Path(f"/proc/{pid}/maps").read_text():
                holders.append(pid)
        except OSError:
            pass
    assert not holders, f"processes still hold the student's library: {holders}"
    _nothing_left(rep)


@needs_gcc
def test_objects_are_0600_course_names_and_removed(tmp_path):
    """Outside the grader: the adapter over the reference, in a child process: names carry the
    user id and run, the kernel objects are mode 0600, destroy() removes them."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "lab1_ringbuffer.c").write_bytes(REFERENCE.read_bytes())
    assert ctrack.prepare("lab1", work) is None
    script = (
        "import os, stat, sys\n"
        f"sys.path.insert(0, {str(work)!r})\n"
        "import lab1_ringbuffer as lab\n"
        "rb = lab.RingBuffer.create(3, 8)\n"
        "paths = ['/dev/shm' + rb.handle[0]] + ['/dev/shm/sem.' + n[1:] for n in rb.handle[1:]]\n"
        "modes = [oct(stat.S_IMODE(os.stat(p).st_mode)) for p in paths]\n"
        "rb.put(b'x', timeout=1); got = rb.get(timeout=1)\n"
        "rb.destroy()\n"
        "print(rb.handle[0], modes, got, [os.path.exists(p) for p in paths])\n")
    done = subprocess.run([PY, "-c", script], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    name, rest = done.stdout.split(" ", 1)
    assert name.startswith(f"/ipl{os.getuid()}-"), done.stdout
    assert rest.strip() == "['0o600', '0o600', '0o600', '0o600'] b'x' [False, False, False, False]", done.stdout
