"""Unique per-user, per-run names for POSIX objects and keys for System V objects.

Why: on a shared JupyterHub forty students run the same cells at once. A name such as
``/my_sem`` (the chapter's example) would collide; ours carry the user id, the run id
and a random suffix, e.g. ``/ipl1000-3fa2b1c9-ring-a41f0c2e``. System V keys cannot carry a
user id (32 bits, shared by everyone), so they are random in a course range and created
with ``IPC_CREAT | IPC_EXCL``: a collision is detected by the kernel and retried.
"""

import os
import re
import secrets

from ipclab.core.errors import BadArgument

__all__ = ["PREFIX", "KEY_BASE", "KEY_SPAN", "NAME_MAX", "new_run_id", "posix_name", "parse_course_name",
           "sysv_key", "is_course_key", "check_posix_name", "check_sysv_key"]

PREFIX = "ipl"
#: System V keys the course picks lie in [KEY_BASE, KEY_BASE + KEY_SPAN): positive, below
#: 0x80000000 so sysv_ipc never shows them as negative numbers, and easy to spot in ``ipcs``.
KEY_BASE = 0x1C000000
KEY_SPAN = 0x01000000
NAME_MAX = 255 - len("sem.")  # Linux: a POSIX semaphore lives in /dev/shm/sem.NAME

_TAG = re.compile(r"[A-Za-z0-9_]{1,12}$")
_COURSE_NAME = re.compile(r"^/?%s(?P<uid>\d+)-(?P<run>[0-9a-f]{8})-(?P<tag>[A-Za-z0-9_]+)-[0-9a-f]{6,8}$" % PREFIX)


def new_run_id():
    """Eight hex digits naming one run (one kernel, one test session, one CLI call)."""
    return secrets.token_hex(4)


def posix_name(tag, run_id):
    """A fresh POSIX IPC name: leading slash, user id, run id, tag, random suffix."""
    if not isinstance(tag, str) or not _TAG.match(tag):
        raise BadArgument(f"tag {tag!r} must be 1-12 letters, digits or '_' (it becomes part of "
                          "a POSIX name such as /ipl1000-3fa2b1c9-TAG-a41f0c)")
    return f"/{PREFIX}{os.getuid()}-{run_id}-{tag}-{secrets.token_hex(4)}"


def parse_course_name(name):
    """``(uid, run_id, tag)`` if *name* is one of ours (with or without '/'), else ``None``."""
    m = _COURSE_NAME.match(name)
    return (int(m["uid"]), m["run"], m["tag"]) if m else None


def sysv_key():
    """A random System V key in the course range; create it with IPC_CREX and retry on EEXIST."""
    return KEY_BASE + secrets.randbelow(KEY_SPAN)


def is_course_key(key):
    """True if *key* lies in the range the course draws its System V keys from."""
    return KEY_BASE <= (key & 0xFFFFFFFF) < KEY_BASE + KEY_SPAN


def check_posix_name(name):
    """Validate a user-supplied POSIX name; the error says what a valid one looks like."""
    if not isinstance(name, str) or not name.startswith("/"):
        raise BadArgument(f"POSIX IPC name {name!r} must start with '/', e.g. '/my_shm' "
                          "(shm_open(3): the name is '/' followed by up to 250 characters)")
    if "/" in name[1:] or len(name) < 2:
        raise BadArgument(f"POSIX IPC name {name!r} must be '/' then at least one character, "
                          "with no other '/'")
    if len(name) - 1 > NAME_MAX:
        raise BadArgument(f"POSIX IPC name is {len(name) - 1} characters long; the limit is "
                          f"{NAME_MAX} (NAME_MAX less 'sem.'): shorten it")
    return name


def check_sysv_key(key):
    """Validate a System V key and return it unsigned: an int in [0, 2**32); 0 is IPC_PRIVATE.

    A negative key down to -2**31 is accepted as the same key_t: sysv_ipc.ftok() returns one
    whenever proj_id >= 128 sets the high bit.
    """
    if not isinstance(key, int) or isinstance(key, bool) or not -2**31 <= key < 2**32:
        raise BadArgument(f"System V key {key!r} must be an integer from 0 (IPC_PRIVATE) to "
                          "0xFFFFFFFF; use ipclab.core.names.sysv_key() or ftok() to get one")
    return key & 0xFFFFFFFF
