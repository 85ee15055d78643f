"""Worker functions for the core tests: importable, so every start method can run them."""

import os
import signal
import sys
import time

from ipclab import objects


def square(x):
    return x * x


def chatty(n):
    print(f"hello {n}")
    print(f"oops {n}", file=sys.stderr)
    return n


def boom(message):
    raise ValueError(message)


def sleeper(seconds, pidfile=None):
    if pidfile:
        with open(pidfile, "a") as f:
            f.write(f"{os.getpid()}\n")
    time.sleep(seconds)


def suicide():
    print("about to die", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


def create_and_crash(kind):
    """Create a registered object, then die without removing it."""
    if kind == "posix_shm":
        objects.create_posix_shm(4096, tag="crash")
    elif kind == "sysv_sem":
        objects.create_sysv_sem(1)
    elif kind == "sysv_msg":
        objects.create_sysv_msg()
    os.kill(os.getpid(), signal.SIGKILL)


def spawn_grandchild_and_hang(pidfile):
    pid = os.fork()
    if pid == 0:
        time.sleep(600)
        os._exit(0)
    with open(pidfile, "w") as f:
        f.write(str(pid))
    time.sleep(600)


def unpicklable():
    return lambda: None


def whoami():
    from ipclab.core.procs import current_worker
    return current_worker()
