"""THE one gcc runner of the course: compile C once, with the same flags and failure everywhere.

Why one runner: the course compiles C in many places (C cells, the litmus tests, the C side
of interop demos, the benchmark's twin). Each used to call gcc its own way, with its own
flags and its own error. Here every build

* uses ``-std=gnu11 -Wall -Wextra -Werror -O2`` (warnings are errors: a student's C that
  compiles here is C without the warnings that usually hide bugs), ``-pthread -lrt``;
* adds AddressSanitizer and UndefinedBehaviorSanitizer (``-fsanitize=address,undefined``)
  when asked and when this toolchain can build *and run* a sanitized program (probed once,
  cached per gcc version);
* is cached by content hash (sources, flags, gcc version) in a per-user cache directory,
  so a notebook re-run does not recompile;
* fails one way: :class:`CompileError` carrying gcc's diagnostics, or :class:`NotSupported`
  when gcc is absent, whose message says what the cell would have shown.

Defined in :mod:`ipclab.core.cbuild`; used by :mod:`ipclab.mechanisms.ccell` (``%%c``) and
:mod:`ipclab.experiments.litmus`; taught in notebook 07.
"""

import functools
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from ipclab.core.errors import BadArgument, IpclabError, NotSupported
from ipclab.core.paths import C_DIR

__all__ = ["BASE_FLAGS", "SANITIZE_FLAGS", "LIBS", "C_DIR", "CompileError", "gcc_path", "have_gcc",
           "require_gcc", "gcc_version", "sanitizers_available", "cache_dir", "build", "build_file",
           "flags_for", "command_line", "assembly"]

GUARD = C_DIR / "ipclab_guard.c"
BASE_FLAGS = ("-std=gnu11", "-Wall", "-Wextra", "-Werror", "-O2")
#: -fno-sanitize-recover: an undefined-behaviour report ends the program with a non-zero exit,
#: so it cannot scroll by unnoticed; -fno-omit-frame-pointer gives readable stack traces.
SANITIZE_FLAGS = ("-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer", "-g")
LIBS = ("-pthread", "-lrt")
ENV_CACHE = "IPCLAB_CBUILD_CACHE"
COMPILE_TIMEOUT = 120
NO_GCC_ADVICE = ("install gcc (Debian/Ubuntu: apt-get install gcc; conda: conda install -c conda-forge "
                 "c-compiler), then restart the kernel; `ipclab doctor` checks it")


class CompileError(IpclabError):
    """gcc rejected the source; ``diagnostics`` is gcc's own text, ``command`` the command line."""

    def __init__(self, message, *, diagnostics="", command=()):
        super().__init__(message)
        self.diagnostics = diagnostics
        self.command = list(command)


def gcc_path():
    """The gcc this process would run (``$CC`` if it names a gcc-compatible compiler), or None."""
    return shutil.which(os.environ.get("IPCLAB_CC", "gcc"))


def have_gcc():
    return gcc_path() is not None


def require_gcc(would_show=""):
    """The gcc path, or :class:`NotSupported` saying what the cell would have shown without it."""
    gcc = gcc_path()
    if gcc is None:
        what = f" This cell would have shown {would_show}." if would_show else ""
        raise NotSupported(f"gcc is not installed on this machine, so this C code was not compiled.{what} "
                           f"To run it: {NO_GCC_ADVICE}.")
    return gcc


@functools.lru_cache(maxsize=None)
def _version_of(gcc):
    done = subprocess.run([gcc, "--version"], capture_output=True, text=True, timeout=30)
    return (done.stdout.splitlines() or ["unknown"])[0].strip()


def gcc_version():
    """gcc's first ``--version`` line (part of every cache key: a new gcc rebuilds everything)."""
    return _version_of(require_gcc())


def cache_dir():
    """Per-user build cache: $IPCLAB_CBUILD_CACHE, else $XDG_CACHE_HOME/ipclab-cbuild (~/.cache/ipclab-cbuild).

    Not inside ``~/.cache/ipclab``: the registry treats every folder there as a run record
    and sweeps the dead ones.

    Falls back to a per-user folder in the temporary directory when the home is read-only
    (some JupyterHub and CI setups). Created 0700 and checked to be ours.
    """
    candidates = []
    if os.environ.get(ENV_CACHE):
        candidates.append(Path(os.environ[ENV_CACHE]))
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    candidates += [Path(xdg) / "ipclab-cbuild", Path(tempfile.gettempdir()) / f"ipclab-{os.getuid()}-cbuild"]
    for base in candidates:
        try:
            base.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError:
            continue
        if base.stat().st_uid == os.getuid() and os.access(base, os.W_OK):
            return base
    raise IpclabError(f"no writable build cache among {[str(c) for c in candidates]}; "
                      f"set {ENV_CACHE} to a directory of your own")


_PROBE = r"""
#include <stdlib.h>
#include <string.h>
int main(void) { char *p = malloc(8); strcpy(p, "ok"); int r = p[0] != 'o'; free(p); return r; }
"""


def sanitizers_available():
    """True if gcc can build *and run* an ASan+UBSan program here (probed once per gcc, cached).

    Building is not enough: the sanitizer runtime may be missing (no libasan), or refuse to
    run (a kernel or container that forbids its memory layout). The answer is cached on disk
    next to the builds, keyed by gcc's version.
    """
    gcc = gcc_path()
    if gcc is None:
        return False
    return _probe_sanitizers(gcc, _version_of(gcc))


@functools.lru_cache(maxsize=None)
def _probe_sanitizers(gcc, version):
    key = hashlib.sha256(f"{gcc}\0{version}\0{SANITIZE_FLAGS}".encode()).hexdigest()[:16]
    record = cache_dir() / f"sanitizers-{key}.json"
    try:
        return json.loads(record.read_text())["ok"]
    except (OSError, ValueError, KeyError):
        pass
    with tempfile.TemporaryDirectory(prefix="ipclab-probe-") as tmp:
        src, exe = Path(tmp) / "probe.c", Path(tmp) / "probe"
        src.write_text(_PROBE)
        try:
            built = subprocess.run([gcc, *SANITIZE_FLAGS, str(src), "-o", str(exe)], capture_output=True,
                                   timeout=COMPILE_TIMEOUT).returncode == 0
            ok = built and subprocess.run([str(exe)], capture_output=True, timeout=60).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            ok = False
    _write_atomically(record, json.dumps({"ok": ok, "gcc": version}).encode())
    return ok


def flags_for(sanitize=False, opt=None, extra=()):
    """The flag list of one build: base flags (with *opt* replacing -O2), sanitizers if asked, *extra*."""
    flags = [f for f in BASE_FLAGS if not (opt and f.startswith("-O"))]
    if opt:
        flags.append(opt)
    if sanitize:
        flags += SANITIZE_FLAGS
    return flags + list(extra)


def command_line(sources, output, flags, libs=()):
    """The gcc argv (for display: every cell shows the exact command it ran); libraries go last."""
    return [gcc_path() or "gcc", *flags, *map(str, sources), "-o", str(output), *LIBS, *libs]


def _write_atomically(path, data):
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def build(sources, name="prog", *, sanitize=False, opt=None, defines=None, extra=(),
          display_names=None, guard=True, libs=(), timeout=COMPILE_TIMEOUT):
    """Compile C *sources* into one program; return the executable's :class:`~pathlib.Path`.

    *sources*: a list of ``str`` (C text) or :class:`~pathlib.Path` (a file).
    *sanitize*: add ASan+UBSan (only if :func:`sanitizers_available`; else built without).
    *defines*: ``{"VARIANT": "SEQCST"}`` becomes ``-DVARIANT=SEQCST``.
    *libs*: extra libraries (``["-lz"]``), placed after the sources as the linker needs.
    *display_names*: file name gcc shows for each text source in its diagnostics.
    *guard*: link ``ipclab/c/ipclab_guard.c``: the program dies with the process that started
    it when that process sets ``IPCLAB_PARENT_PID`` (as :mod:`ipclab.core.cprocs` does).
    Raises :class:`CompileError` (gcc's diagnostics in the message) or :class:`NotSupported`.
    """
    if not sources:  # bad arguments first: the mistake is the caller's, gcc or not
        raise BadArgument("build() needs at least one C source (text or path)")
    if not isinstance(name, str) or not name.replace("_", "").replace("-", "").isalnum():
        raise BadArgument(f"program name {name!r} must be letters, digits, '_' or '-'")
    gcc = require_gcc("the output of the compiled C program")
    sources = [*sources, GUARD] if guard else list(sources)
    sanitize = bool(sanitize) and sanitizers_available()
    flags = flags_for(sanitize, opt, [*(f"-D{k}={v}" if v is not None else f"-D{k}"
                                        for k, v in (defines or {}).items()), *extra])
    texts = [s.read_bytes() if isinstance(s, Path) else s.encode() for s in sources]
    headers = sorted({h for s in sources if isinstance(s, Path) for h in s.parent.glob("*.h")})
    digest = hashlib.sha256(b"\0".join([_version_of(gcc).encode(), " ".join([*flags, *libs]).encode(), *texts,
                                        *(h.read_bytes() for h in headers),  # quoted #includes
                                        " ".join(map(str, display_names or ())).encode()])).hexdigest()[:20]
    exe = cache_dir() / f"{name}-{digest}"
    if exe.exists():
        return exe
    with tempfile.TemporaryDirectory(prefix="ipclab-cc-", dir=cache_dir()) as tmp:
        paths = []
        for i, (src, text) in enumerate(zip(sources, texts)):
            if isinstance(src, Path):
                paths.append(src)
                continue
            shown = (display_names or [])[i] if display_names and i < len(display_names) else f"{name}_{i}.c"
            p = Path(tmp) / shown
            p.write_bytes(text)
            paths.append(p)
        out = Path(tmp) / name
        cmd = command_line(paths, out, flags, libs)
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=tmp)
        except subprocess.TimeoutExpired:
            raise CompileError(f"gcc took more than {timeout} s on {name}; the machine is overloaded "
                               "or the source is huge", command=cmd) from None
        if done.returncode != 0:
            diag = done.stderr.replace(tmp + "/", "")
            raise CompileError(f"gcc could not compile {name} (warnings are errors here: -Werror):\n{diag}",
                               diagnostics=diag, command=cmd)
        os.replace(out, exe)
    return exe


def build_file(relpath, *, name=None, **options):
    """Compile one of the course's C files, ``ipclab/c/RELPATH`` (e.g. ``"litmus/sb.c"``)."""
    src = C_DIR / relpath
    if not src.is_file():
        known = sorted(str(p.relative_to(C_DIR)) for p in C_DIR.rglob("*.c"))
        raise BadArgument(f"no course C source {relpath!r}; known: {', '.join(known)}")
    return build([src], name or src.stem, **options)


def assembly(source, function, *, defines=None, opt=None, timeout=COMPILE_TIMEOUT):
    """The instructions gcc emits for *function* in *source* (a Path), without directives or labels.

    For teaching which instruction a C11 ordering becomes (``xchg``, ``mfence``, ``ldar``...).
    """
    gcc = require_gcc(f"the instructions gcc emits for {function}()")
    flags = flags_for(False, opt, [f"-D{k}={v}" if v is not None else f"-D{k}" for k, v in (defines or {}).items()])
    cmd = [gcc, *flags, "-fno-asynchronous-unwind-tables", "-S", "-o", "-", str(source)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise CompileError(f"gcc could not compile {Path(source).name}:\n{done.stderr}",
                           diagnostics=done.stderr, command=cmd)
    lines, inside = [], False
    for line in done.stdout.splitlines():
        if line.startswith(f"{function}:"):
            inside = True
            continue
        if inside:
            if line.strip().startswith(".size") or (line and not line[0].isspace() and not line.startswith(".L")):
                break
            text = line.strip()
            if text and not text.startswith(".") and not text.endswith(":"):
                lines.append(" ".join(text.split()))
    if not lines:
        raise BadArgument(f"no function {function!r} in {Path(source).name}")
    return lines
