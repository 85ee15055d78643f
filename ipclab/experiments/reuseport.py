"""The modern way to share a port among worker processes: ``SO_REUSEPORT``, and no accept lock.

Lab 8 is Apache prefork's design: ONE listening socket inherited by every child, so the
children must take turns at ``accept()`` (the accept mutex). Since Linux 3.9 a server can
instead give each worker **its own** listening socket on the same address and port: every
socket sets ``SO_REUSEPORT`` before ``bind()`` (all of them, same uid), and the kernel picks
one socket per incoming connection (a hash of the connection's 4-tuple) and puts the
connection in *that* socket's accept queue (socket(7); the soreuseport series,
torvalds/linux commit c617f398). A worker waiting on its own socket competes with nobody,
so nothing is left for a lock to serialise, and nothing is inherited: workers can be
started with ``spawn``.

What it costs: the choice is made when the connection arrives, by a hash, not by who is
idle, so a connection hashed to a busy worker waits even while another worker idles, and a
worker that dies takes the connections queued on its socket with it.

:func:`run` starts the workers, proves from the kernel's own table (``/proc/net/tcp``) that
N sockets listen on one port, sends connections from this process and returns who served
what. Used by the optional part of ``labs/lab8_prefork.ipynb``; tested in
tests/test_reuseport.py.
"""

import os
import shutil
import socket
import tempfile
import time
from collections import Counter

from ipclab.core import procs

__all__ = ["listeners", "reuseport_socket", "worker", "run"]

POLL = 0.05          # seconds a worker's accept() waits before looking at the stop file again
CONN_TIMEOUT = 5.0   # seconds for one request (connect, send, reply)


def listeners(port):
    """How many sockets the kernel lists in state LISTEN on 127.0.0.1:*port* (``/proc/net/tcp``)."""
    want = f"0100007F:{port:04X}"
    n = 0
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            if fields[1] == want and fields[3] == "0A":  # local address, st (0A = TCP_LISTEN)
                n += 1
    return n


def reuseport_socket(port=0, listen=True):
    """A TCP socket on 127.0.0.1:*port* with SO_REUSEPORT set before bind(), listening if *listen*.

    C: ``s = socket(AF_INET, SOCK_STREAM, 0); setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &one,
    sizeof one); bind(s, ...); listen(s, 64)``.
    """
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        s.bind(("127.0.0.1", port))
        if listen:
            s.listen(64)
    except BaseException:
        s.close()
        raise
    return s


def worker(port, index, stop_path, lifetime=30.0):
    """A worker: its OWN listening socket on the shared port, no lock; serve until *stop_path* exists.

    Each request is one line ``"word\\n"``, answered ``"WORD index\\n"``. Returns how many
    connections this worker served.
    """
    sock = reuseport_socket(port)
    sock.settimeout(POLL)  # accept() gives up after POLL s, then the stop file is checked
    served = 0
    deadline = time.monotonic() + lifetime
    try:
        while not os.path.exists(stop_path):
            if time.monotonic() > deadline:
                raise TimeoutError(f"reuseport worker {index} still running after {lifetime} s")
            try:
                conn, _ = sock.accept()  # no accept lock: this queue is ours alone
            except (TimeoutError, BlockingIOError):
                continue
            with conn:
                conn.settimeout(CONN_TIMEOUT)
                data = b""
                try:
                    while not data.endswith(b"\n") and len(data) < 256:
                        chunk = conn.recv(256)
                        if not chunk:
                            break
                        data += chunk
                    conn.sendall(f"{data.decode().strip().upper()} {index}\n".encode())
                    served += 1
                except OSError:
                    pass
    finally:
        sock.close()
    return served


def _ask(port, word):
    with socket.create_connection(("127.0.0.1", port), timeout=CONN_TIMEOUT) as s:
        s.sendall(f"{word}\n".encode())
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(256)
            if not chunk:
                break
            data += chunk
    word, index = data.decode().split()
    return word, int(index)


def run(n_workers=3, n_connections=60, start_method="spawn", timeout=30.0):
    """Start *n_workers* SO_REUSEPORT workers, send *n_connections*, stop them; what happened.

    Returns a dict: ``port``; ``listening`` (the LISTEN sockets the kernel showed on the
    port once all workers were up); ``replies`` (connections answered correctly); ``by_worker``
    (replies per worker index, as the clients saw them); ``served`` (what each worker says it
    served); ``start_method``.
    """
    # the master reserves a port: bound with SO_REUSEPORT but not listening, so it receives
    # no connection; the workers bind the same port (same uid, same option) and listen
    holder = reuseport_socket(0, listen=False)
    port = holder.getsockname()[1]
    tmp = tempfile.mkdtemp(prefix="ipclab-reuseport-")
    stop_path = os.path.join(tmp, "stop")
    group = None
    try:
        group = procs.start(worker, [(port, i, stop_path, timeout) for i in range(n_workers)],
                            start_method=start_method, timeout=timeout, relay=False)
        deadline = time.monotonic() + timeout
        while listeners(port) < n_workers:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{n_workers} workers did not all listen on port {port} within {timeout} s")
            time.sleep(0.01)
        listening = listeners(port)
        holder.close()
        replies = [_ask(port, f"w{k}") for k in range(n_connections)]
        good = [(w, i) for k, (w, i) in enumerate(replies) if w == f"W{k}" and 0 <= i < n_workers]
        open(stop_path, "w").close()
        served = group.join()
    finally:
        holder.close()
        if group is not None:
            group.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    counts = Counter(i for _w, i in good)
    return {"port": port, "listening": listening, "replies": len(good), "connections": n_connections,
            "by_worker": [counts.get(i, 0) for i in range(n_workers)], "served": served,
            "start_method": start_method}
