"""The C track of the labs: compile a student's C file, then grade it with the Python track's tests.

How (issue 20.4): the student writes ``labs/c/MODULE.c`` against the lab's header
(``labs/c/MODULE.h``, the contract). The grader, on the trusted side,

1. refuses sources that could read the grader's files at compile time (``#include`` of
   anything but a system header or the lab's header; ``asm`` and its ``.incbin``; ``#embed``):
   gcc runs as the grader, not in the box;
2. compiles the file with :mod:`ipclab.core.cbuild` (the course's one gcc runner) into a shared
   library, against the grader's own copy of the header, with ``-std=c11 -Wall -Wextra
   -Werror``, UndefinedBehaviorSanitizer (``-fno-sanitize-recover``: the first report ends the
   process, and its text is shown) and gcc's ThreadSanitizer *instrumentation* hooked by
   ``ipclab/c/ctrack/slow_hooks.c`` (only to slow each memory access in the lockstep tests; no
   TSan runtime is linked);
3. writes a generated ``MODULE.py`` beside the library: it loads :mod:`ipclab.tooling.grading.cshims`
   for the lab, which presents the C library through the Python lab API.

Grading then goes on exactly as for a Python submission: the agent in the box imports
``MODULE.py``, and the same visible and hidden tests run against the C code, in the box.

Why not AddressSanitizer: the box limits each process's address space (``RLIMIT_AS``), and
ASan reserves terabytes of shadow memory at start-up; under such a limit it refuses to run
("ReserveShadowMemoryRange failed ... Perhaps you're using ulimit -v", measured here). An ASan
library loaded into Python also needs ``LD_PRELOAD`` of libasan. UBSan needs neither.
"""

import ast
import re
import shutil
from pathlib import Path

from ipclab.core import cbuild
from ipclab.core.errors import NotSupported
from ipclab.core.paths import C_DIR, COURSE_ROOT

__all__ = ["LABS", "C_LABS_DIR", "SOLUTIONS_DIR", "COMPILE_FLAGS", "HINTS", "header_of", "check_source", "prepare",
           "protocol_of", "explain", "gcc_needed_message"]

C_LABS_DIR = COURSE_ROOT / "labs" / "c"
SOLUTIONS_DIR = COURSE_ROOT / "solutions" / "c"
HOOKS = C_DIR / "ctrack" / "slow_hooks.c"
LABS = {"lab1": "lab1_ringbuffer", "lab2": "lab2_semsets", "lab3": "lab3_messages", "lab9": "lab9_seqlock"}   # labs with a C track: lab -> module (file stem)
COMPILE_FLAGS = ("-std=c11", "-Wall", "-Wextra", "-Werror", "-D_POSIX_C_SOURCE=200809L", "-fPIC", "-g",
                 "-fsanitize=undefined", "-fno-sanitize-recover=all", "-fsanitize=thread")
WORK_PREFIX = re.compile(r"/[^\s:]*/ipclab-sub-[^/\s]+/")
ALLOWED_INCLUDE = re.compile(r"<[A-Za-z0-9_]+(/[A-Za-z0-9_]+)*\.h>")


#: The Python track's hints name Python calls; the C track's say the same in C (test name -> hint).
HINTS = {"lab1": {
    "fifo_one_process": "rb_put() writes the length (rb_store_u32) then the bytes at slot `tail` "
                        "(RB_SLOT_OFFSET), rb_get() reads slot `head`; both advance modulo capacity.",
    "timeouts": "sem_timedwait(sem, &deadline), deadline = rb_deadline(timeout), fails with errno ETIMEDOUT: "
                "return -1 with errno still ETIMEDOUT (and sem_post anything you took before the timeout).",
    "mutex_is_used": "take the mutex (after empty/full) around every use of head and tail; if the mutex wait "
                     "times out, sem_post the empty (rb_put) or full (rb_get) unit you already took.",
    "bad_input": "rb_create: errno = EINVAL and NULL when capacity or item_size <= 0, before creating anything; "
                 "rb_put: EINVAL unless 1 <= len <= item_size, before waiting on anything.",
    "attach_and_destroy": "head and tail live in the segment (struct rb_header), shared by every process: not in "
                          "your struct rb; rb_destroy() must shm_unlink the segment and sem_unlink the three "
                          "semaphores.",
    "end_of_stream": "rb_end() puts a length-0 marker in the ring like a record; an rb_get() that finds it leaves "
                     "it there, sem_posts full again so the next waiting consumer wakes too, and returns 0; "
                     "rb_put() after the end fails with EPIPE.",
    "every_length": "store each record's length in its slot and copy exactly that many bytes with memcpy "
                    "(zero bytes inside a record are data, not an end).",
}, "lab2": {
    "both_forks": "dt_create: semget(key, n, IPC_CREAT | IPC_EXCL | 0600), then semctl(semid, 0, SETALL, arg) with "
                  "arg.array = n ones (union semun: lab2_semsets.h); dt_pick_up(i) leaves semaphores i and (i + 1) % n "
                  "at 0, dt_put_down(i) puts them back to 1.",
    "atomic_timeout": "give BOTH struct sembuf {fork, -1, SEM_UNDO} to ONE semtimedop(semid, sops, 2, &timeout): the "
                      "kernel applies all or none (man 2 semop). On its timeout (EAGAIN, nothing taken) return -1 "
                      "with errno = ETIMEDOUT.",
    "dinner_party": "started together, every philosopher that holds one fork and waits for the next waits for ever: "
                    "one semtimedop with both sembufs is a single step. After the meals every fork must be back at "
                    "exactly 1: the put-down carries SEM_UNDO too.",
    "killed_while_eating": "sem_flg = SEM_UNDO on the take: the kernel gives the forks back when the process dies "
                           "(man 2 semop); SEM_UNDO on the put-down too, so a living philosopher's adjustments "
                           "cancel out.",
    "create_and_destroy": "dt_create: errno = EINVAL and NULL for n < 2, before semget; dt_destroy: "
                          "semctl(semid, 0, IPC_RMID).",
    "two_philosophers": "with n = 2 both philosophers need forks 0 and 1: the same two struct sembuf, in one "
                        "semtimedop.",
    "big_table": "taking both forks must be one semtimedop with two struct sembuf: no philosopher ever holds one "
                 "fork and waits.",
}, "lab3": {
    "one_client": "svc_serve() replies with mtype = the request's pid; svc_wait() receives with msgtyp "
                  "getpid(): msgrcv(msqid, &reply, SVC_REPLY_BODY, getpid(), IPC_NOWAIT).",
    "many_clients": "a client whose msgrcv has msgtyp 0 takes whatever is first in the queue: another client's "
                    "reply, a request. Receive only your own pid's type.",
    "urgent_first": "the server receives with msgtyp -SVC_NORMAL (the lowest type <= 2 first: urgent wins, man 2 "
                    "msgrcv); replies may come back in any order, so svc_wait() keeps the others in a stash in "
                    "your svc_t and looks there first.",
    "timeouts": "msgrcv has no timeout: poll with IPC_NOWAIT (ENOMSG: nothing yet) and svc_nap() until "
                "svc_clock() passes the deadline; svc_serve then returns 0, svc_wait fails with errno ETIMEDOUT.",
    "destroy_removes": "svc_destroy: msgctl(msqid, IPC_RMID, NULL) removes the queue from the system.",
    "error_replies": "an op in no handler entry, or a handler that returns nonzero, gets a reply with status "
                     "SVC_ERROR (and why in its text); the server goes on.",
    "many_clients_load": "replies by pid (msgtyp getpid()), the others in the stash; every wait bounded by a "
                         "deadline, every reply sent even when the queue is briefly full (EAGAIN: retry).",
}, "lab9": {
    "round_trip": "sr_create: shmget(key, SR_SIZE, IPC_CREAT | IPC_EXCL | 0600), shmat, a zero record; word 0 is "
                  "seq, then x, y, total.",
    "writer_marks_odd": "a reader that sees the same EVEN seq before and after reading believes the record is "
                        "stable: store seq + 1 first, then the fields, then seq + 2 (atomic stores; a release "
                        "fence after the odd store, a release store of the even one).",
    "reader_waits_out_a_write": "an odd seq means a writer is between its first and last store: the fields are "
                                "half old, half new. Retry (until the deadline) while seq is odd.",
    "reader_rechecks": "seq even before the read is not enough: a write may start while you read x, y, total. "
                       "Load seq again after them (after an acquire fence) and retry unless it is unchanged.",
    "shared_state": "nothing of the record may live in your struct sr: every process that attaches must see, "
                    "and continue, the seq and fields in the segment.",
    "attach_and_destroy": "shmdt drops one attachment; shmctl(IPC_RMID) only marks the segment: the kernel "
                          "destroys it at the last detach (man 2 shmctl). sr_close: shmdt; sr_destroy: both.",
    "writer_dies_mid_write": "a write that never ends leaves seq odd for ever: sr_read must keep refusing it and "
                             "fail with errno ETIMEDOUT once its timeout has passed.",
}}


def explain(lab, results):
    """C-track wording on graded *results* (TestResult): C hints, and a sanitizer's report named as such."""
    for r in results:
        r.hint = HINTS.get(lab, {}).get(r.name, r.hint)
        r.output_tail = [WORK_PREFIX.sub("", line) for line in r.output_tail]  # UBSan names the copy's path
        reports = [line for line in r.output_tail if "runtime error:" in line]
        if r.status == "crashed" and reports:
            r.summary = ("UndefinedBehaviorSanitizer stopped your C code at its first undefined behaviour "
                         "(the report is below; file:line:column is in your .c file)")
    return results


def gcc_needed_message(lab):
    return (f"the C track of {lab} needs gcc on the grading machine (it compiles the student's file); "
            f"gcc was not found. {cbuild.NO_GCC_ADVICE}")


def header_of(lab):
    """The lab's header, the contract (``labs/c/MODULE.h``)."""
    return C_LABS_DIR / f"{LABS[lab]}.h"


def _without_comments_and_strings(text):
    """*text* with comments and string/char literals blanked (a string may mention asm)."""
    pattern = re.compile(r'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.S)
    return pattern.sub(lambda m: '""' if m.group(0).startswith('"') else " ", text)


def check_source(text, lab):
    """A list of reasons to refuse *text* before gcc sees it (empty: fine)."""
    header = f"{LABS[lab]}.h"
    problems = []
    code = _without_comments_and_strings(text.replace("\\\n", ""))
    for n, line in enumerate(code.splitlines(), 1):
        s = line.strip()
        d = re.match(r"#\s*(include|include_next|import|embed)\b\s*(.*)", s)
        if d:
            target = d.group(2).strip()
            if d.group(1) != "include" or not (ALLOWED_INCLUDE.fullmatch(target) or target == '""'):
                problems.append(f"line {n}: only #include <system.h> and #include \"{header}\" are allowed")
        if re.search(r"\b(__asm__|__asm|asm)\b", s):
            problems.append(f"line {n}: inline assembly (asm) is not allowed in this lab")
        if "__has_include" in s or re.match(r"#\s*pragma\s+GCC\s+dependency", s) or "_Pragma" in s:
            problems.append(f"line {n}: __has_include, _Pragma and #pragma GCC dependency are not allowed here")
    # the only quoted include allowed is the lab's header (quoted names were blanked above)
    for n, line in enumerate(text.splitlines(), 1):
        m = re.match(r'\s*#\s*include\s*"([^"]*)"', line)
        if m and m.group(1) != header:
            problems.append(f"line {n}: #include \"{m.group(1)}\": the only header of yours is \"{header}\"")
    return problems


def protocol_of(text):
    """The C file's ``PROTOCOL`` string (``const char PROTOCOL[] = "..." "...";``), or None."""
    m = re.search(r'\bPROTOCOL\s*\[\s*\]\s*=\s*((?:\s*"(?:\\.|[^"\\\n])*")+)\s*;', text)
    if not m:
        return None
    out = []
    for piece in re.findall(r'"((?:\\.|[^"\\\n])*)"', m.group(1)):
        try:
            out.append(ast.literal_eval('"' + piece + '"'))
        except (SyntaxError, ValueError):
            out.append(piece)
    return "".join(out)


_ADAPTER = '''"""{module}, C track: generated by the grader (ipclab.tooling.grading.ctrack); not student code."""
import os as _os

from ipclab.tooling.grading.cshims import {lab} as _shim

C_TRACK = True
PROTOCOL = {protocol!r}
_shim.load(_os.path.join(_os.path.dirname(_os.path.abspath(__file__)), "lib{module}.so"))  # lib...: never importable as the module itself
_ipclab_c_slow = _shim.slow
{exports}
'''


def prepare(lab, work):
    """Compile ``work/MODULE.c`` and put ``libMODULE.so`` and the adapter ``MODULE.py`` beside it.

    Returns None when ready, else the message a student reads (the compiler's own diagnostics,
    or why the source was refused). Raises :class:`NotSupported` when gcc is absent.
    """
    module = LABS[lab]
    work = Path(work)
    src = work / f"{module}.c"
    text = src.read_bytes().decode("utf-8", errors="replace")
    problems = check_source(text, lab)
    if problems:
        return "your C file was not compiled:\n" + "\n".join("  " + p for p in problems[:10])
    if not cbuild.have_gcc():
        raise NotSupported(gcc_needed_message(lab))
    shutil.copyfile(header_of(lab), work / header_of(lab).name)   # the grader's copy of the contract
    hooks = cbuild.build([HOOKS], "ctrack_slow_hooks_o", extra=["-fPIC", "-c"], guard=False)  # no sanitizer
    try:
        obj = cbuild.build([src], f"{module}_o", opt="-O1", extra=[*COMPILE_FLAGS, "-c"], guard=False)
        lib = cbuild.build([obj, hooks], f"{module}_so", extra=["-shared", "-fPIC"], libs=["-lubsan"], guard=False)
    except cbuild.CompileError as e:
        diag = (e.diagnostics or str(e)).replace(str(work) + "/", "")
        lines = [line for line in diag.splitlines() if line.strip()][:40]
        return ("gcc could not compile your C file (flags: " + " ".join(COMPILE_FLAGS[:4]) +
                "; warnings are errors):\n" + "\n".join("  " + line for line in lines))
    shutil.copyfile(lib, work / f"lib{module}.so")
    (work / f"lib{module}.so").chmod(0o644)
    shim = __import__(f"ipclab.tooling.grading.cshims.{lab}", fromlist=["__all__"])
    exports = "\n".join(f"{name} = _shim.{name}" for name in shim.__all__ if name not in ("load", "slow"))
    protocol = protocol_of(text) or ""
    adapter = work / f"{module}.py"
    adapter.write_text(_ADAPTER.format(module=module, lab=lab, protocol=protocol, exports=exports))
    adapter.chmod(0o644)
    return None
