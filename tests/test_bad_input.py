"""Wrong calls across ipclab's public API and the ipclab command, table-driven.

Each must fail fast with an ipclab error (or a usage error from the command) whose message
says what was wrong and what to do. None may hang (pytest-timeout) and none may leave an
object behind (the leak check around every test).
"""

import subprocess
import sys

import pytest

import workers
from ipclab import doctor, names, objects, procs
from ipclab.errors import BadArgument, IpclabError, LimitReached


def _main_function():
    def f():
        return 1
    f.__module__ = "__main__"
    return f


def _key_in_use():
    with objects.sysv_msg() as q:
        objects.create_sysv_msg(key=q.key)


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
    ("sysv key negative", lambda: objects.create_sysv_msg(key=-5), BadArgument, "IPC_PRIVATE"),
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
