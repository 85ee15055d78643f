"""Lab 8's optional part: SO_REUSEPORT gives each worker its own listening socket, and the accept lock goes.

Real processes under every start method (nothing is inherited, so spawn works too); the
kernel's own table (/proc/net/tcp) shows one LISTEN socket per worker on the one port.
"""

import os
import socket

import pytest

from ipclab.experiments import reuseport


@pytest.mark.parametrize("start_method", ["fork", "forkserver", "spawn"])
def test_each_worker_listens_on_its_own_socket_and_every_connection_is_served(start_method):
    out = reuseport.run(n_workers=3, n_connections=45, start_method=start_method, timeout=60)
    assert out["listening"] == 3, out            # three sockets in LISTEN on one port, seen by the kernel
    assert out["replies"] == 45, out             # every connection answered, by a valid worker index
    assert out["by_worker"] == out["served"], out  # what clients saw == what each worker counted
    assert sum(out["served"]) == 45
    assert reuseport.listeners(out["port"]) == 0  # all gone afterwards


def test_without_so_reuseport_a_second_listener_cannot_bind():
    """Why the option matters: the lab's model has ONE listening socket, a second bind fails."""
    first = socket.socket()
    first.bind(("127.0.0.1", 0))
    first.listen(1)
    try:
        port = first.getsockname()[1]
        second = socket.socket()
        try:
            with pytest.raises(OSError) as e:
                second.bind(("127.0.0.1", port))
            assert e.value.errno == 98  # EADDRINUSE
        finally:
            second.close()
        assert reuseport.listeners(port) == 1
    finally:
        first.close()


def test_a_process_of_another_uid_cannot_join_the_group():
    """socket(7): every socket bound with SO_REUSEPORT to one address must have the same effective uid."""
    if os.geteuid() != 0:
        pytest.skip("needs root to become another uid")
    s = reuseport.reuseport_socket(0)
    try:
        port = s.getsockname()[1]
        pid = os.fork()
        if pid == 0:  # pragma: no cover - child
            code = 1
            try:
                os.setgid(65534)
                os.setuid(65534)
                try:
                    reuseport.reuseport_socket(port).close()
                except OSError as e:
                    code = 0 if e.errno == 98 else 2
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        s.close()
