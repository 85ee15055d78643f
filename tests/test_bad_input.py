"""Wrong calls across ipclab's public API and the ipclab command, table-driven.

Each must fail fast with an ipclab error (or a usage error from the command) whose message
says what was wrong and what to do. None may hang (pytest-timeout) and none may leave an
object behind (the leak check around every test).
"""

import subprocess
import sys

import pytest

import workers
from ipclab import doctor, msgq, names, objects, procs, semset, shm
from ipclab.core.errors import BadArgument, IpclabError, LimitReached, ObjectGone


def _main_function():
    def f():
        return 1
    f.__module__ = "__main__"
    return f


def _key_in_use():
    with objects.sysv_msg() as q:
        objects.create_sysv_msg(key=q.key)


def _on_queue(action):
    def call():
        with msgq.queue(note="bad input") as q:
            action(q)
    return call


def _on_set(action, nsems=3):
    def call():
        with semset.create(nsems) as s:
            action(s)
    return call


def _removed_queue():
    with msgq.queue(note="bad input") as q:
        key = q.key
    msgq.attach(key)


def _removed_set():
    s = semset.create(2)
    s.remove()
    s.acquire(0, timeout=1)


def _ring(action):
    def call():
        with shm.RingBuffer.create(capacity=2, slot_size=8, tag="bad") as ring:
            action(ring)
    return call


# (id, call, expected error type, words the message must contain)
API_CASES = [
    ("shm size zero", lambda: objects.create_posix_shm(0), BadArgument, "positive"),
    ("shm size negative", lambda: objects.create_posix_shm(-4096), BadArgument, "positive"),
    ("shm size float", lambda: objects.create_posix_shm(1.5), BadArgument, "positive"),
    ("shm size bool", lambda: objects.create_posix_shm(True), BadArgument, "positive"),
    ("shm tag with slash", lambda: objects.create_posix_shm(64, tag="a/b"), BadArgument, "tag"),
    ("shm tag too long", lambda: objects.create_posix_shm(64, tag="x" * 40), BadArgument, "1-12"),
    ("sysv shm size zero", lambda: objects.create_sysv_shm(0), BadArgument, "positive"),
    ("posix sem negative", lambda: objects.create_posix_sem(-1), BadArgument, "SEM_VALUE_MAX"),
    ("posix sem too big", lambda: objects.create_posix_sem(2**40), BadArgument, "SEM_VALUE_MAX"),
    ("sysv sem negative", lambda: objects.create_sysv_sem(-1), BadArgument, "SEMVMX"),
    ("sysv sem over SEMVMX", lambda: objects.create_sysv_sem(10**6), BadArgument, "SEMVMX"),
    # down to -2**31 a negative key is a key_t with the high bit set (ftok with proj_id >= 128)
    ("sysv key below key_t", lambda: objects.create_sysv_msg(key=-2**31 - 1), BadArgument, "IPC_PRIVATE"),
    ("sysv key too big", lambda: objects.create_sysv_msg(key=2**32), BadArgument, "0xFFFFFFFF"),
    ("sysv key string", lambda: objects.create_sysv_sem(key="0x10"), BadArgument, "ftok"),
    ("sysv key in use", _key_in_use, BadArgument, "already used"),
    ("posix mq too many messages", lambda: objects.create_posix_mq(max_messages=10**6), LimitReached, "msg_max"),
    ("posix mq message too big", lambda: objects.create_posix_mq(max_message_size=10**9), LimitReached, "msgsize_max"),
    ("file size negative", lambda: objects.create_file(-1), BadArgument, ">= 0"),
    ("name without slash", lambda: names.check_posix_name("myshm"), BadArgument, "start with '/'"),
    ("name with two slashes", lambda: names.check_posix_name("/a/b"), BadArgument, "no other '/'"),
    ("name too long", lambda: names.check_posix_name("/" + "n" * 300), BadArgument, "shorten"),
    ("name empty", lambda: names.check_posix_name("/"), BadArgument, "at least one"),
    ("wrong start method", lambda: procs.run(workers.square, n=1, args=(2,), start_method="threads"), BadArgument, "fork"),
    ("zero workers", lambda: procs.run(workers.square, n=0), BadArgument, "n >= 1"),
    ("negative timeout", lambda: procs.run(workers.square, n=1, args=(2,), timeout=-1), BadArgument, "positive"),
    ("target not callable", lambda: procs.run("square", n=1), BadArgument, "function"),
    ("worker defined in the notebook", lambda: procs.run(_main_function(), n=1), BadArgument, "module"),
    ("args not tuples", lambda: procs.run(workers.square, [1, 2]), BadArgument, "tuples"),
    ("unknown doctor check", lambda: doctor.check("warp_drive"), BadArgument, "ipclab doctor"),
    ("message type zero", _on_queue(lambda q: msgq.send(q, b"x", type=0, timeout=1)), BadArgument, "mtype >= 1"),
    ("message type negative", _on_queue(lambda q: msgq.send(q, b"x", type=-3, timeout=1)), BadArgument, "mtype >= 1"),
    ("message over msgmax", _on_queue(lambda q: msgq.send(q, bytes(msgq.limits().msgmax + 1), timeout=1)),
     LimitReached, "send_framed"),
    ("message as str", _on_queue(lambda q: msgq.send(q, "text", timeout=1)), BadArgument, "encode"),
    ("receive filter not an int", _on_queue(lambda q: msgq.receive(q, type="3", timeout=1)), BadArgument, "lowest type"),
    ("message queue timeout None", _on_queue(lambda q: msgq.receive(q, timeout=None)), BadArgument, "positive"),
    ("removed message queue", _removed_queue, ObjectGone, "removed"),
    ("semaphore index out of range", _on_set(lambda s: s.acquire(3, timeout=1)), BadArgument, "0..2"),
    ("semaphore value over SEMVMX", _on_set(lambda s: s.setval(0, 10**6)), BadArgument, "SEMVMX"),
    ("semaphore set of zero", lambda: semset.create(0), BadArgument, "nsems >= 1"),
    ("more semaphores than SEMMSL", lambda: semset.create(semset.limits().semmsl + 1), LimitReached, "SEMMSL"),
    ("removed semaphore set", _removed_set, ObjectGone, "removed"),
    ("ftok project id zero", lambda: semset.ftok("/", 0), BadArgument, "proj_id"),
    ("ring record too big", _ring(lambda r: r.put(b"x" * 9, timeout=1)), BadArgument, "does not fit"),
    ("ring capacity zero", lambda: shm.RingBuffer.create(capacity=0), BadArgument, "capacity"),
    ("doctor require missing tool", lambda: doctor.require("no_such"), BadArgument, "ipclab doctor"),
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("call,error,words", [c[1:] for c in API_CASES], ids=[c[0] for c in API_CASES])
def test_wrong_api_call_is_explained(call, error, words):
    with pytest.raises(error) as info:
        call()
    assert isinstance(info.value, IpclabError)
    message = str(info.value)
    assert words in message and len(message) > 30, message


CLI_CASES = [
    ("no command", [], 2, "usage"),
    ("unknown command", ["frobnicate"], 2, "invalid choice"),
    ("unknown option", ["ls", "--bogus"], 2, "unrecognized arguments"),
    ("notebook that does not exist", ["notebooks", "no_such_notebook", "--check"], 1, "no notebook source matches"),
    ("lab that does not exist", ["grade", "lab42"], 1, "lab"),
    ("bench with a negative size", ["bench", "--sizes", "-64", "--latency", "", "--no-progress"], 1, "positive number of bytes"),
    ("bench with an unknown mechanism", ["bench", "--mechanisms", "carrier_pigeon", "--latency", ""], 1, "carrier_pigeon"),
    ("release into the checkout", ["release", "."], 1, "release"),
]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("argv,code,words", [c[1:] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES])
def test_wrong_command_is_a_usage_error(argv, code, words):
    res = subprocess.run([sys.executable, "-m", "ipclab", *argv], capture_output=True, text=True, timeout=100)
    assert res.returncode == code
    assert words in res.stdout + res.stderr
    assert "Traceback" not in res.stderr


def test_the_table_is_big_enough():
    assert len(API_CASES) + len(CLI_CASES) >= 30
