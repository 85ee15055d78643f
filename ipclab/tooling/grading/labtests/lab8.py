"""Visible tests of lab 8: Apache prefork accept serialisation (a pre-forked server, an accept lock, statistics in shared memory)."""

import contextlib
import os
import signal
import socket
import time
from collections import Counter

from ipclab.core import errors, inventory, procs
from ipclab.tooling.grading import labkit
from ipclab.tooling.grading.labkit import expect, expect_equal, expect_list, student

LAB = "lab8"
TITLE = "Apache prefork accept serialisation: a pre-forked server, an accept lock, shared statistics"
MODULE = "lab8_prefork"
HIDDEN = 2
LIFETIME = 40
CLIENT_TIMEOUT = 5.0   # seconds a client waits for connect, send and reply


# -- clients and saboteurs (module level: importable) -----------------------------------

def ask(address, word, ms=0, timeout=CLIENT_TIMEOUT):
    """One request on its own connection: (WORD, worker index), or a string saying what went wrong."""
    try:
        with socket.create_connection(address, timeout=timeout) as s:  # C: socket + connect
            s.sendall(f"{word} {ms}\n".encode())
            data = b""
            while not data.endswith(b"\n"):
                chunk = s.recv(1024)
                if not chunk:
                    break
                data += chunk
    except OSError as e:
        return f"no reply ({type(e).__name__}: {e})"
    parts = data.decode(errors="replace").split()
    if len(parts) != 2 or not parts[1].isdigit():
        return f"bad reply {data!r}"
    return parts[0], int(parts[1])


def client(address, requests):
    """Ask each (word, ms) in turn; the replies."""
    return [ask(address, w, ms) for w, ms in requests]


def watch_stats(handle, seconds):
    """Read the statistics again and again for *seconds*; the snapshots where total != sum(served)."""
    shared = student().Shared.attach(handle)
    bad, n = [], 0
    end = time.monotonic() + seconds
    try:
        while time.monotonic() < end:
            total, served = shared.stats()
            n += 1
            if total != sum(served):
                bad.append((total, served))
    finally:
        shared.close()
    return n, bad[:5]


def hold_accept_lock_and_die(handle):
    """Take the accept lock with the student's code, then be killed while holding it."""
    student().Shared.attach(handle).acquire_accept(timeout=10)
    labkit.kill_student()  # the process that holds the accept lock dies (and is reaped) first
    os.kill(os.getpid(), signal.SIGKILL)


# -- helpers ------------------------------------------------------------------------------

def requests_for(rng, n, ms=(0, 10)):
    return [(labkit.random_tag(rng, rng.randint(3, 9)), rng.randint(*ms)) for _ in range(n)]


@contextlib.contextmanager
def server_of(lab, n_workers):
    """A running server for one test; on a failure its workers are killed and its objects removed."""
    srv = lab.Server.create(n_workers, lifetime=LIFETIME)
    expect(srv is not None, "Server.create() returned None: return cls(...)")
    try:
        yield srv
    except BaseException:
        with contextlib.suppress(Exception):
            srv.group.kill()
        with contextlib.suppress(Exception):
            srv.sock.close()
        with contextlib.suppress(Exception):
            srv.shared.destroy()
        raise


def run_clients(srv, rng, n_clients, per_client, ms=(0, 10)):
    """Client processes; returns (requests, replies) flattened, after checking every reply."""
    reqs = [requests_for(rng, per_client, ms) for _ in range(n_clients)]
    replies = procs.run(client, [(srv.address, r) for r in reqs], start_method="fork", timeout=30, relay=False)
    flat_req = [w for r in reqs for w, _ in r]
    flat_rep = [x for r in replies for x in r]
    n = len(srv.group.children)
    shown = [x[0] if isinstance(x, tuple) and 0 <= x[1] < n else x for x in flat_rep]
    expect_list([w.upper() for w in flat_req], shown, "replies to the clients' requests (WORD, in order)")
    return flat_req, flat_rep


def check_stats(srv, replies, what):
    """The counters in shared memory against the replies the clients got.

    A worker counts a request just after replying: give the last counts a moment to land.
    """
    deadline = time.monotonic() + 3
    total, served = srv.stats()
    while total < len(replies) and time.monotonic() < deadline:
        time.sleep(0.05)
        total, served = srv.stats()
    by_worker = Counter(i for _, i in replies)
    want = [by_worker.get(i, 0) for i in range(len(srv.group.children))]
    expect_equal(len(replies), total, f"{what}: total in shared memory (requests answered)")
    expect_list(want, served, f"{what}: served[i] in shared memory (replies that came from worker i)")
    return served


def demo(lab, seed=8, n_workers=3):
    """The brief's picture: served[i] after 5 clients x 8 requests."""
    import random
    rng = random.Random(seed)
    labkit.use_student(lab)
    with server_of(lab, n_workers) as srv:
        try:
            run_clients(srv, rng, 5, 8, (5, 20))
            return srv.stats()
        finally:
            srv.stop()


# -- the tests ----------------------------------------------------------------------------

@labkit.test("one worker: every request answered, the counters count them", points=1, timeout=30,
             hint="the worker loops: acquire_accept, accept, release_accept, serve_connection, count(index); "
                  "count() adds 1 to total and to served[index] in the segment.")
def one_worker(lab, rng):
    with server_of(lab, 1) as srv:
        _, replies = run_clients(srv, rng, 1, rng.randint(3, 6))
        check_stats(srv, replies, "after one client")
        ran = srv.stop()
    expect_equal([len(replies)], ran, "what stop() returned (requests served per worker)")


@labkit.test("3-4 workers, 4-6 client processes: all answered, statistics add up", points=3, timeout=45,
             hint="total and served[i] are updated together under the STATS lock; stats() reads them under "
                  "it too, so total == sum(served) always.")
def many_clients(lab, rng):
    n = rng.randint(3, 4)
    with server_of(lab, n) as srv:
        _, replies = run_clients(srv, rng, rng.randint(4, 6), rng.randint(5, 8), (5, 20))
        served = check_stats(srv, replies, "after all clients")
        ran = srv.stop()
    expect_equal(served, ran, "what stop() returned (requests served per worker)")
    busy = sum(1 for s in served if s)
    expect(busy >= 2, f"only {busy} of {n} workers served requests", f"BAD      served {served}",
           "         do all workers loop on the same (inherited) listening socket?")


@labkit.test("workers accept only while holding the accept lock", points=1, timeout=30,
             hint="call acquire_accept() before sock.accept(); a worker that accepts without the lock "
                  "answers even while someone else holds it.")
def accept_lock_respected(lab, rng):
    word = labkit.random_tag(rng, 7)
    with server_of(lab, 2) as srv:
        expect_equal((word.upper(),), ask(srv.address, word)[:1], "reply to a first request")
        srv.shared.acquire_accept(timeout=10)
        with socket.create_connection(srv.address, timeout=CLIENT_TIMEOUT) as s:
            s.sendall(f"{word} 0\n".encode())
            s.settimeout(0.7)
            try:
                early = s.recv(1024)
            except TimeoutError:
                early = None
            srv.shared.release_accept()
            s.settimeout(CLIENT_TIMEOUT)
            late = s.recv(1024) if early is None else b""
        expect(early is None, "a request was answered while the test held the accept lock",
               f"BAD      reply {early!r} came in while no worker could hold the lock")
        expect(late.split()[:1] == [word.upper().encode()], "no reply once the accept lock was given back",
               f"BAD      got {late!r}")
        srv.stop()


@labkit.test("the lock is released before serving: a slow client does not block the others", points=2,
             timeout=30, hint="release_accept() right after accept() returns, before serve_connection(): "
                              "holding it while serving makes every other worker wait for the slowest client.")
def release_before_serving(lab, rng):
    slow_word = labkit.random_tag(rng, 6)
    with server_of(lab, 2) as srv:
        with socket.create_connection(srv.address, timeout=CLIENT_TIMEOUT) as slow:
            slow.sendall(slow_word.encode())  # half a request: a worker now waits for the rest
            quick = [labkit.random_tag(rng, 5) for _ in range(3)]
            got = [ask(srv.address, w, 0, timeout=3) for w in quick]
            slow.sendall(b" 0\n")
            slow.settimeout(CLIENT_TIMEOUT)
            rest = slow.recv(1024)
        shown = [x[0] if isinstance(x, tuple) else x for x in got]
        expect_list([w.upper() for w in quick], shown, "replies to 3 quick requests while a slow client was half-way")
        expect(rest.split()[:1] == [slow_word.upper().encode()], "the slow client got no reply at the end",
               f"BAD      got {rest!r}")
        srv.stop()


@labkit.test("a worker killed, and a lock holder killed: the others keep serving (SEM_UNDO)", points=2,
             timeout=45, hint="acquire_accept/release_accept/count use undo=True (SEM_UNDO): the kernel gives "
                              "back the lock of a process that dies holding it. stop() must accept dead workers.")
def killed_worker(lab, rng):
    n = 3
    with server_of(lab, n) as srv:
        _, before = run_clients(srv, rng, 2, 4)
        procs.start(hold_accept_lock_and_die, [(srv.shared.handle,)], start_method="fork", timeout=20,
                    relay=False).join(fail_fast=False, raise_errors=False)
        first = ask(srv.address, "after")
        expect(isinstance(first, tuple), "no worker accepts any more after a process died holding the accept lock",
               f"BAD      {first}", "         without SEM_UNDO the lock it took is never given back")
        victim = srv.group.children[rng.randrange(n)]
        os.kill(victim.process.pid, signal.SIGKILL)
        victim.process.join(5)
        _, after = run_clients(srv, rng, 3, 5)
        stray = [i for _, i in after if i == victim.index]
        expect(not stray, f"worker {victim.index} was killed, yet {len(stray)} replies came from it")
        check_stats(srv, before + [first] + after, "after the kills")
        try:
            ran = srv.stop()
        except errors.ChildError as e:
            raise labkit.Fail(f"stop() raised because a worker had been killed: {str(e).splitlines()[0][:120]}",
                              ["         a dead worker is not an error here: join(fail_fast=False, raise_errors=False)"]) from None
    expect(isinstance(ran, list) and len(ran) == n and ran[victim.index] is None,
           "stop() must return None for the killed worker", f"BAD      {ran!r}")


@labkit.test("stop(): workers exit 0, the port is closed, no process or IPC object left", points=1,
             timeout=30, hint="set the stop flag; workers see it between two accepts (POLL); join them; close "
                              "the socket; destroy() removes the segment and the semaphore set.")
def clean_stop(lab, rng):
    n = rng.randint(2, 4)
    with server_of(lab, n) as srv:
        run_clients(srv, rng, 2, 3)
        semid, seg = srv.shared.handle
        address = srv.address
        srv.stop()
    expect_equal([0] * n, [c.process.exitcode for c in srv.group.children], "exit codes of the workers")
    reply = ask(address, "late", timeout=2)
    expect(isinstance(reply, str) and "Refused" in reply, "the port still answers after stop()",
           f"BAD      {reply!r}", "         close the listening socket in the master (the workers' copies "
           "close when they exit)")
    expect(inventory.sysv_row("sem", semid) is None, "the semaphore set still exists after stop()")
    expect(not os.path.exists("/dev/shm" + seg), f"the segment {seg} still exists after stop()")
