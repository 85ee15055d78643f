"""System V message queues with timeouts: typed send/receive, struct records, framing, request/reply.

Why this module: sysv_ipc's ``MessageQueue.send``/``receive`` either block for ever or fail at
once (``block=False`` is ``IPC_NOWAIT``); there is no timeout, and the kernel has no timed
``msgrcv``. In a notebook a receive nobody answers hangs the cell, so every blocking call here
takes a *timeout* and raises :class:`~ipclab.core.errors.WaitTimeout` saying what waited for what.

How the timeout is built (and why this way): each call first tries the real operation with
``IPC_NOWAIT``; while the kernel answers "nothing matching" (``ENOMSG``) or "queue full"
(``EAGAIN``) it sleeps a short, growing pause (0.2 ms doubling up to 5 ms) and retries until the
deadline. This is portable, thread-safe, leaves signals alone (the alternative, a blocking
``msgrcv`` through ctypes interrupted by ``alarm``/``SIGALRM``, only works in the main thread,
collides with anyone else's alarm, and races with the signal arriving just before the call),
and costs nothing when a message is already there. Its price: a waiter notices a new message
up to ~5 ms late, and an idle waiter wakes ~200 times a second. Kernel ordering is unchanged:
every attempt is a real ``msgsnd``/``msgrcv``, so FIFO order, type selection and priorities
are exactly the kernel's.

The pieces (taught in notebook 03, used by the labs):

* :func:`queue` (create, removed on exit), :func:`attach` (``msgget(key, 0)`` in a worker);
* :func:`send`, :func:`receive` (with *timeout*), :func:`try_send`, :func:`try_receive`
  (``IPC_NOWAIT``, no waiting), :func:`drain`;
* :class:`Record`: a C struct packed with :mod:`struct`;
* :func:`send_framed`, :func:`receive_framed`: payloads longer than ``msgmax``;
* :func:`call`, :func:`serve` and their parts (:func:`send_request`, :func:`receive_request`,
  :func:`send_reply`, :func:`receive_reply`, :func:`receive_replies`, :func:`send_stop`):
  request/reply with replies addressed by ``type = client pid``;
* :func:`state`, :func:`set_max_bytes`, :func:`ipcs_q`: the queue's ``IPC_STAT`` fields.

Message types: ``send`` needs ``1 <= type <= TYPE_MAX``; ``receive`` takes ``type=0`` (first
message), ``type>0`` (first of exactly that type) or ``type<0`` (first of the *lowest* type
``<= |type|``: priorities). sysv_ipc passes the type as a C ``int``, hence ``TYPE_MAX = 2**31-1``.
"""

import collections
import contextlib
import errno
import os
import secrets
import struct
import subprocess
import time
from dataclasses import dataclass

import sysv_ipc

from ipclab.core import inventory as _inspect
from ipclab.core import limits as kernel_limits
from ipclab.core import objects
from ipclab.core.errors import BadArgument, IpclabError, LimitReached, ObjectGone, WaitTimeout

DEFAULT_TIMEOUT = 10.0
TYPE_MAX = 2**31 - 1
_POLL_FIRST = 0.0002
_POLL_MAX = 0.005


class FramingError(IpclabError):
    """A framed message arrived broken (missing, repeated or foreign frame)."""


# -- limits -------------------------------------------------------------------

@dataclass(frozen=True)
class Limits:
    """The kernel's message-queue limits (``/proc/sys/kernel/msg*``)."""
    msgmax: int  #: largest message, bytes
    msgmnb: int  #: default capacity of a new queue, bytes (its ``max_size``)
    msgmni: int  #: most queues system-wide


def limits():
    """Read ``msgmax``, ``msgmnb``, ``msgmni`` now (Linux defaults 8192, 16384, 32000)."""
    return Limits(*(kernel_limits.sysctl(n, kernel_limits.DEFAULTS[n]) for n in ("msgmax", "msgmnb", "msgmni")))


# -- creating and attaching -----------------------------------------------------

@contextlib.contextmanager
def queue(max_bytes=None, note="msgq"):
    """A new queue (``msgget(key, IPC_CREAT|IPC_EXCL|0600)``), removed (``IPC_RMID``) on exit.

    The Python object can receive messages up to ``msgmax`` bytes; *max_bytes* sets the
    queue's capacity (``msg_qbytes`` via ``IPC_SET``) if given.
    """
    with objects.sysv_msg(max_message_size=limits().msgmax, note=note) as q:
        if max_bytes is not None:
            set_max_bytes(q, max_bytes)
        yield q


def attach(key):
    """Open an existing queue by *key* (``msgget(key, 0)``), e.g. in a worker; not registered."""
    try:
        return sysv_ipc.MessageQueue(key, max_message_size=limits().msgmax)
    except sysv_ipc.ExistentialError:
        raise ObjectGone(f"no System V message queue with key 0x{key & 0xFFFFFFFF:08x}: it was "
                         "removed (IPC_RMID) or never created; create one with msgq.queue()") from None


def _describe(q):
    return f"queue key 0x{q.key & 0xFFFFFFFF:08x}"  # the key, not the id: `ipcrm -Q KEY` removes it


def _removed(q, exc):
    """True if *exc* from msgsnd/msgrcv means the queue was removed under us.

    sysv_ipc maps EIDRM to ExistentialError, but a queue removed between two IPC_NOWAIT
    polls makes msgsnd fail with a bare EINVAL (the id is no longer valid; msgop(2)):
    the kernel's table then tells which.
    """
    if isinstance(exc, sysv_ipc.ExistentialError):
        return True
    return (isinstance(exc, OSError) and exc.errno in (errno.EINVAL, errno.EIDRM)
            and _state_or_none(q) is None)


def _gone(q, doing):
    return ObjectGone(f"{_describe(q)} was removed (IPC_RMID) while {doing}; a removed queue "
                      "cannot come back: create a new one and tell the other processes its key")


# -- argument checks --------------------------------------------------------------

def _check_timeout(timeout):
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise BadArgument(f"timeout must be a positive number of seconds, got {timeout!r} "
                          "(use try_send/try_receive for a single attempt without waiting)")


def _check_send_type(mtype):
    if isinstance(mtype, bool) or not isinstance(mtype, int) or not 1 <= mtype <= TYPE_MAX:
        raise BadArgument(f"message type {mtype!r} cannot be sent: msgsnd needs mtype >= 1 "
                          f"(and sysv_ipc takes a C int, so <= {TYPE_MAX}); 0 and negative "
                          "values are only for receive() filters")


def _check_receive_type(mtype):
    if isinstance(mtype, bool) or not isinstance(mtype, int) or not -TYPE_MAX <= mtype <= TYPE_MAX:
        raise BadArgument(f"receive filter type {mtype!r} must be an int: 0 = first message, "
                          f"n > 0 = first of type n, -n = lowest type <= n (|type| <= {TYPE_MAX})")


def _check_data(q, data, mtype):
    if isinstance(data, str):
        raise BadArgument("a message is bytes, not str: send text.encode() and decode() on receipt")
    try:
        size = memoryview(data).nbytes
    except TypeError:
        raise BadArgument(f"a message is bytes (or any buffer), got {type(data).__name__}; "
                          "pack numbers with struct or msgq.Record") from None
    lim = limits()
    if size > lim.msgmax:
        raise LimitReached(f"a {size}-byte message exceeds msgmax = {lim.msgmax} bytes "
                           "(/proc/sys/kernel/msgmax), so msgsnd would fail with EINVAL: split it "
                           "with msgq.send_framed(), or raise the limit (sysctl kernel.msgmax)")
    try:
        capacity = q.max_size
    except sysv_ipc.ExistentialError:
        raise _gone(q, f"sending a message of type {mtype}") from None
    if size > capacity:
        raise LimitReached(f"a {size}-byte message can never fit in {_describe(q)}, whose "
                           f"capacity (max_size, msg_qbytes) is {capacity} bytes: msgsnd would "
                           "wait for ever. Raise it with msgq.set_max_bytes(q, n) or send less")
    return size


# -- send and receive ---------------------------------------------------------------

def _poll(attempt, timeout, explain):
    """Call *attempt()* until it returns (not BusyError) or the deadline passes."""
    _check_timeout(timeout)
    deadline = time.monotonic() + timeout
    pause = _POLL_FIRST
    while True:
        try:
            return attempt()
        except sysv_ipc.BusyError:
            pass
        left = deadline - time.monotonic()
        if left <= 0:
            raise WaitTimeout(explain())
        time.sleep(min(pause, left))
        pause = min(pause * 2, _POLL_MAX)


def try_send(q, data, type=1):
    """One ``msgsnd(..., IPC_NOWAIT)``: True if queued, False if the queue is full now."""
    _check_send_type(type)
    _check_data(q, data, type)
    try:
        q.send(data, block=False, type=type)
        return True
    except sysv_ipc.BusyError:
        return False
    except (sysv_ipc.ExistentialError, OSError) as e:
        if _removed(q, e):
            raise _gone(q, f"sending a message of type {type}") from None
        raise


def send(q, data, *, type=1, timeout=DEFAULT_TIMEOUT):
    """``msgsnd(id, {type, data}, len, 0)``, waiting at most *timeout* s while the queue is full."""
    _check_send_type(type)
    size = _check_data(q, data, type)

    def attempt():
        try:
            return q.send(data, block=False, type=type)
        except (sysv_ipc.ExistentialError, OSError) as e:
            if _removed(q, e):
                raise _gone(q, f"waiting to send a {size}-byte message of type {type}") from None
            raise

    def explain():
        st = _state_or_none(q)
        fill = (f"it holds {st.messages} message(s), {st.bytes} of {st.max_bytes} bytes"
                if st else "its state is unreadable")
        return (f"send of {size} bytes as type {type} to {_describe(q)} waited "
                f"{timeout:g} s for room: the queue is full ({fill}). Nobody is receiving: "
                "start a reader, or raise max_size (msgq.set_max_bytes)")
    _poll(attempt, timeout, explain)


def try_receive(q, type=0):
    """One ``msgrcv(..., IPC_NOWAIT)``: ``(data, type)``, or None if nothing matches now."""
    _check_receive_type(type)
    try:
        return _receive_once(q, type)
    except sysv_ipc.BusyError:
        return None


def _receive_once(q, mtype):
    try:
        return q.receive(block=False, type=mtype)
    except sysv_ipc.ExistentialError:
        raise _gone(q, f"receiving {describe_filter(mtype)}") from None
    except OSError as e:
        if _removed(q, e):
            raise _gone(q, f"receiving {describe_filter(mtype)}") from None
        if e.errno == errno.E2BIG:
            raise LimitReached(
                f"the next message for {describe_filter(mtype)} on {_describe(q)} is longer than "
                "this MessageQueue object's max_message_size, so msgrcv failed with E2BIG and "
                "left it in the queue. Open the queue with msgq.queue() or msgq.attach(), "
                "which accept messages up to msgmax") from None
        raise


def receive(q, *, type=0, timeout=DEFAULT_TIMEOUT):
    """``msgrcv(id, &buf, msgmax, type, 0)``: ``(data, type)``, waiting at most *timeout* s."""
    _check_receive_type(type)

    def explain():
        st = _state_or_none(q)
        held = f"it holds {st.messages} message(s)" if st else "its state is unreadable"
        other = " of other types" if st and st.messages and type != 0 else ""
        return (f"receive of {describe_filter(type)} from {_describe(q)} waited {timeout:g} s "
                f"and got nothing: {held}{other}. Has the sender run, and does it use this type?")
    return _poll(lambda: _receive_once(q, type), timeout, explain)


def describe_filter(mtype):
    """What a receive *type* selects, in words (the three cases of msgrcv(2))."""
    if mtype == 0:
        return "the first message (type 0: any type)"
    if mtype > 0:
        return f"the first message of type {mtype}"
    return f"the lowest-type message with type <= {-mtype} (type {mtype})"


def drain(q, type=0):
    """Take every message matching *type* now, without waiting: a list of ``(data, type)``."""
    out = []
    while (m := try_receive(q, type)) is not None:
        out.append(m)
    return out


# -- struct records ----------------------------------------------------------------------

class Record:
    """A C struct as a message body, packed with :mod:`struct` in native layout (``@``).

    ``Record("log", "i pid; i seq; d time; 64s text")`` is the C
    ``struct log { int pid; int seq; double time; char text[64]; }`` (80 bytes with padding);
    ``mtype`` is not part of it: it travels beside the body, as with ``msgsnd``.

    ``@`` pads *between* fields as the C compiler does, but not at the end; C also pads the
    end, so that ``sizeof`` is a multiple of the struct's alignment (its most aligned
    field). The format therefore ends with that field's code and a count of zero, which
    is how :mod:`struct` asks for tail padding: ``"i pid; d time; i seq; 48s text"`` is
    ``"@idi48s0d"``, 72 bytes, as ``sizeof`` in C (68 without the ``0d``).
    """

    def __init__(self, name, layout):
        fields = [f.split() for f in layout.split(";") if f.strip()]
        if not fields or any(len(f) != 2 for f in fields):
            raise BadArgument(f"layout {layout!r} must be 'CODE name; CODE name; ...' "
                              "with struct codes, e.g. 'i pid; d time; 64s text'")
        self.name = name
        try:
            codes = "".join(code for code, _ in fields)
            # the struct's alignment: that of its most aligned field (a code's alignment is
            # where it lands after one char); C pads the end of the struct up to it
            bases = [code.lstrip("0123456789") for code, _ in fields]  # "48s" -> "s"
            align, widest = max((struct.calcsize("@c" + b) - struct.calcsize("@" + b), b) for b in bases)
            self.fmt = "@" + codes + (f"0{widest}" if align > 1 else "")
            self.size = struct.calcsize(self.fmt)
        except struct.error as e:
            raise BadArgument(f"layout {layout!r}: {e}") from None
        self.tuple = collections.namedtuple(name, [n for _, n in fields])

    def __repr__(self):
        return f"<Record {self.name} {self.fmt!r}, {self.size} bytes>"

    def pack(self, *values, **fields):
        """The bytes of one record; str values of ``s`` fields are UTF-8 encoded."""
        rec = self.tuple(*values, **fields)
        vals = [v.encode() if isinstance(v, str) else v for v in rec]
        try:
            return struct.pack(self.fmt, *vals)
        except struct.error as e:
            raise BadArgument(f"cannot pack {rec} as {self.fmt!r}: {e}") from None

    def unpack(self, data):
        """One record from bytes; ``s`` fields come back as bytes with trailing NULs stripped."""
        if len(data) != self.size:
            raise BadArgument(f"a {self.name} record is {self.size} bytes, got {len(data)}: "
                              "sender and receiver disagree on the struct")
        vals = struct.unpack(self.fmt, data)
        return self.tuple(*(v.rstrip(b"\0") if isinstance(v, bytes) else v for v in vals))


# -- framing over msgmax ------------------------------------------------------------------

#: Frame header: message id (random 64-bit), frame index, frame count, total length.
FRAME_HEADER = struct.Struct("<QIIQ")


def frame_capacity():
    """Payload bytes per frame: msgmax less the header."""
    return limits().msgmax - FRAME_HEADER.size


def frames(payload):
    """Split *payload* into frames (header + chunk), each at most msgmax bytes; at least one."""
    data = memoryview(payload).cast("B")
    room = frame_capacity()
    count = max(1, -(-len(data) // room))
    msg_id = secrets.randbits(64)
    return [FRAME_HEADER.pack(msg_id, i, count, len(data)) + bytes(data[i * room:(i + 1) * room])
            for i in range(count)]


def send_framed(q, payload, *, type=1, timeout=DEFAULT_TIMEOUT):
    """Send *payload* of any length as frames of type *type*; returns the number of frames.

    Frames of one payload must not interleave with another sender's on the same type: give
    each sender its own type (e.g. its pid). *timeout* bounds the whole send.
    """
    if isinstance(payload, str):
        raise BadArgument("a payload is bytes, not str: send text.encode()")
    _check_send_type(type)
    _check_timeout(timeout)
    deadline = time.monotonic() + timeout
    parts = frames(payload)
    for part in parts:
        send(q, part, type=type, timeout=max(deadline - time.monotonic(), 1e-3))
    return len(parts)


def receive_framed(q, *, type=1, timeout=DEFAULT_TIMEOUT):
    """Receive one framed payload of type *type* (> 0) and reassemble it; *timeout* for all of it."""
    if isinstance(type, bool) or not isinstance(type, int) or type <= 0:
        raise BadArgument(f"framed receive needs one exact type > 0 (frames of one payload share "
                          f"it), got {type!r}")
    _check_timeout(timeout)
    deadline = time.monotonic() + timeout
    chunks, first = [], None
    while first is None or len(chunks) < first[2]:
        data, _ = receive(q, type=type, timeout=max(deadline - time.monotonic(), 1e-3))
        if len(data) < FRAME_HEADER.size:
            raise FramingError(f"a {len(data)}-byte message of type {type} is not a frame "
                               "(shorter than the header): was it sent with send_framed()?")
        head = FRAME_HEADER.unpack_from(data)
        if first is None:
            first = head
        if head[0] != first[0] or head[1] != len(chunks) or head[2:] != first[2:]:
            raise FramingError(f"frame {head[1]}/{head[2]} of message {head[0]:x} arrived while "
                               f"expecting frame {len(chunks)}/{first[2]} of {first[0]:x}: two "
                               f"senders share type {type}? Give each its own type")
        chunks.append(data[FRAME_HEADER.size:])
    payload = b"".join(chunks)
    if len(payload) != first[3]:
        raise FramingError(f"reassembled {len(payload)} bytes, the header announced {first[3]}")
    return payload


# -- request / reply ------------------------------------------------------------------------

REQUEST_TYPE = 1
#: Request header: the type the reply must be sent to (0 = stop), and the request id.
REQUEST_HEADER = struct.Struct("<iI")
Request = collections.namedtuple("Request", "reply_type request_id body")


def send_request(q, body, *, request_id=0, reply_type=None, request_type=REQUEST_TYPE,
                 timeout=DEFAULT_TIMEOUT):
    """Send a request of type *request_type*; the reply will come as type *reply_type* (default: my pid)."""
    reply_type = os.getpid() if reply_type is None else reply_type
    _check_send_type(reply_type)
    if reply_type == request_type:
        raise BadArgument(f"reply_type {reply_type} equals request_type: replies would be taken "
                          "as requests; use another reply type (the client's pid is the usual one)")
    if not isinstance(request_id, int) or not 0 <= request_id < 2**32:
        raise BadArgument(f"request_id must be 0 .. 2**32-1, got {request_id!r}")
    send(q, REQUEST_HEADER.pack(reply_type, request_id) + bytes(body), type=request_type,
         timeout=timeout)


def send_stop(q, n=1, *, request_type=REQUEST_TYPE, timeout=DEFAULT_TIMEOUT):
    """Ask *n* servers reading *request_type* to stop (one stop message each)."""
    for _ in range(n):
        send(q, REQUEST_HEADER.pack(0, 0), type=request_type, timeout=timeout)


def receive_request(q, *, request_type=REQUEST_TYPE, timeout=DEFAULT_TIMEOUT):
    """The next :class:`Request` of *request_type*, or None for a stop message."""
    data, _ = receive(q, type=request_type, timeout=timeout)
    if len(data) < REQUEST_HEADER.size:
        raise BadArgument(f"a {len(data)}-byte message of type {request_type} is not a request "
                          "(no header): was it sent with msgq.send_request()?")
    reply_type, request_id = REQUEST_HEADER.unpack_from(data)
    return None if reply_type == 0 else Request(reply_type, request_id, data[REQUEST_HEADER.size:])


def send_reply(q, request, body, *, timeout=DEFAULT_TIMEOUT):
    """Send the reply to *request*: type = its reply_type, the request id first."""
    send(q, struct.pack("<I", request.request_id) + bytes(body), type=request.reply_type,
         timeout=timeout)


def receive_reply(q, *, request_id=None, reply_type=None, timeout=DEFAULT_TIMEOUT):
    """The body of the next reply of type *reply_type* (default: my pid); checks *request_id* if given."""
    reply_type = os.getpid() if reply_type is None else reply_type
    _check_send_type(reply_type)
    data, _ = receive(q, type=reply_type, timeout=timeout)
    (rid,) = struct.unpack_from("<I", data)
    if request_id is not None and rid != request_id:
        raise IpclabError(f"reply to request {rid} arrived while waiting for {request_id} on "
                          f"type {reply_type}: two clients share a reply type, or an old reply "
                          "was left in the queue")
    return data[4:]


def receive_replies(q, n, *, reply_type=None, timeout=DEFAULT_TIMEOUT):
    """*n* replies of type *reply_type* (default: my pid) in any order: ``{request_id: body}``.

    *timeout* bounds the whole collection. A repeated request id raises IpclabError.
    """
    reply_type = os.getpid() if reply_type is None else reply_type
    _check_send_type(reply_type)
    _check_timeout(timeout)
    deadline = time.monotonic() + timeout
    out = {}
    for _ in range(n):
        data, _ = receive(q, type=reply_type, timeout=max(deadline - time.monotonic(), 1e-3))
        (rid,) = struct.unpack_from("<I", data)
        if rid in out:
            raise IpclabError(f"two replies to request {rid} on type {reply_type}: a request was "
                              "sent twice, or another client shares this reply type")
        out[rid] = data[4:]
    return out


def call(q, body, *, request_id=0, request_type=REQUEST_TYPE, timeout=DEFAULT_TIMEOUT):
    """Send a request and wait for its reply (addressed to my pid); *timeout* for the round trip."""
    _check_timeout(timeout)
    deadline = time.monotonic() + timeout
    send_request(q, body, request_id=request_id, request_type=request_type, timeout=timeout)
    return receive_reply(q, request_id=request_id,
                         timeout=max(deadline - time.monotonic(), 1e-3))


def serve(q, handler, *, request_type=REQUEST_TYPE, idle_timeout=DEFAULT_TIMEOUT, max_requests=None):
    """Answer requests with ``handler(body) -> bytes`` until a stop message; returns how many.

    Raises :class:`WaitTimeout` if no request (nor stop) comes for *idle_timeout* s.
    """
    handled = 0
    while max_requests is None or handled < max_requests:
        req = receive_request(q, request_type=request_type, timeout=idle_timeout)
        if req is None:
            break
        send_reply(q, req, handler(req.body), timeout=idle_timeout)
        handled += 1
    return handled


# -- state (IPC_STAT / IPC_SET) -------------------------------------------------------------

@dataclass(frozen=True)
class QueueState:
    """``msgctl(id, IPC_STAT)`` as read from ``/proc/sysvipc/msg`` (what ``ipcs -q`` shows)."""
    id: int
    key: int
    mode: int
    messages: int          #: msg_qnum
    bytes: int             #: msg_cbytes (sysv_ipc does not expose it; /proc does)
    max_bytes: int         #: msg_qbytes, sysv_ipc's ``max_size``
    last_send_pid: int     #: msg_lspid
    last_receive_pid: int  #: msg_lrpid
    last_send_time: int    #: msg_stime (0 = never)
    last_receive_time: int  #: msg_rtime
    change_time: int       #: msg_ctime


def state(q):
    """The queue's current :class:`QueueState`; ObjectGone if it was removed."""
    st = _state_or_none(q)
    if st is None:
        raise _gone(q, "reading its state")
    return st


def _state_or_none(q):
    row = _inspect.sysv_row("msg", q.id)
    if row is None:
        return None
    try:
        qbytes = q.max_size  # /proc/sysvipc/msg has no qbytes column
    except sysv_ipc.ExistentialError:
        return None
    return QueueState(row["id"], row["key"] & 0xFFFFFFFF, row["perms"] & 0o777, row["qnum"],
                      row["cbytes"], qbytes, row["lspid"], row["lrpid"], row["stime"],
                      row["rtime"], row["ctime"])


def format_state(st, pids=None):
    """A few lines a notebook prints; *pids* maps pids to names (e.g. {os.getpid(): 'me'})."""
    pids = pids or {}
    who = lambda p: f"{p} ({pids[p]})" if p in pids else str(p)  # noqa: E731
    when = lambda t: "never" if not t else time.strftime("%H:%M:%S", time.localtime(t))  # noqa: E731
    return (f"messages: {st.messages}, bytes: {st.bytes} of max {st.max_bytes}\n"
            f"last send: pid {who(st.last_send_pid)} at {when(st.last_send_time)}; "
            f"last receive: pid {who(st.last_receive_pid)} at {when(st.last_receive_time)}")


def set_max_bytes(q, n):
    """``msgctl(IPC_SET)`` with ``msg_qbytes = n``: the queue's capacity in bytes."""
    if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
        raise BadArgument(f"max_bytes must be a positive number of bytes, got {n!r}")
    lim = limits()
    try:
        q.max_size = n
    except sysv_ipc.PermissionsError:
        raise LimitReached(f"cannot raise {_describe(q)} to {n} bytes: going above msgmnb = "
                           f"{lim.msgmnb} takes the CAP_SYS_RESOURCE capability (which root inside a container "
                           "usually lacks); stay at or below msgmnb, or raise kernel.msgmnb with "
                           "sysctl on the host") from None
    except sysv_ipc.ExistentialError:
        raise _gone(q, "setting its max size") from None


def ipcs_q(q=None):
    """The output of ``ipcs -q`` (header + the line of *q* if given); '' if ipcs is missing."""
    try:
        out = subprocess.run(["ipcs", "-q"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""
    lines = [ln for ln in out.splitlines() if ln.strip()]
    if q is None:
        return "\n".join(lines)
    keep = [ln for ln in lines if ln.startswith(("key", "-"))]
    keep += [ln for ln in lines if len(ln.split()) > 1 and ln.split()[1] == str(q.id)]
    return "\n".join(keep)


# The public names (at the end, so the line numbers that notebooks show with
# ipclab.presentation.glass.show stay put).
__all__ = ["DEFAULT_TIMEOUT", "TYPE_MAX", "FramingError", "Limits", "limits", "queue", "attach",
           "try_send", "send", "try_receive", "receive", "describe_filter", "drain", "Record",
           "FRAME_HEADER", "frame_capacity", "frames", "send_framed", "receive_framed", "REQUEST_TYPE",
           "REQUEST_HEADER", "send_request", "send_stop", "receive_request", "send_reply", "receive_reply",
           "receive_replies", "call", "serve", "QueueState", "state", "format_state", "set_max_bytes",
           "ipcs_q"]
