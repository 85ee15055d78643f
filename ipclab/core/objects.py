"""Create the course's IPC objects safely: unique name, mode 0600, registered, removed.

Every demo, lab and test creates its kernel objects through these context managers, so a
cell interrupted half-way, a crashed child or a failed assertion still removes them::

    with objects.posix_shm(4096) as shm:        # shm_open(O_CREAT|O_EXCL, 0600) + ftruncate
        ...                                      # shm_unlink + close on exit

Each returns the plain posix_ipc / sysv_ipc object, so the lesson shows the real API.
"""

import contextlib
import errno
import os
import tempfile

import posix_ipc
import sysv_ipc

from ipclab.core import kinds, names, registry
from ipclab.core.errors import BadArgument, LimitReached

__all__ = ["DEFAULT_MODE", "create_posix_shm", "remove_posix_shm", "create_posix_sem", "remove_posix_sem",
           "create_posix_mq", "remove_posix_mq", "create_sysv_shm", "create_sysv_sem", "create_sysv_msg",
           "remove_sysv", "create_file", "remove_file"]

DEFAULT_MODE = 0o600
_KEY_TRIES = 64


def _check_size(size, what):
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        raise BadArgument(f"{what} size must be a positive number of bytes, got {size!r}")


def _reserve(fd, size, name):
    """Allocate the pages now (posix_fallocate) so a full /dev/shm fails here, not with SIGBUS later."""
    try:
        os.posix_fallocate(fd, 0, size)
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.EFBIG):
            raise LimitReached(
                f"/dev/shm has no room for {size} bytes ({name}): it is a tmpfs "
                f"(64 MiB by default in Docker/Binder). Use a smaller size, free space with "
                "`ipclab clean`, or start Docker with --shm-size=1g.") from e
        raise


def _fresh_posix(kind, tag, create, note=""):
    """Create a POSIX object under a fresh course name, retrying on the (rare) name collision."""
    run_id = registry.current().id
    for _ in range(_KEY_TRIES):
        name = names.posix_name(tag, run_id)
        try:
            obj = create(name)
        except posix_ipc.ExistentialError:
            continue  # O_EXCL: someone has this name; draw another
        registry.register_or_undo(kind, lambda: _unlink_and_close(kind, obj), name=name, note=note or tag)
        return obj
    raise LimitReached(f"no free POSIX name after {_KEY_TRIES} tries; run `ipclab clean`")


def create_posix_shm(size, tag="shm", mode=DEFAULT_MODE, reserve=True, note=""):
    """``shm_open(name, O_CREAT|O_EXCL|O_RDWR, mode)`` + ``ftruncate(size)``; registered."""
    _check_size(size, "shared memory")
    shm = _fresh_posix("posix_shm", tag, lambda name: posix_ipc.SharedMemory(
        name, posix_ipc.O_CREX, mode=mode, size=size), note)
    name = shm.name
    if reserve:
        try:
            _reserve(shm.fd, size, name)
        except BaseException:
            remove_posix_shm(shm)
            raise
    return shm


def remove_posix_shm(shm):
    """``close(fd)`` + ``shm_unlink(name)``; tolerant of an already-removed object."""
    with contextlib.suppress(posix_ipc.ExistentialError):
        shm.unlink()
    shm.close_fd()
    registry.unregister("posix_shm", name=shm.name)


def create_posix_sem(value=0, tag="sem", mode=DEFAULT_MODE, note=""):
    """``sem_open(name, O_CREAT|O_EXCL, mode, value)``; registered."""
    if not isinstance(value, int) or value < 0 or value > posix_ipc.SEMAPHORE_VALUE_MAX:
        raise BadArgument(f"semaphore value must be 0..{posix_ipc.SEMAPHORE_VALUE_MAX} "
                          f"(SEM_VALUE_MAX), got {value!r}")
    return _fresh_posix("posix_sem", tag, lambda name: posix_ipc.Semaphore(
        name, posix_ipc.O_CREX, mode=mode, initial_value=value), note)


_CLOSE = {"posix_shm": "close_fd", "posix_sem": "close", "posix_mq": "close"}


def _unlink_and_close(kind, obj):
    """Remove the name, close this process's handle, strike it off; tolerant of either being gone.

    Unlinks by *name* (``sem_unlink``/``mq_unlink``), which works even after the handle was
    closed: ``obj.unlink()`` on a closed posix_ipc object fails, which would leave the object
    in /dev/shm while the registry forgot it.
    """
    with contextlib.suppress(posix_ipc.ExistentialError):
        kinds.unlinker(kind)(obj.name)
    with contextlib.suppress(posix_ipc.ExistentialError):
        getattr(obj, _CLOSE[kind])()
    registry.unregister(kind, name=obj.name)


def remove_posix_sem(sem):
    """``sem_unlink(name)`` + ``sem_close``."""
    _unlink_and_close("posix_sem", sem)


def create_posix_mq(max_messages=None, max_message_size=None, tag="mq", mode=DEFAULT_MODE, note=""):
    """``mq_open(name, O_CREAT|O_EXCL|O_RDWR, mode, &attr)``; registered."""
    if not posix_ipc.MESSAGE_QUEUES_SUPPORTED:
        from ipclab.core.errors import NotSupported
        raise NotSupported("POSIX message queues are not supported here (macOS has none); "
                           "run this part on Linux")
    kw = {}
    if max_messages is not None:
        kw["max_messages"] = max_messages
    if max_message_size is not None:
        kw["max_message_size"] = max_message_size
    try:
        return _fresh_posix("posix_mq", tag, lambda name: posix_ipc.MessageQueue(
            name, posix_ipc.O_CREX, mode=mode, **kw), note)
    except (OSError, ValueError) as e:  # posix_ipc raises these without an errno
        raise _mq_limit_error(e, kw) from e


def _mq_limit_error(e, kw):
    """Turn mq_open's terse errno into the limit that caused it."""
    if isinstance(e, OSError) and (e.errno == errno.EMFILE or "maximum number of files" in str(e)):
        return LimitReached("mq_open: too many queues for this user. It is RLIMIT_MSGQUEUE "
                            "(819200 bytes per user by default), not open files: close and "
                            "unlink queues (`ipclab clean`) or raise it with `ulimit -q`.")
    if isinstance(e, ValueError) or e.errno == errno.EINVAL:
        return LimitReached(f"mq_open refused {kw}: max_messages must be <= "
                            "/proc/sys/fs/mqueue/msg_max and max_message_size <= "
                            "/proc/sys/fs/mqueue/msgsize_max (see `ipclab doctor`).")
    return e


def remove_posix_mq(mq):
    """``mq_unlink(name)`` + ``mq_close``."""
    _unlink_and_close("posix_mq", mq)


def _sysv_create(kind, factory, key, note):
    """Create with IPC_CREAT|IPC_EXCL on a course key, retrying on the rare collision."""
    tries = 1 if key is not None else _KEY_TRIES
    for _ in range(tries):
        k = names.check_sysv_key(key) if key is not None else names.sysv_key()
        try:
            obj = factory(k)
        except sysv_ipc.ExistentialError:
            if key is not None:
                raise BadArgument(f"System V key 0x{k:08x} is already used by another object: "
                                  "leave key=None for a fresh course key, or remove the old "
                                  "object (`ipcs` shows it, `ipcrm` removes it)") from None
            continue
        registry.register_or_undo(kind, lambda: remove_sysv(obj), id=obj.id, key=obj.key, note=note)
        return obj
    raise LimitReached(f"no free System V key after {_KEY_TRIES} tries; run `ipclab clean`")


def create_sysv_shm(size, key=None, mode=DEFAULT_MODE, note="sysv shm"):
    """``shmget(key, size, IPC_CREAT|IPC_EXCL|mode)``; registered."""
    _check_size(size, "System V shared memory")
    return _sysv_create("sysv_shm", lambda k: sysv_ipc.SharedMemory(
        k, sysv_ipc.IPC_CREX, mode=mode, size=size), key, note)


def create_sysv_sem(value=0, key=None, mode=DEFAULT_MODE, note="sysv sem"):
    """``semget(key, 1, IPC_CREAT|IPC_EXCL|mode)`` + ``semctl(SETVAL)``; registered."""
    if not isinstance(value, int) or not 0 <= value <= sysv_ipc.SEMAPHORE_VALUE_MAX:
        raise BadArgument(f"semaphore value must be 0..{sysv_ipc.SEMAPHORE_VALUE_MAX} (SEMVMX), got {value!r}")
    return _sysv_create("sysv_sem", lambda k: sysv_ipc.Semaphore(
        k, sysv_ipc.IPC_CREX, mode=mode, initial_value=value), key, note)


def create_sysv_msg(key=None, mode=DEFAULT_MODE, max_message_size=None, note="sysv msg"):
    """``msgget(key, IPC_CREAT|IPC_EXCL|mode)``; registered."""
    kw = {} if max_message_size is None else {"max_message_size": max_message_size}
    return _sysv_create("sysv_msg", lambda k: sysv_ipc.MessageQueue(
        k, sysv_ipc.IPC_CREX, mode=mode, **kw), key, note)


def remove_sysv(obj):
    """``shmctl``/``semctl``/``msgctl(IPC_RMID)``; detaches shared memory first."""
    kind = {sysv_ipc.SharedMemory: "sysv_shm", sysv_ipc.Semaphore: "sysv_sem",
            sysv_ipc.MessageQueue: "sysv_msg"}[type(obj)]
    if kind == "sysv_shm":
        with contextlib.suppress(sysv_ipc.Error):
            obj.detach()
    with contextlib.suppress(sysv_ipc.ExistentialError):
        obj.remove()
    registry.unregister(kind, id=obj.id)


def create_file(size=0, tag="file", mode=DEFAULT_MODE, directory=None, note=""):
    """A fresh file (for mmap lessons) of *size* zero bytes, registered; returns its path."""
    if not isinstance(size, int) or size < 0:
        raise BadArgument(f"file size must be >= 0 bytes, got {size!r}")
    fd, path = tempfile.mkstemp(prefix=f"ipclab-{tag}-", dir=directory)

    def undo():
        os.close(fd)
        os.unlink(path)
    registry.register_or_undo("file", undo, path=path, note=note or tag)
    os.fchmod(fd, mode)
    os.ftruncate(fd, size)
    os.close(fd)
    return path


def remove_file(path):
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    registry.unregister("file", path=path)


def _cm(create, remove):
    @contextlib.contextmanager
    def manager(*args, **kwargs):
        obj = create(*args, **kwargs)
        try:
            yield obj
        finally:
            remove(obj)
    manager.__doc__ = f"Context manager: {create.__doc__.splitlines()[0]} Removed on exit."
    return manager


posix_shm = _cm(create_posix_shm, remove_posix_shm)
posix_sem = _cm(create_posix_sem, remove_posix_sem)
posix_mq = _cm(create_posix_mq, remove_posix_mq)
sysv_shm = _cm(create_sysv_shm, remove_sysv)
sysv_sem = _cm(create_sysv_sem, remove_sysv)
sysv_msg = _cm(create_sysv_msg, remove_sysv)
course_file = _cm(create_file, remove_file)
