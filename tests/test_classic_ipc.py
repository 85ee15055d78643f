"""Notebook 08's mechanisms on real processes: FIFOs, pipes, signals, sockets (issue 19, point 6).

Only what the kernel guarantees is asserted (fifo(7), pipe(7), signal(7), wait(2), socket(7),
udp(7), unix(7)); what may vary (do large pipe writes interleave? does TCP coalesce?) is
measured in the notebook, never asserted here.
"""

import os
import signal
import stat
from pathlib import Path

import pytest

from ipclab.experiments import classic_ipc as ci


@pytest.fixture
def fifo():
    with ci.private_dir() as d:
        assert stat.S_IMODE(os.stat(d).st_mode) == 0o700
        path = ci.make_fifo(d)
        yield path
        ci.remove_path(path)
    assert not Path(d).exists()


@pytest.mark.parametrize("start_method", ["fork", "forkserver", "spawn"])
def test_fifo_open_blocks_until_an_unrelated_writer_opens(fifo, start_method):
    out = ci.fifo_rendezvous(fifo, delay=0.3, start_method=start_method)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and stat.S_IMODE(os.stat(fifo).st_mode) == 0o600
    assert out["reader_blocked_in"] in ("wait_for_partner", None)
    assert out["t_reader_open_returned"] >= out["t_writer_started"]  # open() returned only after the writer came
    assert out["t_reader_open_returned"] - out["t_reader_called_open"] >= 0.3
    assert out["data"] == b"hello through a FIFO"


def test_fifo_open_without_a_writer_times_out(fifo):
    t0, t1, data = ci.fifo_reader(fifo, 0.2)
    assert t1 is None and data == b""


def test_fifo_nonblocking_open_for_write_without_reader_is_enxio(fifo):
    assert ci.open_nonblocking(fifo, os.O_WRONLY) == "ENXIO"
    assert ci.open_nonblocking(fifo, os.O_RDONLY) == "ok"  # fifo(7): a nonblocking reader opens at once


def test_a_fifo_is_one_channel(fifo):
    assert ci.fifo_echo_on_rdwr(fifo, b"question?") == b"question?"


def test_pipe_ends_are_one_way():
    assert ci.wrong_ends() == {"write(read end)": "EBADF", "read(write end)": "EBADF"}


def test_writer_without_reader_gets_sigpipe_or_epipe():
    out = ci.sigpipe_outcomes()
    assert out == {"SIG_DFL": ("killed", "SIGPIPE"), "SIG_IGN": ("ok", "EPIPE")}


@pytest.mark.parametrize("size", [1, 512, ci.PIPE_BUF])
def test_writes_up_to_pipe_buf_never_interleave(size):
    out = ci.interleaving(size, writers=4, count=32)
    assert out["read_bytes"] == out["expected_bytes"]
    assert out["records"] == 4 * 32 and out["torn"] == 0


def test_large_writes_are_all_delivered():
    out = ci.interleaving(4 * ci.pipe_capacity(), writers=3, count=4)
    assert out["read_bytes"] == out["expected_bytes"]  # how many are torn is measured, not asserted


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_sigterm_handler_removes_its_objects(start_method):
    out = ci.stop_server(signal.SIGTERM, start_method=start_method)
    assert out["before"] == {"posix_shm": True, "sysv_msg": True}
    assert out["after_death"] == {"posix_shm": False, "sysv_msg": False}  # removed by the handler itself
    assert out["outcome"][0] == "ok" and out["outcome"][1]["signal"] == "SIGTERM"
    assert out["exitcode"] == 0


def test_sigkill_runs_no_handler_and_the_registry_cleans_up():
    out = ci.stop_server(signal.SIGKILL)
    assert out["after_death"] == {"posix_shm": True, "sysv_msg": True}
    assert out["after_cleanup"] == {"posix_shm": False, "sysv_msg": False}
    assert out["outcome"] == ("killed", "SIGKILL")


def test_sigchld_handler_reaps_every_zombie():
    out = ci.reaping("handler", n=3)
    assert out["before"] == ["Z"] * 3
    assert out["after"] == ["gone"] * 6 and out["reaped"] == 6


def test_sigchld_ignored_means_no_new_zombies():
    out = ci.reaping("ignore", n=2)
    assert out["before"] == ["Z"] * 2
    assert out["new_children"] == ["gone"] * 2


def test_kill_minus_pgid_reaches_every_member_and_only_them():
    out = ci.broadcast(n=3)
    assert out["pgid"] != out["our_pgid"]
    assert out["groups_seen"]["leader"] == out["pgid"]
    assert out["groups_seen"]["members"] == [out["pgid"]] * 3
    assert out["groups_seen"]["outsider"] != out["pgid"]
    assert out["leader_got"] == ["SIGTERM"]
    assert out["members"] == ["killed by SIGTERM"] * 3
    assert out["outsider_still_running"] is True


@pytest.mark.parametrize("kind", ["udp", "unix_dgram", "unix_seqpacket"])
def test_datagram_sockets_keep_message_boundaries(kind):
    assert ci.count_recvs(kind, [b"one", b"two", b"three"]) == [b"one", b"two", b"three"]


@pytest.mark.parametrize("kind", ["tcp", "unix_stream"])
def test_stream_sockets_deliver_the_bytes_in_order(kind):
    got = ci.count_recvs(kind, [b"one", b"two", b"three"])
    assert b"".join(got) == b"onetwothree"  # the number of recv() calls is not guaranteed
    assert all(got)


def test_unix_socket_file_lives_in_the_private_dir_and_is_removed():
    with ci.private_dir() as d:
        ci.count_recvs("unix_stream", directory=d)
        assert list(Path(d).iterdir()) == []


def test_private_dirs_of_dead_processes_are_swept(tmp_path, monkeypatch):
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = tmp_path / f"ipclab-ipc-{os.getuid()}-999999999-1-x"
    dead.mkdir()
    with ci.private_dir() as d:
        assert Path(d).parent == tmp_path
    assert not dead.exists()
