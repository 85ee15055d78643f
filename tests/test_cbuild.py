"""cbuild: the one gcc runner (flags, cache, diagnostics, sanitizers, no gcc)."""

import os
import platform
import stat
import subprocess

import pytest

from ipclab.core import cbuild
from ipclab.core.errors import BadArgument, NotSupported

needs_gcc = pytest.mark.skipif(not cbuild.have_gcc(), reason="gcc is not installed")


@pytest.fixture
def no_gcc(monkeypatch, tmp_path):
    """A PATH with no gcc on it, as on most students' machines."""
    monkeypatch.setenv("PATH", str(tmp_path))
    return tmp_path


@needs_gcc
def test_build_runs_and_is_cached():
    exe = cbuild.build(['#include <stdio.h>\nint main(void) { puts("built"); return 0; }\n'], "hello_t")
    assert subprocess.run([exe], capture_output=True, text=True, timeout=30).stdout == "built\n"
    mtime = exe.stat().st_mtime_ns
    assert cbuild.build(['#include <stdio.h>\nint main(void) { puts("built"); return 0; }\n'], "hello_t") == exe
    assert exe.stat().st_mtime_ns == mtime  # not rebuilt
    other = cbuild.build(['#include <stdio.h>\nint main(void) { puts("other"); return 0; }\n'], "hello_t")
    assert other != exe


@needs_gcc
def test_warnings_are_errors_with_gccs_diagnostics():
    with pytest.raises(cbuild.CompileError) as info:
        cbuild.build(["int main(void)\n{\n    int unused;\n    return 0;\n}\n"], "warn_t", display_names=["mine.c"])
    assert "mine.c:3:" in info.value.diagnostics and "unused" in info.value.diagnostics
    assert "-Werror" in info.value.command and "-Wextra" in info.value.command
    assert "mine.c:3:" in str(info.value)


def test_no_gcc_is_not_supported_and_says_what_was_missed(no_gcc):
    assert not cbuild.have_gcc()
    with pytest.raises(NotSupported, match="would have shown the output.*install gcc"):
        cbuild.build(["int main(void) { return 0; }"], "x")


def test_bad_arguments():
    with pytest.raises(BadArgument, match="program name"):
        cbuild.build(["int main(void){return 0;}"], "no/slashes")
    with pytest.raises(BadArgument, match="known: "):
        cbuild.build_file("litmus/nope.c")


def test_cache_dir_is_private_and_not_in_the_registry_folder():
    d = cbuild.cache_dir()
    assert stat.S_IMODE(d.stat().st_mode) == 0o700 and d.stat().st_uid == os.getuid()
    assert d.name != "cbuild" or d.parent.name != "ipclab"


@needs_gcc
def test_sanitizers_report_a_use_after_free():
    if not cbuild.sanitizers_available():
        pytest.skip("this gcc cannot build and run ASan programs here")
    # free through a volatile pointer: gcc 12 would otherwise refuse the program at compile time
    src = ("#include <stdlib.h>\nint main(int argc, char **argv) {\n  void (*volatile release)(void *) = free;\n"
           "  int *p = malloc(8);\n  release(p);\n  return p[argc - 1] + (argv == 0);\n}\n")
    exe = cbuild.build([src], "uaf_t", sanitize=True, display_names=["uaf.c"])
    done = subprocess.run([exe], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "heap-use-after-free" in done.stderr and "uaf.c:6" in done.stderr


@needs_gcc
def test_flags_and_command_line():
    flags = cbuild.flags_for(sanitize=True, opt="-O0")
    assert "-O0" in flags and "-O2" not in flags and "-fsanitize=address,undefined" in flags
    assert cbuild.command_line(["a.c"], "a", flags)[-2:] == list(cbuild.LIBS)


@needs_gcc
@pytest.mark.skipif(platform.machine() != "x86_64", reason="x86-64 instructions")
def test_assembly_shows_the_full_barrier_of_seq_cst():
    sc = " ".join(cbuild.assembly(cbuild.C_DIR / "litmus/sb.c", "body", defines={"V_SEQCST": None}))
    rel = " ".join(cbuild.assembly(cbuild.C_DIR / "litmus/sb.c", "body", defines={"V_ACQREL": None}))
    assert any(i in sc for i in ("xchg", "mfence", "lock "))
    assert not any(i in rel for i in ("xchg", "mfence", "lock "))
