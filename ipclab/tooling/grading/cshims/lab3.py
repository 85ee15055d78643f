"""Lab 3's C library (``labs/c/lab3_messages.h``) as the Python track's ``Service``.

Each method is one call into the student's C; errno becomes the Python track's exception
(EINVAL -> ValueError, ETIMEDOUT -> TimeoutError, ENOSYS -> NotImplementedError, else OSError).
The key is drawn here (a course key, as ``objects.create_sysv_msg`` draws it), another one on
EEXIST, and the queue is registered as soon as it exists. ``svc.mq`` is the test's own handle on
the queue (sysv_ipc, opened by key: the kernel's view, not the student's).

Handlers: ``serve_one(handlers)`` gets Python callables; each becomes a C function pointer
(``svc_handler_fn``, a ctypes CFUNCTYPE) in a ``struct svc_handler`` table. The C code carries
text, the Python track carries JSON values (``len`` returns an int): a handler's result goes
into the reply as JSON text, and ``wait_reply`` decodes it; a handler that raises writes
"ExcType: message" and returns -1 (an error reply, as in the Python track).
"""

import ctypes
import errno
import json

import sysv_ipc

from ipclab.core import inventory, names, registry
from ipclab.tooling.grading import cshims

__all__ = ["load", "slow", "Service", "URGENT", "NORMAL", "DEFAULT_TIMEOUT"]

URGENT, NORMAL = 1, 2
DEFAULT_TIMEOUT = 10.0
KEY_TRIES = 20
OP_SIZE, TEXT_SIZE = 32, 256          # SVC_OP_SIZE, SVC_TEXT_SIZE
RESULT, ERROR = 0, 1                  # a reply's status
_lib = None


class Request(ctypes.Structure):      # struct svc_request
    _fields_ = [("mtype", ctypes.c_long), ("pid", ctypes.c_int32), ("id", ctypes.c_uint32),
                ("op", ctypes.c_char * OP_SIZE), ("arg", ctypes.c_char * TEXT_SIZE)]


class Reply(ctypes.Structure):        # struct svc_reply
    _fields_ = [("mtype", ctypes.c_long), ("id", ctypes.c_uint32), ("status", ctypes.c_int32),
                ("text", ctypes.c_char * TEXT_SIZE)]


HandlerFn = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t)


class Handler(ctypes.Structure):      # struct svc_handler
    _fields_ = [("op", ctypes.c_char_p), ("fn", HandlerFn)]


def load(path):
    """Load the student's compiled library (once per process) and declare its functions."""
    global _lib
    if _lib is None:
        vp, d, cp = ctypes.c_void_p, ctypes.c_double, ctypes.c_char_p
        _lib = cshims.open_library(path, (
            ("svc_create", vp, [ctypes.c_int]),
            ("svc_attach", vp, [ctypes.c_int]),
            ("svc_send", ctypes.c_long, [vp, cp, cp, ctypes.c_int, d]),
            ("svc_wait", ctypes.c_int, [vp, ctypes.c_long, ctypes.POINTER(Reply), d]),
            ("svc_serve", ctypes.c_int, [vp, ctypes.POINTER(Handler), ctypes.c_size_t,
                                         ctypes.POINTER(Request), d]),
            ("svc_close", ctypes.c_int, [vp]),
            ("svc_destroy", ctypes.c_int, [vp]),
        ))
    return _lib


def slow(delay):
    """Slow every memory access of the student's C code (cshims.set_slow)."""
    cshims.set_slow(_lib, delay)


def _fail(call):
    """The Python track's exception for the errno the student's *call* left."""
    return cshims.errno_exception(call, {errno.EINVAL: ValueError, errno.ETIMEDOUT: TimeoutError})

def _handler(fn):
    """*fn* (a Python handler) as a C ``svc_handler_fn``: its result as JSON text, or the error."""
    def call(arg, text, size):
        if not text or size == 0:
            return -1
        try:
            out, rc = json.dumps(fn(arg.decode("utf-8", errors="replace"))), 0
        except Exception as e:  # noqa: BLE001 - a raising handler is an error reply, as in the Python track
            out, rc = f"{type(e).__name__}: {e}", -1
        data = out.encode(errors="replace")
        if len(data) >= size:
            data, rc = f"the result does not fit SVC_TEXT_SIZE ({size} bytes)".encode()[:size - 1], -1
        ctypes.memmove(text, data + b"\0", len(data) + 1)
        return rc
    return HandlerFn(call)


def _text(value, what, size):
    if not isinstance(value, str):
        raise ValueError(f"the C track's requests carry text: {what} must be a str, got {type(value).__name__}")
    data = value.encode()
    if b"\0" in data or len(data) >= size:
        raise ValueError(f"{what} must fit a C string of {size} bytes (NUL included), without NUL inside")
    return data


class Service:
    """The student's ``svc_t *`` behind the Python lab API."""

    def __init__(self, ptr, key, owner):
        self._ptr, self.key, self.owner = ptr, key, owner
        self._mq = self._msqid = None

    @property
    def mq(self):
        """The test's own handle on the queue (sysv_ipc, by key)."""
        if self._mq is None:
            self._mq = sysv_ipc.MessageQueue(self.key)
        return self._mq

    @classmethod
    def create(cls):
        for _ in range(KEY_TRIES):
            key = names.sysv_key()
            ctypes.set_errno(0)
            ptr = _lib.svc_create(key)
            if ptr:
                break
            if ctypes.get_errno() != errno.EEXIST:
                raise _fail(f"svc_create(0x{key:08x})")
        else:
            raise _fail(f"svc_create: {KEY_TRIES} keys taken in a row")
        svc = cls(ptr, key, True)
        try:
            msqid = svc.mq.id
        except sysv_ipc.ExistentialError:
            raise OSError(errno.ENOENT, f"svc_create(0x{key:08x}) returned a handle, but no queue has "
                                        "that key (msgget(key, IPC_CREAT | IPC_EXCL | 0600))") from None
        registry.register("sysv_msg", id=msqid, key=key, note="C track")
        svc._msqid = msqid
        return svc

    @classmethod
    def attach(cls, key):
        if not isinstance(key, int) or isinstance(key, bool):
            raise TypeError(f"key is a System V key (int), got {key!r}")
        ptr = _lib.svc_attach(key)
        if not ptr:
            raise _fail(f"svc_attach(0x{key & 0xFFFFFFFF:08x})")
        return cls(ptr, key, False)

    # -- client side ---------------------------------------------------------
    def send_request(self, op, arg, urgent=False, timeout=DEFAULT_TIMEOUT):
        op_b, arg_b = _text(op, "op", OP_SIZE), _text(arg, "arg", TEXT_SIZE)
        rid = _lib.svc_send(self._live(), op_b, arg_b, 1 if urgent else 0, float(timeout))
        if rid < 0:
            raise _fail(f"svc_send({op!r}, {arg!r})")
        return rid

    def wait_reply(self, request_id, timeout=DEFAULT_TIMEOUT):
        reply = Reply()
        if _lib.svc_wait(self._live(), int(request_id), ctypes.byref(reply), float(timeout)) != 0:
            raise _fail(f"svc_wait({request_id})")
        text = reply.text.decode("utf-8", errors="replace")
        if reply.id != request_id:
            raise OSError(errno.EBADMSG, f"svc_wait({request_id}) returned the reply to request {reply.id}")
        if reply.status != RESULT:
            raise RuntimeError(text)
        try:
            return json.loads(text)
        except ValueError:
            raise OSError(errno.EBADMSG, f"svc_wait({request_id}): the reply's text {text!r} is not the "
                                         "handler's (JSON) text") from None

    def call(self, op, arg, urgent=False, timeout=DEFAULT_TIMEOUT):
        """Send a request and wait for its result."""
        return self.wait_reply(self.send_request(op, arg, urgent, timeout), timeout)

    # -- server side ---------------------------------------------------------
    def serve_one(self, handlers, timeout=DEFAULT_TIMEOUT):
        ops = [(op, fn) for op, fn in handlers.items() if isinstance(op, str) and len(op.encode()) < OP_SIZE]
        table = (Handler * max(1, len(ops)))(*[Handler(op.encode(), _handler(fn)) for op, fn in ops])
        req = Request()
        rc = _lib.svc_serve(self._live(), table, len(ops), ctypes.byref(req), float(timeout))
        if rc < 0:
            raise _fail("svc_serve")
        if rc == 0:
            return None
        return {"pid": req.pid, "id": req.id, "op": req.op.decode("utf-8", errors="replace"),
                "arg": req.arg.decode("utf-8", errors="replace")}

    def close(self):
        ptr, self._ptr = self._live(), None
        if _lib.svc_close(ptr) != 0:
            raise _fail("svc_close")

    def destroy(self):
        msqid = self._msqid
        ptr, self._ptr = self._live(), None
        rc = _lib.svc_destroy(ptr)
        exc = _fail("svc_destroy") if rc != 0 else None
        if msqid is not None and inventory.sysv_row("msg", msqid) is None:   # gone: off the registry; else the cleanup removes it
            registry.unregister("sysv_msg", id=msqid)
        if exc:
            raise exc

    def _live(self):
        if self._ptr is None:
            raise ValueError("this service was closed or destroyed (svc_close / svc_destroy freed it)")
        return self._ptr

    def __repr__(self):
        return f"<C Service key=0x{self.key & 0xFFFFFFFF:08x}>"
