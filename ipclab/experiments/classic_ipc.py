"""The chapter's classic mechanisms on real processes: FIFOs, pipes, signals, sockets (notebook 08).

Every worker here is importable (fork, forkserver and spawn), every blocking call has a
timeout, every FIFO or socket file lives in a private per-user directory (0700) that is
removed afterwards, and every IPC object goes through :mod:`ipclab.core.objects` (unique
name, 0600, registered, so it is removed even when its creator is killed). The comment on
each line that calls the kernel names the C call behind it.

Defined in :mod:`ipclab.experiments.classic_ipc`; taught in ``notebooks/08_pipes_fifos_signals.ipynb``.
"""

import contextlib
import errno
import os
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from ipclab.core import inventory, objects, procs, registry
from ipclab.core.errors import BadArgument, WaitTimeout

PIPE_BUF = select.PIPE_BUF  # 4096 on Linux: limits.h, pipe(7)
_DIR_PREFIX = "ipclab-ipc-"


# ------------------------------------------------------------------------- a private directory
def _sweep_dead_dirs():
    """Remove private directories of this user whose creating process is gone (killed kernel)."""
    for p in Path(tempfile.gettempdir()).glob(f"{_DIR_PREFIX}{os.getuid()}-*"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            if p.stat().st_uid != os.getuid():
                continue
            _, pid, start = p.name[len(_DIR_PREFIX):].split("-")[:3]
            if str(registry.proc_start_time(int(pid))) != start:
                shutil.rmtree(p, ignore_errors=True)


@contextlib.contextmanager
def private_dir():
    """A fresh directory only this user can enter (mkdtemp: mode 0700), removed on exit.

    Its name carries our pid and start time, so a later run removes it if this process is
    killed before the ``finally`` (the same rule as the registry's).
    """
    _sweep_dead_dirs()
    start = registry.proc_start_time(os.getpid())
    path = Path(tempfile.mkdtemp(prefix=f"{_DIR_PREFIX}{os.getuid()}-{os.getpid()}-{start}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def make_fifo(directory, name="fifo"):
    """``mkfifo(path, 0600)`` in *directory* (a :func:`private_dir`, whose removal covers a crash)."""
    path = str(Path(directory) / name)
    os.mkfifo(path, 0o600)  # C: mkfifo(path, 0600)
    return path


def remove_path(path):
    """``unlink(path)`` a FIFO or socket file (no error if it is already gone)."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)  # C: unlink(path)


# ------------------------------------------------------------------------- FIFOs
class _Alarm(Exception):
    pass


def _on_alarm(signum, frame):
    raise _Alarm()


@contextlib.contextmanager
def deadline(seconds):
    """Interrupt a blocking call after *seconds* (SIGALRM; a handler that raises stops PEP 475's retry)."""
    old = signal.signal(signal.SIGALRM, _on_alarm)  # C: sigaction(SIGALRM, &sa, &old)
    signal.setitimer(signal.ITIMER_REAL, seconds)  # C: setitimer(ITIMER_REAL, ...)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def fifo_reader(path, timeout):
    """Open the FIFO for reading (this blocks until a writer opens it), then read to end of file.

    Returns ``(t_before_open, t_after_open, data)`` in CLOCK_MONOTONIC seconds (the same clock
    in every process), or ``(t_before_open, None, b"")`` if no writer came within *timeout*.
    """
    t0 = time.monotonic()
    try:
        with deadline(timeout):
            fd = os.open(path, os.O_RDONLY)  # C: fd = open(path, O_RDONLY);  blocks: no writer yet
    except _Alarm:
        return t0, None, b""
    t1 = time.monotonic()
    data = read_until_eof(fd, timeout)
    os.close(fd)  # C: close(fd)
    return t0, t1, data


def read_until_eof(fd, timeout):
    """``read()`` until end of file (every writer closed), waiting at most *timeout* seconds in all."""
    end = time.monotonic() + timeout
    chunks = []
    while True:
        left = end - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:  # C: poll(&pfd, 1, ms)
            raise WaitTimeout(f"no end of file on fd {fd} within {timeout:g} s")
        chunk = os.read(fd, 65536)  # C: n = read(fd, buf, sizeof buf)
        if not chunk:  # 0 bytes: every write end is closed
            return b"".join(chunks)
        chunks.append(chunk)


def write_with_shell(path, text, timeout=10):
    """An unrelated program writes to the FIFO: ``sh -c 'printf %s TEXT > PATH'`` (it knows only the path)."""
    t = time.monotonic()
    subprocess.run(["sh", "-c", 'printf %s "$1" > "$2"', "sh", text, path], check=True, timeout=timeout)
    return t


def fifo_rendezvous(path, delay=0.5, text="hello through a FIFO", timeout=10, start_method=None):
    """A reader process blocks in open(); *delay* s later an unrelated writer opens, writes, closes.

    Returns a dict: when each side opened and what the reader read.
    """
    group = procs.start(fifo_reader, [(path, timeout)], start_method=start_method, timeout=timeout + 5)
    with _killed_on_error(group):
        pid = group.pids[0]
        where = wait_in_fifo_open(pid, timeout)
        time.sleep(delay)  # the reader stays blocked: nobody has opened the other end
        reader_state = _state(pid)
        t_writer = write_with_shell(path, text, timeout=timeout)
        (t0, t1, data), = group.join()
    return {"reader_blocked_in": where, "reader_state_before_writer": reader_state, "t_reader_called_open": t0,
            "t_writer_started": t_writer, "t_reader_open_returned": t1, "data": data}


@contextlib.contextmanager
def _killed_on_error(group):
    """Kill and reap *group* if the block fails (``with group`` would also join it on success)."""
    try:
        yield group
    except BaseException:
        group.kill()
        raise


def wait_in_fifo_open(pid, timeout):
    """Wait until *pid* sleeps in a FIFO's open(): the kernel function ``wait_for_partner`` (/proc/PID/wchan).

    Returns that name, or None where /proc hides it (then after a short pause).
    """
    start = time.monotonic()
    end = start + timeout
    while time.monotonic() < end:
        try:
            with open(f"/proc/{pid}/wchan") as f:
                where = f.read().strip()
        except OSError:
            where = None
        if where == "wait_for_partner":
            return where
        state = _state(pid)
        if state is None:
            raise WaitTimeout(f"process {pid} ended before it blocked in open()")
        if where in (None, "", "0") and state == "S" and time.monotonic() - start > 1.0:
            return None  # wchan hidden here: it has slept for a second, take that
        time.sleep(0.005)
    raise WaitTimeout(f"process {pid} did not block in the FIFO's open() within {timeout:g} s")


def _state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def open_nonblocking(path, flags):
    """``open(path, flags | O_NONBLOCK)``: the errno name it fails with, or 'ok' (closing the fd)."""
    try:
        fd = os.open(path, flags | os.O_NONBLOCK)  # C: open(path, O_WRONLY | O_NONBLOCK)
    except OSError as e:
        return errno.errorcode[e.errno]
    os.close(fd)
    return "ok"


def fifo_echo_on_rdwr(path, text=b"question?"):
    """Linux only (fifo(7)): one process opens the FIFO O_RDWR, writes, reads: it gets its own bytes back."""
    fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)  # C: open(path, O_RDWR | O_NONBLOCK); POSIX: undefined
    try:
        os.write(fd, text)  # C: write(fd, "question?", 9)
        return os.read(fd, 100)  # C: read(fd, buf, 100): the same bytes, there is one channel only
    finally:
        os.close(fd)


# ------------------------------------------------------------------------- pipes
def wrong_ends():
    """Write on a pipe's read end and read from its write end: the errno name each gets."""
    r, w = os.pipe()  # C: int p[2]; pipe(p);  p[0] reads, p[1] writes
    out = {}
    for what, call in (("write(read end)", lambda: os.write(r, b"x")),  # C: write(p[0], "x", 1)
                       ("read(write end)", lambda: os.read(w, 1))):  # C: read(p[1], buf, 1)
        try:
            call()
            out[what] = "ok"
        except OSError as e:
            out[what] = errno.errorcode[e.errno]
    os.close(r)
    os.close(w)
    return out


def write_to_closed_pipe(default_sigpipe):
    """Close the read end, then write: killed by SIGPIPE (default action), or EPIPE if it is ignored.

    Python starts with SIGPIPE ignored (so it raises BrokenPipeError); *default_sigpipe*
    restores the C default, as a C program has it.
    """
    if default_sigpipe:
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # C: signal(SIGPIPE, SIG_DFL): the default
    r, w = os.pipe()
    os.close(r)  # C: close(p[0]): nobody can read any more
    try:
        os.write(w, b"anyone there?")  # C: write(p[1], ...): the kernel sends SIGPIPE, then fails EPIPE
    except OSError as e:
        return errno.errorcode[e.errno]
    finally:
        os.close(w)
    return "ok"


def sigpipe_outcomes(start_method=None, timeout=10):
    """What happens to a writer with no reader, with SIGPIPE at its default and ignored."""
    out = {}
    for default in (True, False):
        g = procs.start(write_to_closed_pipe, [(default,)], start_method=start_method, timeout=timeout,
                        relay=False)
        (outcome,) = g.join(fail_fast=False, raise_errors=False)
        out["SIG_DFL" if default else "SIG_IGN"] = outcome
    return out


def pipe_writer(fd, letter, size, count):
    """Write *count* records of *size* bytes, each filled with *letter*, one write() per record."""
    record = letter.encode() * size
    for _ in range(count):
        view = memoryview(record)
        while view:  # a write larger than the pipe's room may be partial only with O_NONBLOCK
            n = os.write(fd, view)  # C: write(fd, record, size)
            view = view[n:]
    os.close(fd)
    return count


def interleaving(size, writers=4, count=16, timeout=60):
    """*writers* processes share one pipe; each writes *count* records of *size* bytes in one write() each.

    The parent reads everything and cuts the stream into *size*-byte records: a record is torn
    if it holds bytes of more than one writer. Writers are forked (an anonymous pipe is shared
    by inheritance only). Returns bytes expected and read, records, torn records.
    """
    if size <= 0 or writers < 2 or count < 1:
        raise BadArgument("size > 0, writers >= 2 and count >= 1, please")
    r, w = os.pipe()
    try:
        group = procs.start(pipe_writer, [(w, chr(ord("A") + i), size, count) for i in range(writers)],
                            start_method="fork", timeout=timeout, relay=False)
    finally:
        os.close(w)  # only the writers hold the write end now: EOF when they are done
    with _killed_on_error(group):
        stream = read_until_eof(r, timeout)
        group.join()
    os.close(r)
    records = [stream[i:i + size] for i in range(0, len(stream), size)]
    torn = sum(1 for rec in records if len(set(rec)) > 1)
    return {"size": size, "expected_bytes": writers * count * size, "read_bytes": len(stream),
            "records": len(records), "torn": torn}


def pipe_capacity():
    """The capacity of a new pipe (fcntl F_GETPIPE_SZ; 65536 by default, pipe(7))."""
    import fcntl
    r, w = os.pipe()
    try:
        return fcntl.fcntl(w, getattr(fcntl, "F_GETPIPE_SZ", 1032))  # C: fcntl(fd, F_GETPIPE_SZ)
    finally:
        os.close(r)
        os.close(w)


# ------------------------------------------------------------------------- signals: SIGTERM
def sigterm_server(conn, timeout):
    """A server owning a POSIX shm object and a System V queue; SIGTERM makes it clean up and stop.

    It sends ``(pid, shm name, queue id)`` on *conn* once its handler is installed, then
    sleeps until a signal (or *timeout*). Its return value lists what the handler removed.
    """
    shm = objects.create_posix_shm(4096, tag="server")  # C: shm_open(name, O_CREAT|O_EXCL|O_RDWR, 0600)
    q = objects.create_sysv_msg(note="server")  # C: msgget(key, IPC_CREAT|IPC_EXCL|0600)
    removed, got = [], []

    def on_term(signum, frame):  # Python runs this in the main thread, between two bytecodes
        objects.remove_posix_shm(shm)  # C: shm_unlink(name)
        removed.append(shm.name)
        objects.remove_sysv(q)  # C: msgctl(id, IPC_RMID, NULL)
        removed.append(q.id)
        got.append(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, on_term)  # C: sigaction(SIGTERM, &sa, NULL)
    conn.send((os.getpid(), shm.name, q.id))
    conn.close()
    end = time.monotonic() + timeout
    while not got and time.monotonic() < end:
        time.sleep(0.02)  # C: nanosleep; a signal interrupts it, the handler runs, then we look
    return {"signal": got[0] if got else None, "removed": removed}


def listed(shm_name, msq_id):
    """Does the kernel list them? (``/dev/shm/NAME`` for the POSIX object, ``/proc/sysvipc/msg`` for the queue)."""
    return {"posix_shm": os.path.exists("/dev/shm" + shm_name),
            "sysv_msg": inventory.sysv_row("msg", msq_id) is not None}


def stop_server(sig, start_method=None, timeout=20):
    """Start :func:`sigterm_server`, send it *sig*, and look at the kernel's listing before and after.

    With SIGTERM the handler removes both objects. SIGKILL cannot be caught: the objects stay
    listed after the process is dead (``after_death``) until ipclab's registry removes what
    the killed worker created (``after_cleanup``).
    """
    import multiprocessing as mp
    ours, theirs = mp.Pipe(duplex=False)
    group = procs.start(sigterm_server, [(theirs, timeout)], start_method=start_method,
                        timeout=timeout + 5, relay=False)
    with _killed_on_error(group):
        theirs.close()
        if not ours.poll(timeout):
            raise WaitTimeout(f"the server did not report within {timeout} s")
        pid, name, qid = ours.recv()
        before = listed(name, qid)
        os.kill(pid, sig)  # C: kill(pid, SIGTERM)
        group.children[0].process.join(timeout)
        after_death = listed(name, qid)
        (outcome,) = group.join(fail_fast=False, raise_errors=False)
    return {"before": before, "after_death": after_death, "after_cleanup": listed(name, qid),
            "outcome": outcome, "exitcode": group.children[0].process.exitcode}


# ------------------------------------------------------------------------- signals: SIGCHLD
def _proc_state(pid):
    return _state(pid) or "gone"


def _wait_for_state(pids, want, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        states = [_proc_state(p) for p in pids]
        if all(s == want for s in states):
            return states
        time.sleep(0.005)
    return [_proc_state(p) for p in pids]


def zombies_then_reaped(n=3, timeout=10, mode="handler"):
    """Fork *n* children that exit at once and are not waited for: zombies (Z in /proc).

    Then, *mode* ``"handler"``: install a SIGCHLD handler that reaps (``waitpid(-1, WNOHANG)``
    in a loop) and fork *n* more: the handler reaps all 2n. ``"ignore"``: set SIGCHLD to
    SIG_IGN, after which new children never become zombies (wait(2), sigaction(2)).
    Returns the states seen in /proc and how many the handler reaped.
    """
    first = []
    for _ in range(n):
        pid = os.fork()  # C: pid = fork()
        if pid == 0:
            os._exit(0)  # C: _exit(0): the child is dead, but its parent has not waited
        first.append(pid)
    before = _wait_for_state(first, "Z", timeout)
    reaped = []

    def on_child(signum, frame):
        while True:  # one SIGCHLD may stand for several children: loop until none is left
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)  # C: waitpid(-1, &status, WNOHANG)
            except ChildProcessError:  # ECHILD: no child at all
                return
            if pid == 0:  # children left, none finished
                return
            reaped.append(pid)

    if mode == "handler":
        signal.signal(signal.SIGCHLD, on_child)  # C: sigaction(SIGCHLD, &sa, NULL)
    elif mode == "ignore":
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # C: signal(SIGCHLD, SIG_IGN): no zombies
    else:
        raise BadArgument(f"mode must be 'handler' or 'ignore', got {mode!r}")
    second = []
    for _ in range(n):
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        second.append(pid)
    if mode == "ignore":
        after_second = _wait_for_state(second, "gone", timeout)
        old = _wait_for_state(first, "Z", 0)  # the old zombies stay: SIG_IGN only affects new deaths
        for pid in first:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        return {"before": before, "new_children": after_second, "old_zombies_after": old, "reaped": 0}
    end = time.monotonic() + timeout
    while len(reaped) < 2 * n and time.monotonic() < end:
        time.sleep(0.01)  # the handler runs while we sleep
    return {"before": before, "after": [_proc_state(p) for p in first + second], "reaped": len(reaped)}


# ------------------------------------------------------------------------- signals: process groups
def _member(timeout):
    time.sleep(timeout)  # a member waits; only a signal ends it early
    os._exit(3)


def pgrp(pid):
    """The process group of *pid*, from /proc/PID/stat (field 5), or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[2])
    except OSError:
        return None


def _wait_status(pid, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        done, status = os.waitpid(pid, os.WNOHANG)  # C: waitpid(pid, &status, WNOHANG)
        if done:
            if os.WIFSIGNALED(status):
                return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
            return f"exit {os.WEXITSTATUS(status)}"
        time.sleep(0.005)
    return "running"


def group_leader(conn, n, timeout):
    """Lead a process group (procs made us a leader: setpgid(0, 0)) of *n* forked members and one outsider.

    The outsider leaves the group (``setpgid``, called by it *and* by us, so there is no race).
    We catch SIGTERM; after one arrives we report how each child ended.
    """
    members = []
    for _ in range(n):
        pid = os.fork()  # C: fork(): the child inherits our process group
        if pid == 0:
            _member(timeout)
        members.append(pid)
    outsider = os.fork()
    if outsider == 0:
        os.setpgid(0, 0)  # C: setpgid(0, 0): a group of its own
        _member(timeout)
    os.setpgid(outsider, outsider)  # the parent too (TLPI 34.2): whichever runs first, it is done
    got = []
    signal.signal(signal.SIGTERM, lambda s, f: got.append(signal.Signals(s).name))
    conn.send({"leader": os.getpid(), "pgid": os.getpgrp(), "members": members, "outsider": outsider})
    conn.close()
    end = time.monotonic() + timeout
    while not got and time.monotonic() < end:
        time.sleep(0.01)
    statuses = [_wait_status(pid, 5) for pid in members]
    outsider_alive = _wait_status(outsider, 0.2) == "running"
    os.kill(outsider, signal.SIGKILL)  # C: kill(outsider, SIGKILL): we end it ourselves
    _wait_status(outsider, 5)
    return {"leader_got": got, "members": statuses, "outsider_still_running": outsider_alive}


def broadcast(n=3, sig=signal.SIGTERM, start_method=None, timeout=20):
    """Start :func:`group_leader`, check the groups in /proc, then ``kill(-pgid, sig)``: who received it?"""
    import multiprocessing as mp
    ours, theirs = mp.Pipe(duplex=False)
    group = procs.start(group_leader, [(theirs, n, timeout)], start_method=start_method,
                        timeout=timeout + 10, relay=False)
    with _killed_on_error(group):
        theirs.close()
        if not ours.poll(timeout):
            raise WaitTimeout(f"the group leader did not report within {timeout} s")
        info = ours.recv()
        pgid = info["pgid"]
        seen = {"leader": pgrp(info["leader"]), "members": [pgrp(p) for p in info["members"]],
                "outsider": pgrp(info["outsider"])}
        if pgid == os.getpgrp():
            raise BadArgument("the leader is in our own process group: refusing to signal ourselves")
        os.killpg(pgid, sig)  # C: kill(-pgid, SIGTERM): every process of the group
        (result,) = group.join()
    return {"pgid": pgid, "our_pgid": os.getpgrp(), "groups_seen": seen, **result}


# ------------------------------------------------------------------------- sockets
SOCKET_KINDS = {  # name: (family, type, message boundaries kept?)  socket(2), udp(7), unix(7), tcp(7)
    "udp": (socket.AF_INET, socket.SOCK_DGRAM, True),
    "tcp": (socket.AF_INET, socket.SOCK_STREAM, False),
    "unix_stream": (socket.AF_UNIX, socket.SOCK_STREAM, False),
    "unix_dgram": (socket.AF_UNIX, socket.SOCK_DGRAM, True),
    "unix_seqpacket": (socket.AF_UNIX, socket.SOCK_SEQPACKET, True),
}


def send_messages(kind, address, messages, timeout):
    """In another process: connect to *address* and send each message with one send() call."""
    family, type_, _ = SOCKET_KINDS[kind]
    with socket.socket(family, type_) as s:  # C: s = socket(AF_INET, SOCK_DGRAM, 0)
        s.settimeout(timeout)  # every blocking call below gives up after *timeout*
        s.connect(address)  # C: connect(s, &addr, len); for UDP: only sets the default peer
        for m in messages:
            s.sendall(m)  # C: send(s, m, len, 0): one call per message
    return len(messages)


def count_recvs(kind, messages=(b"one", b"two", b"three"), directory=None, start_method=None, timeout=10):
    """Send *messages* from another process, all before we read; return what each recv() call returned.

    The receiver calls ``recv(65536)`` until it has every byte (stream) or every datagram, then
    checks that nothing more is queued.
    """
    if kind not in SOCKET_KINDS:
        raise BadArgument(f"kind must be one of {sorted(SOCKET_KINDS)}, got {kind!r}")
    family, type_, _ = SOCKET_KINDS[kind]
    path = None
    with contextlib.ExitStack() as stack:
        if family == socket.AF_UNIX:
            if directory is None:
                directory = stack.enter_context(private_dir())
            path = str(Path(directory) / f"{kind}.sock")
        srv = stack.enter_context(socket.socket(family, type_))
        srv.settimeout(timeout)
        if path:
            stack.callback(remove_path, path)
            srv.bind(path)  # C: bind(s, {AF_UNIX, path}): creates the socket file (in our private dir)
            address = path
        else:
            srv.bind(("127.0.0.1", 0))  # C: bind(s, {AF_INET, 127.0.0.1, port 0}): the kernel picks a port
            address = srv.getsockname()
        if type_ != socket.SOCK_DGRAM:
            srv.listen(1)  # C: listen(s, 1)
        procs.run(send_messages, [(kind, address, list(messages), timeout)], start_method=start_method,
                  timeout=timeout + 5, relay=False)  # every message is sent before we read
        conn = srv
        if type_ != socket.SOCK_DGRAM:
            conn, _ = srv.accept()  # C: c = accept(s, NULL, NULL)
            stack.enter_context(conn)
            conn.settimeout(timeout)
        got, want = [], sum(len(m) for m in messages)
        while (sum(map(len, got)) < want) if type_ == socket.SOCK_STREAM else (len(got) < len(messages)):
            data = conn.recv(65536)  # C: n = recv(c, buf, 65536, 0)
            if not data and type_ != socket.SOCK_DGRAM:
                break
            got.append(data)
        conn.setblocking(False)
        try:
            extra = conn.recv(65536)  # end of file (b"") on a stream; BlockingIOError if nothing queued
        except BlockingIOError:
            extra = None
        if extra:
            got.append(extra)
    return got


def reaping(mode="handler", n=3, start_method=None, timeout=20):
    """Run :func:`zombies_then_reaped` in a fresh worker process (its signal dispositions are its own)."""
    (out,) = procs.run(zombies_then_reaped, [(n, timeout / 2, mode)], start_method=start_method,
                       timeout=timeout, relay=False)
    return out


# The public names (at the end, so the line numbers that notebooks show with
# ipclab.presentation.glass.show stay put).
__all__ = ["PIPE_BUF", "private_dir", "make_fifo", "remove_path", "deadline", "fifo_reader",
           "read_until_eof", "write_with_shell", "fifo_rendezvous", "wait_in_fifo_open",
           "open_nonblocking", "fifo_echo_on_rdwr", "wrong_ends", "write_to_closed_pipe",
           "sigpipe_outcomes", "pipe_writer", "interleaving", "pipe_capacity", "sigterm_server", "listed",
           "stop_server", "zombies_then_reaped", "pgrp", "group_leader", "broadcast", "SOCKET_KINDS",
           "send_messages", "count_recvs", "reaping"]
