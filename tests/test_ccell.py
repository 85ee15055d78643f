"""The %%c and %%worker cell magics: compile errors, crashes, timeouts, sanitizers, no gcc, objects, workers."""

import io
import os
import re
import time
from pathlib import Path

import pytest

from ipclab import procs
import proctools
from ipclab.core import cbuild
from ipclab.core.errors import BadArgument
from ipclab.mechanisms import ccell

needs_gcc = pytest.mark.skipif(not cbuild.have_gcc(), reason="gcc is not installed")
NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "py" / "07_c_and_memory_ordering.py"


def run(cell, line=""):
    out, err = io.StringIO(), io.StringIO()
    result = ccell.run_c(cell, line, out=out, err=err)
    return result, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("line, message", [
    ("--copies 0", "--copies must be"), ("--timeout -1", "--timeout must be"),
    ("--expect maybe", "--expect 'maybe'"), ("--env 9X=1", "--env '9X=1'"), ("--bogus", "unknown option"),
])
def test_bad_lines_say_what_is_wrong(line, message):
    with pytest.raises(BadArgument, match=re.escape(message)):
        ccell.parse_c_line(line)


@needs_gcc
def test_compile_error_shows_the_cells_own_line_numbers():
    cell = "#include <stdio.h>\nint main(void)\n{\n    int x;\n    return 0;\n}\n"
    with pytest.raises(cbuild.CompileError) as info:
        run(cell)
    # the %%c line is line 1, so the body's 4th line is the cell's line 5
    assert "cell.c:5:" in info.value.diagnostics and "unused variable" in info.value.diagnostics
    result, out, _ = run(cell, "--expect compile-error")
    assert result.outcome == "compile-error" and "cell.c:5:" in out


@needs_gcc
def test_a_crash_shows_the_signal():
    result, out, _ = run("int main(void) { volatile int *p = 0; return *p; }", "--no-sanitize --expect signal=SIGSEGV")
    assert result.copies[0].signal == "SIGSEGV" and "killed by SIGSEGV" in out


@needs_gcc
def test_a_timeout_kills_the_whole_process_group():
    cell = ("#include <stdio.h>\n#include <unistd.h>\nint main(void) {\n  if (fork() == 0) for (;;) pause();\n"
            "  printf(\"child started\\n\"); fflush(stdout);\n  for (;;) pause();\n}\n")
    result, out, _ = run(cell, "--timeout 1 --expect timeout")
    assert result.outcome == "timeout" and "child started" in out
    pgid = result.copies[0].pid
    deadline = time.monotonic() + 10  # the orphaned grandchild is reaped by init: allow it that
    while _living_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _living_members(pgid) == []


_living_members = proctools.group_members


@needs_gcc
def test_a_sanitizer_report_is_summarised():
    if not cbuild.sanitizers_available():
        pytest.skip("no sanitizers with this gcc")
    cell = ("#include <stdlib.h>\nint main(int argc, char **argv) {\n  void (*volatile release)(void *) = free;\n"
            "  int *p = malloc(8);\n  release(p);\n  return p[argc - 1] + (argv == 0);\n}\n")
    result, out, err = run(cell, "--expect sanitizer")
    assert "AddressSanitizer: heap-use-after-free" in result.copies[0].sanitizer
    assert "sanitizer: AddressSanitizer" in out and "heap-use-after-free" in err


@needs_gcc
def test_an_unexpected_outcome_raises():
    with pytest.raises(ccell.UnexpectedOutcome, match="'ok' but ended with 'exit=3'"):
        run("int main(void) { return 3; }", "--expect ok")


def test_without_gcc_the_cell_explains_and_skips(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    result, out, err = run("this is not even C", "--copies 2 --expect ok")
    assert result.skipped and result.outcome == "skipped" and err == ""
    assert out.startswith("C cell not run: gcc is not installed") and "run 2 copies, expecting: ok" in out


@needs_gcc
def test_copies_and_course_objects_by_environment():
    cell = r'''#include <fcntl.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/sem.h>
#include <unistd.h>
int main(void)
{
    sem_t *s = sem_open(getenv("SEM"), 0);
    if (s == SEM_FAILED) { perror("sem_open"); return 1; }
    if (semget((key_t)strtol(getenv("SET"), NULL, 0), 1, 0) != atoi(getenv("SET_ID"))) { perror("semget"); return 1; }
    if (getenv("IPCLAB_COPY")[0] == '0') {   /* copy 0 creates the object it was given a fresh name for */
        int fd = shm_open(getenv("NEW"), O_CREAT | O_EXCL | O_RDWR, 0600);
        if (fd == -1) { perror("shm_open"); return 1; }
        close(fd);
    }
    printf("copy %s of %s ok\n", getenv("IPCLAB_COPY"), getenv("IPCLAB_COPIES"));
    return 0;
}
'''
    result, out, _ = run(cell, "--copies 3 --env SEM=posix_sem:1 --env SET=sysv_sem --env NEW=posix_shm:new "
                         "--env PLAIN=hello --expect ok")
    assert sorted(c.stdout for c in result.copies) == [f"copy {i} of 3 ok\n" for i in range(3)]
    assert result.env["PLAIN"] == "hello" and result.env["SEM"].startswith("/ipl")
    assert not os.path.exists("/dev/shm" + result.env["NEW"])  # removed after the run
    # the leak check around every test fails it if the semaphores were left behind


@needs_gcc
def test_the_magic_in_ipython():
    IPython = pytest.importorskip("IPython")
    ip = IPython.core.interactiveshell.InteractiveShell.instance()
    ccell.load(ip)
    out = io.StringIO()
    import contextlib
    with contextlib.redirect_stdout(out):
        ip.run_cell_magic("c", "--expect exit=4", "int main(void) { return 4; }")
    assert "outcome: exit=4, as expected" in out.getvalue()
    assert ccell.last_run().outcome == "exit=4"


WORKER_V1 = "import os\n\ndef tag(x):\n    return ('v1', x, os.getpid())\n"
WORKER_V2 = "import os\n\ndef tag(x):\n    return ('v2', x * 2, os.getpid())\n"


def test_worker_cells_run_under_every_start_method(start_method):
    mod = ccell.write_worker("ipl_cell_worker", WORKER_V1)
    assert Path(mod.__file__).parent == ccell.workers_dir()
    results = procs.run(mod.tag, [(1,), (2,)], start_method=start_method, timeout=60)
    assert [r[:2] for r in results] == [("v1", 1), ("v1", 2)] and all(r[2] != os.getpid() for r in results)
    mod = ccell.write_worker("ipl_cell_worker", WORKER_V2)  # the edited cell is what runs
    assert [r[:2] for r in procs.run(mod.tag, [(5,)], start_method=start_method, timeout=60)] == [("v2", 10)]


def test_worker_names_are_checked():
    with pytest.raises(BadArgument, match="identifier"):
        ccell.write_worker("not-a-name", "x = 1\n")
    with pytest.raises(BadArgument, match="already imported"):
        ccell.write_worker("os", "x = 1\n")


def test_worker_folder_is_private():
    d = ccell.workers_dir()
    assert oct(d.stat().st_mode & 0o777) == "0o700" and str(d) in __import__("sys").path


def _notebook_c_cells():
    if not NOTEBOOK.exists():
        return []
    import jupytext
    return [c.source for c in jupytext.read(NOTEBOOK).cells if c.cell_type == "code" and c.source.startswith("%%c")]


@needs_gcc
@pytest.mark.parametrize("cell", _notebook_c_cells(), ids=lambda c: c.splitlines()[0][:60])
def test_every_c_cell_of_notebook_07_meets_its_expectation(cell):
    line, _, body = cell.partition("\n")
    assert "--expect" in line, "every %%c cell of the notebook states its outcome"
    result, out, err = run(body, line[len("%%c"):])
    assert not result.skipped


@needs_gcc
def test_an_interrupt_kills_the_copies_and_propagates():
    """The notebook's stop button is a KeyboardInterrupt in the kernel: no copy may survive it."""
    import signal

    from ipclab.core import cprocs
    exe = cbuild.build(["#include <unistd.h>\nint main(void) { for (;;) pause(); }\n"], "forever_t")

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 0.5)
    started = []
    real_spawn = cprocs._spawn

    def spawn(*args):
        p = real_spawn(*args)
        started.append(p.pid)
        return p
    try:
        cprocs._spawn = spawn
        with pytest.raises(KeyboardInterrupt):
            cprocs.run_programs([[exe], [exe]], timeout=60, relay=False)
    finally:
        cprocs._spawn = real_spawn
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert len(started) == 2 and all(_living_members(pid) == [] for pid in started)


def test_the_folders_of_dead_kernels_are_swept_and_live_ones_kept():
    """A killed kernel runs no atexit: its %%worker folder goes at the next sweep (the suite
    sweeps at its end); a living kernel's folder stays."""
    import tempfile

    from ipclab.core import registry
    from ipclab.mechanisms import ccell
    me = f"{os.getpid()}-{registry.proc_start_time(os.getpid())}"
    alive = Path(tempfile.mkdtemp(prefix=f"ipclab-cells-{os.getuid()}-{me}-"))
    dead = Path(tempfile.mkdtemp(prefix=f"ipclab-cells-{os.getuid()}-{os.getpid()}-1-"))  # pid reused: other start
    try:
        ccell.sweep_dead_dirs()
        assert alive.is_dir() and not dead.exists()
    finally:
        for p in (alive, dead):
            if p.exists():
                p.rmdir()
