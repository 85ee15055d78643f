"""ipclab.experiments.strace_log (parsing and grouping recorded logs), .tracing (live traces), .race_detectors (Helgrind)."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ipclab import inventory, race_detectors, registry, strace_log, tracing
from ipclab import trace_demos as td
from ipclab.core.errors import NotSupported, WaitTimeout

DATA = Path(__file__).parent / "data"
LOG = (DATA / "strace_f_interleaved.log").read_text()
needs_strace = pytest.mark.skipif(not tracing.strace_status()[0], reason="strace missing or ptrace refused")
needs_valgrind = pytest.mark.skipif(not race_detectors.shutil.which("valgrind"), reason="valgrind missing")


# -- parse ----------------------------------------------------------------------------------

def test_parse_reads_pid_time_name_args_result():
    calls = strace_log.syscalls(strace_log.parse(LOG))
    first = calls[0]
    assert (first.pid, first.time, first.name) == (4100, "10:00:00.000100", "openat")
    assert first.first_string() == "/usr/lib/python3.11/os.py"
    assert first.ret == "3" and first.ok
    mm = next(c for c in calls if c.name == "mmap")
    assert mm.ret == "0x7f0000001000"  # hex results are kept whole
    assert mm.arg(3) == "MAP_SHARED" and mm.arg(4) == "3"


def test_parse_errno_of_failed_calls():
    calls = strace_log.syscalls(strace_log.parse(LOG))
    marker = calls[2]
    assert marker.name == "access" and marker.ret == "-1" and marker.errno == "ENOENT"
    sem = next(c for c in calls if c.name == "semtimedop")
    assert sem.errno == "EAGAIN" and not sem.ok


def test_parse_joins_unfinished_and_resumed_at_the_start():
    records = strace_log.parse(LOG)
    calls = strace_log.syscalls(records)
    waits = [c for c in calls if c.pid == 4101 and c.name == "futex"]
    assert len(waits) == 1  # two log lines, one call
    wait = waits[0]
    assert wait.interrupted and wait.ret == "0"
    assert "FUTEX_WAIT_BITSET" in wait.args and "FUTEX_BITSET_MATCH_ANY" in wait.args
    assert wait.time == "10:00:00.002400"  # where it started, not where it returned
    wake = next(c for c in calls if c.pid == 4100 and "FUTEX_WAKE, 1" in c.args and c.ret == "1")
    assert records.index(wait) < records.index(wake)


def test_parse_events_and_a_call_cut_by_a_kill():
    records = strace_log.parse(LOG)
    events = [r for r in records if isinstance(r, strace_log.Event)]
    assert [(e.pid, e.kind, e.detail) for e in events] == [
        (4101, "exit", "0"), (4100, "signal", "SIGCHLD"), (4100, "killed", "SIGKILL")]
    last = strace_log.syscalls(records)[-1]
    assert last.name == "msgrcv" and last.ret == "?" and last.args.endswith("0, 0")


def test_parse_without_timestamps_and_garbage_lines():
    text = 'strace: Process 12 attached\n12 semget(0x1c000001, 1, IPC_CREAT|IPC_EXCL|0600) = 5\nnot a line\n'
    calls = strace_log.syscalls(strace_log.parse(text))
    assert [(c.pid, c.name, c.ret, c.time) for c in calls] == [(12, "semget", "5", "")]


def test_split_args_respects_quotes_and_braces():
    args = 'AT_FDCWD, "/dev/shm/a, b", {st_mode=S_IFREG|0600, st_size=32}, [{sem_num=0, sem_op=-1}]'
    assert strace_log._split_args(args) == ['AT_FDCWD', '"/dev/shm/a, b"', '{st_mode=S_IFREG|0600, st_size=32}',
                                         '[{sem_num=0, sem_op=-1}]']


# -- markers and grouping ---------------------------------------------------------------------

def test_marker_round_trip():
    text = 'sem = posix_ipc.Semaphore(name, O_CREX, mode=0o600) / 100% "quoted"'
    path = td.marker_path(42, text)
    call = strace_log.Syscall(1, "access", f'"{path}", F_OK', "-1", "ENOENT")
    assert strace_log.parse_marker(call) == (42, text)
    assert strace_log.parse_marker(strace_log.Syscall(1, "access", '"/ipclab-marker/end", F_OK')) == strace_log.END
    assert strace_log.parse_marker(strace_log.Syscall(1, "access", '"/etc/passwd", F_OK')) is None
    assert strace_log.parse_marker(strace_log.Syscall(1, "openat", f'AT_FDCWD, "{path}", O_RDONLY')) is None


def test_group_puts_calls_under_their_python_line():
    steps = strace_log.group(strace_log.parse(LOG))
    assert [(s.lineno, s.pid) for s in steps] == [(10, 4100), (12, 4100), (14, 4101), (16, 4100), (15, 4101), (18, 4100)]
    create = steps[0]
    assert create.text == "sem = posix_ipc.Semaphore(name)"
    # the /dev/shm file, its fd and mapping; not Python's imports nor the registry's JSON file
    assert create.names() == ["openat", "write", "mmap", "link", "unlink", "close"]
    assert strace_log.calls(steps, "os.fork()") == ["clone"]
    assert strace_log.calls(steps, "sem.acquire(10)", child=True) == ["futex"]
    assert strace_log.calls(steps, "sem.acquire(10)", child=False) == []
    # a FUTEX_WAKE_PRIVATE is the process's own lock: left out; the shared FUTEX_WAKE is kept
    assert strace_log.calls(steps, "sem.release()") == ["futex"]
    # munmap of the tracked address, and the System V call; nothing after the end marker
    assert strace_log.calls(steps, "sem.close()") == ["munmap", "semtimedop"]
    assert all(c.name != "msgrcv" for s in steps for c in s.calls)


def test_group_drops_calls_before_the_first_marker():
    text = "1 openat(AT_FDCWD, \"/dev/shm/x\", O_RDWR) = 3\n1 semget(1, 1, 0) = 2\n"
    assert strace_log.group(strace_log.parse(text)) == []


def test_format_table_shows_lines_calls_and_silence():
    table = strace_log.format_table(strace_log.group(strace_log.parse(LOG)))
    lines = table.splitlines()
    assert lines[0].startswith("L10  sem = posix_ipc.Semaphore(name)")
    assert any("[child] sem.acquire(10)" in l for l in lines)
    assert "- (no system call)" in table  # os._exit made none of the traced calls
    assert all(len(l) <= 130 for l in lines)
    assert strace_log.format_table([]) == "(no marked lines in this trace)"


@pytest.mark.parametrize("demo, line, expected", [
    ("posix_shm", "posix_ipc.SharedMemory(", ["openat", "ftruncate"]),
    ("posix_shm", 'm[0:5] = b"hello"', []),
    ("posix_shm", "m.close()", ["close", "munmap"]),
    ("posix_sem", "pid = os.fork()", ["clone"]),
    ("sysv_msg", "q.send(", ["msgsnd"]),
    ("sysv_msg", "q.receive(", ["msgrcv"]),
    ("sysv_shm", "seg.detach()", ["shmdt"]),
    ("posix_mq", "mq.send(", ["mq_timedsend"]),
    ("posix_mq", "mq.unlink()", ["mq_unlink"]),
])
def test_recorded_traces(demo, line, expected):
    steps, text = tracing.recorded(demo)
    assert strace_log.calls(steps, line) == expected


def test_recorded_posix_sem_futex_pair_on_the_semaphore_page():
    steps, _ = tracing.recorded("posix_sem")
    parent = steps[0].pid
    mapped = next(c for c in steps[0].calls if c.name == "mmap")
    wait = [c for s in steps if s.pid != parent for c in s.calls if c.name == "futex"]
    wake = [c for s in steps if s.pid == parent and "release" in s.text for c in s.calls]
    assert len(wait) == 1 and "FUTEX_WAIT" in wait[0].args
    assert wait[0].arg(0) == wake[0].arg(0) == mapped.ret


def test_demo_command_rejects_unknown_demo():
    with pytest.raises(ValueError):
        tracing.demo_command("nope")


def test_strace_status_missing(monkeypatch):
    monkeypatch.setattr(tracing, "_status", None)
    monkeypatch.setattr(tracing.shutil, "which", lambda name: None)
    ok, why = tracing.strace_status()
    assert not ok and "apt-get install strace" in why
    monkeypatch.setattr(tracing, "_status", None)
    with pytest.raises(NotSupported):
        tracing.run_strace(["true"])
    monkeypatch.setattr(tracing, "_status", None)


# -- live traces --------------------------------------------------------------------------------

@needs_strace
def test_live_posix_shm_trace():
    steps, text = tracing.trace_demo("posix_shm", timeout=60)
    assert strace_log.calls(steps, "posix_ipc.SharedMemory(") == ["openat", "ftruncate"]
    path = strace_log.call_paths(steps, "posix_ipc.SharedMemory(")[0][1]
    assert path.startswith("/dev/shm/ipl")
    assert strace_log.calls(steps, "mmap.mmap(")[-1] == "mmap"
    assert strace_log.calls(steps, 'm[0:5] = b"hello"') == []
    assert strace_log.call_paths(steps, "shm.unlink()") == [("unlink", path)]
    assert not os.path.exists(path)


@needs_strace
def test_live_posix_sem_trace_shows_futex_only_when_waiting():
    steps, _ = tracing.trace_demo("posix_sem", timeout=60)
    before_fork = steps[:next(i for i, s in enumerate(steps) if "os.fork()" in s.text)]
    assert not any(s.calls for s in before_fork if "acquire" in s.text or "release" in s.text)
    assert strace_log.calls(steps, "sem.acquire(10)", child=True) == ["futex"]
    assert "futex" in strace_log.calls(steps, "sem.release()", child=False)


@needs_strace
def test_live_sysv_sem_trace():
    steps, _ = tracing.trace_demo("sysv_sem", timeout=60)
    assert strace_log.calls(steps, "sysv_ipc.Semaphore(") == ["semget", "semctl"]
    assert strace_log.calls(steps, "sem.acquire()") in (["semop"], ["semtimedop"])


@needs_strace
def test_run_strace_removes_what_a_crashed_traced_process_left():
    code = ("from ipclab import objects; import os, signal; s = objects.create_posix_shm(4096, tag='straced'); "
            "print(s.name, flush=True); os.kill(os.getpid(), signal.SIGKILL)")
    with pytest.raises(NotSupported, match="failed"):
        tracing.run_strace([sys.executable, "-c", code], timeout=60)
    assert not [r for r in inventory.course_objects(registry.current().id) if "straced" in r["name"]]


@needs_strace
def test_run_strace_timeout_kills():
    with pytest.raises(WaitTimeout, match="did not finish"):
        tracing.run_strace([sys.executable, "-c", "import time; time.sleep(30)"], timeout=2)


@needs_strace
def test_attach_shows_the_call_a_process_sleeps_in():
    p = subprocess.Popen(["sleep", "30"])
    try:
        from ipclab import procinfo
        procinfo.wait_until_blocked(p.pid, calls=("clock_nanosleep", "nanosleep"), timeout=10)
        records = tracing.attach(p.pid, seconds=0.5, timeout=10)
        names = {c.name for c in strace_log.syscalls(records)}
        assert names & {"clock_nanosleep", "nanosleep", "restart_syscall"}
        assert p.poll() is None  # detached, not killed
    finally:
        p.kill()
        p.wait(timeout=10)


# -- Helgrind -------------------------------------------------------------------------------------

def _counter_line():
    lines = (race_detectors.C_DIR / "race_helgrind.c").read_text().splitlines()
    return next(i for i, l in enumerate(lines, 1) if "counter++;" in l and "/*" in l)


def test_parse_recorded_helgrind_reports():
    racy, locked = race_detectors.recorded_helgrind("race"), race_detectors.recorded_helgrind("lock")
    assert racy.errors >= 1 and {r["access"] for r in racy.races} <= {"read", "write"}
    assert racy.race_lines("race_helgrind.c") == [_counter_line()]
    assert locked.errors == 0 and locked.races == []


def test_parse_helgrind_on_no_report():
    r = race_detectors.parse_helgrind("==1== Helgrind\n==1== ERROR SUMMARY: 0 errors from 0 contexts\n")
    assert (r.errors, r.races) == (0, [])


@needs_valgrind
def test_live_helgrind_finds_the_race_and_not_with_the_lock():
    racy = race_detectors.helgrind(["race", 50], timeout=120)
    assert racy.exit_code == 3 and racy.race_lines("race_helgrind.c") == [_counter_line()]
    locked = race_detectors.helgrind(["lock", 50], timeout=120)
    assert locked.errors == 0 and locked.exit_code == 0


def test_strace_status_ptrace_refused(monkeypatch):
    refused = subprocess.CompletedProcess(["strace"], 1, "", "strace: test_ptrace_get_syscall_info: PTRACE_TRACEME: "
                                                          "Operation not permitted\nstrace: ptrace(PTRACE_TRACEME, ...): Operation not permitted\n")
    monkeypatch.setattr(tracing, "_status", None)
    monkeypatch.setattr(tracing.shutil, "which", lambda name: "/usr/bin/strace")
    monkeypatch.setattr(tracing.subprocess, "run", lambda *a, **k: refused)
    ok, why = tracing.strace_status()
    assert not ok and "Operation not permitted" in why and "SYS_PTRACE" in why
    monkeypatch.setattr(tracing, "_status", None)
