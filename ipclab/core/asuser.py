"""Run a function as *another user*, honestly: the permission demos need a second identity.

A mode such as 0600 or 0666 only means something when a process of another user tries
the object. The kernel decides from the process's credentials (its uid and gids as the
initial user namespace sees them), so the demo must make a process whose credentials
really are another user's. Two honest ways exist:

* **as root**: a child drops to the dedicated unprivileged user ``nobody`` (uid 65534)
  with ``setgroups``/``setgid``/``setuid`` (setuid(2));
* **as an ordinary user with subordinate ids**, as rootless containers do: the child
  enters a new user namespace (``unshare(CLONE_NEWUSER)``), a helper outside it runs the
  setuid programs ``newuidmap``/``newgidmap`` (package ``uidmap``) to map one of the
  user's subordinate ids from ``/etc/subuid`` and ``/etc/subgid`` into it, and the child
  becomes that id. To the kernel it is then uid 100000 (say), not you: a 0600 object of
  yours is refused to it exactly as to a stranger (user_namespaces(7), newuidmap(1),
  subuid(5)).

Where neither is possible (no root, no ``uidmap``, no range in ``/etc/subuid``, or user
namespaces forbidden, as in Docker's default seccomp profile), :func:`other_user` raises
:class:`~ipclab.core.errors.NotSupported` with the reason in words a student understands.

Defined in :mod:`ipclab.core.asuser`; used by the permission demos of notebooks 00 and 01.
"""

import ctypes
import functools
import os
import pwd
import shutil
import signal
import subprocess
from dataclasses import dataclass

from ipclab.core import procs
from ipclab.core.errors import NotSupported

__all__ = ["OtherUser", "other_user", "run_as_other", "subid_range", "userns_plan"]

CLONE_NEWUSER = 0x10000000
_PR_SET_PDEATHSIG = 1
_INNER = 1            # the other user's id inside the namespace (0 is the caller)
ROOT_TARGET = "nobody"


@dataclass(frozen=True)
class OtherUser:
    """Who "the other user" is on this machine and how a child becomes it."""
    method: str        # "setuid" (as root) or "userns" (subordinate ids)
    uid: int           # the other user's uid as the kernel sees it
    gid: int           # its own group (a group we are not in)
    our_gid: int       # our group, for the "same group" case
    how: str           # one sentence for the student
    helpers: tuple = ()  # newuidmap, newgidmap (userns only)

    def __str__(self):
        return self.how


def subid_range(path, user, uid):
    """``(start, count)`` of the first range of *user* (name or uid) in /etc/subuid or /etc/subgid."""
    try:
        with open(path) as f:
            for line in f:
                parts = line.strip().split(":")
                if len(parts) == 3 and parts[0] in (user, str(uid)) and int(parts[2]) >= 1:
                    return int(parts[1]), int(parts[2])
    except (OSError, ValueError):
        pass
    return None


def _as_root():
    try:
        pw = pwd.getpwnam(ROOT_TARGET)
        uid, gid = pw.pw_uid, pw.pw_gid
    except KeyError:
        uid = gid = 65534
    return OtherUser("setuid", uid, gid, os.getgid(),
                     f"as root: a child drops to user {ROOT_TARGET} (uid {uid}) with setuid()")


def userns_plan(subuid="/etc/subuid", subgid="/etc/subgid", path=None):
    """The user-namespace way from files and PATH only; NotSupported says what is missing.

    *path* is where to look for newuidmap/newgidmap (default: PATH, then /usr/bin).
    """
    uid = os.getuid()
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = str(uid)
    helpers = [_helper(h, path) for h in ("newuidmap", "newgidmap")]
    if not all(helpers):
        raise NotSupported(
            "another user is needed, and you are not root. An ordinary user can borrow one of "
            "its subordinate uids (as rootless containers do), but newuidmap/newgidmap are not "
            "installed here (Debian/Ubuntu: sudo apt-get install uidmap).")
    sub_u = subid_range(subuid, user, uid)
    sub_g = subid_range(subgid, user, uid)
    if not (sub_u and sub_g):
        raise NotSupported(
            f"another user is needed, and you are not root. An ordinary user can borrow one of "
            f"its subordinate uids, but user {user} has no range in {subuid} and {subgid} "
            f"(an administrator adds one with: sudo usermod --add-subuids 100000-165535 "
            f"--add-subgids 100000-165535 {user}).")
    return OtherUser("userns", sub_u[0], sub_g[0], os.getgid(),
                     f"as an ordinary user: a child enters a user namespace where newuidmap maps "
                     f"your subordinate uid {sub_u[0]} (from {subuid}) and becomes it",
                     helpers=tuple(helpers))


def _helper(name, path=None):
    if path is not None:
        return shutil.which(name, path=path)
    return shutil.which(name) or shutil.which(name, path="/usr/bin")


@functools.lru_cache(maxsize=None)
def other_user():
    """The other user this machine offers; NotSupported (with the reason) when there is none.

    For a non-root user the way is tried once for real (a child enters a user namespace
    and reports its uid), because files on disk cannot tell whether the kernel or a
    container allows user namespaces.
    """
    if os.geteuid() == 0:
        return _as_root()
    other = userns_plan()
    try:
        seen = procs.run(_in_other, [(other, False, os.getuid, ())], start_method="fork", timeout=30)[0]
    except Exception as exc:  # noqa: BLE001 - any failure of the probe is the reason we report
        raise NotSupported(
            "another user is needed, and you are not root. Borrowing a subordinate uid in a user "
            f"namespace failed here ({_first_line(exc)}); containers and some distributions forbid "
            "user namespaces to ordinary users.") from None
    if seen == os.getuid():
        raise NotSupported("the user namespace child still had your uid; the demo would prove nothing")
    return other


def _first_line(exc):
    text = str(exc).strip().splitlines()
    return text[-1] if text else type(exc).__name__


def run_as_other(func, args=(), *, same_group=False, timeout=30):
    """Run ``func(*args)`` in a child that is the other user; return its result.

    *same_group*: the child keeps our group as its only group (a member of our group who
    is not us), instead of a group of its own. *func* must live in a module (it runs in a
    worker process under :func:`ipclab.core.procs.run`).
    """
    other = other_user()
    return procs.run(_in_other, [(other, same_group, func, tuple(args))],
                     start_method="fork", timeout=timeout)[0]


def _in_other(other, same_group, func, args):
    """Worker: become *other*, then run *func*."""
    if other.method == "setuid":
        _drop_to(other.uid, other.our_gid if same_group else other.gid)
    else:
        _enter_userns(other)
        _drop_to(_INNER, 0 if same_group else _INNER)
    _die_with_parent()  # a change of credentials clears PR_SET_PDEATHSIG (prctl(2)): set it again
    return func(*args)


def _drop_to(uid, gid):
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)  # C: setresuid(uid, uid, uid): from here on we are that user


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def _die_with_parent():
    _libc().prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _enter_userns(other):
    """unshare(CLONE_NEWUSER); a helper outside maps 0 -> us and 1 -> the subordinate ids."""
    me, uid, gid = os.getpid(), os.getuid(), os.getgid()
    go_r, go_w = os.pipe()
    res_r, res_w = os.pipe()
    helper = os.fork()
    if helper == 0:  # stays in our namespace: newuidmap must run from outside the new one
        os.close(go_w)
        os.close(res_r)
        if os.read(go_r, 1) != b"x":  # the unshare failed: nothing to map
            os._exit(0)
        msg = b"ok"
        try:
            newuidmap, newgidmap = other.helpers
            for cmd in ([newuidmap, str(me), "0", str(uid), "1", str(_INNER), str(other.uid), "1"],
                        [newgidmap, str(me), "0", str(gid), "1", str(_INNER), str(other.gid), "1"]):
                p = subprocess.run(cmd, capture_output=True, timeout=10)
                if p.returncode:
                    msg = (os.path.basename(cmd[0]) + ": " + (p.stderr or p.stdout).decode(errors="replace")).encode()
                    break
        except Exception as exc:  # noqa: BLE001 - reported to the worker, which raises
            msg = str(exc).encode()
        os.write(res_w, msg[:500])
        os._exit(0)
    os.close(go_r)
    os.close(res_w)
    failed = _libc().unshare(ctypes.c_int(CLONE_NEWUSER))  # C: unshare(CLONE_NEWUSER)
    err = ctypes.get_errno()
    os.write(go_w, b"-" if failed else b"x")
    os.close(go_w)
    msg = os.read(res_r, 600)
    os.close(res_r)
    os.waitpid(helper, 0)
    if failed:
        raise OSError(err, f"unshare(CLONE_NEWUSER): {os.strerror(err)}")
    if msg != b"ok":
        raise OSError(f"mapping a subordinate uid failed: {msg.decode(errors='replace').strip()}")
