"""The test's side of the narrow channel: the student's module as a proxy to a boxed process.

Why: the process that decides a verdict must never import student code (issue 16). A lab
test therefore runs in a trusted process and receives ``lab``, a :class:`Remote` standing
for the student's module in an *agent* (:mod:`ipclab.tooling.grading.agent`) that runs in
the box under the box's identity. Every attribute read, call, ``len()``, iteration or
``with`` on a remote object is one JSON request over a socket pair; values come back as
plain data (None, bool, int, float, str, bytes, tuples, lists, dicts, sets), anything else as
another :class:`Remote`. Comparisons are never forwarded: a student's object cannot claim
to equal the expected value. Exceptions come back as the nearest builtin (or posix_ipc,
sysv_ipc, ipclab) exception type, with the student's own traceback lines attached.

Functions of ipclab's visible lab tests may be sent (by module and name: the agent imports
them itself); nothing of the hidden tests can be sent, since the box cannot see them.
"""

import base64
import builtins
import importlib
import os
import signal
import sys
import threading

from ipclab.tooling.grading import sandbox

__all__ = ["Remote", "Agent", "StudentCrashed", "StudentExit", "StudentImportError", "CannotSend",
           "encode", "decode", "AGENT_BOOT"]

BUILTIN_EXC = {n: c for n, c in vars(builtins).items() if isinstance(c, type) and issubclass(c, BaseException)}
EXC_MODULES = ("posix_ipc", "sysv_ipc", "ipclab.core.errors")
SENDABLE_PREFIX = "ipclab."           # functions the agent may import by name
AGENT_BOOT = ("import sys; sys.path[:0] = [sys.argv[2], sys.argv[3]]; "
              "from ipclab.tooling.grading import agent; agent.main(3, sys.argv[1])")
MAX_DEPTH = 40


class StudentCrashed(RuntimeError):
    """The process running the student's code died (os._exit, a crash, a signal) during a call."""


class StudentExit(RuntimeError):
    """The student's code raised SystemExit (or KeyboardInterrupt) inside a call."""


class StudentImportError(RuntimeError):
    """The student's module could not be imported in the box; the message says why."""


class CannotSend(TypeError):
    """The test tried to pass something the box cannot receive (only data and visible functions)."""


# -- the codec (trusted side) ---------------------------------------------------------------

def encode(x, agent=None, depth=0):
    """JSON-ready form of *x* for the agent; :class:`CannotSend` for anything that is not data."""
    if depth > MAX_DEPTH:
        raise CannotSend("data nested too deeply to send")
    t = type(x)
    if x is None or t in (bool, int, float, str):
        return x
    if isinstance(x, bool):
        return bool(x)
    if isinstance(x, int):
        return int(x)
    if isinstance(x, float):
        return float(x)
    if isinstance(x, str):
        return str(x)
    if isinstance(x, (bytes, memoryview)):
        return {"__b": base64.b64encode(bytes(x)).decode()}
    if isinstance(x, bytearray):
        return {"__ba": base64.b64encode(bytes(x)).decode()}
    if isinstance(x, Remote):
        if agent is not None and object.__getattribute__(x, "_agent") is not agent:
            raise CannotSend("a student object from another process cannot be passed here")
        return {"__r": object.__getattribute__(x, "_id")}
    if isinstance(x, tuple):
        return {"__t": [encode(v, agent, depth + 1) for v in x]}
    if isinstance(x, list):
        return [encode(v, agent, depth + 1) for v in x]
    if isinstance(x, dict):
        return {"__d": [[encode(k, agent, depth + 1), encode(v, agent, depth + 1)] for k, v in x.items()]}
    if isinstance(x, frozenset):
        return {"__fs": [encode(v, agent, depth + 1) for v in x]}
    if isinstance(x, set):
        return {"__s": [encode(v, agent, depth + 1) for v in x]}
    if isinstance(x, range):
        return {"__range": [x.start, x.stop, x.step]}
    mod, qual = getattr(x, "__module__", None), getattr(x, "__qualname__", None)
    if callable(x) and mod and qual and mod.startswith(SENDABLE_PREFIX) and "<" not in qual:
        return {"__f": [mod, qual]}
    raise CannotSend(f"cannot send a {t.__name__} to the student's code (only data and functions of "
                     "ipclab's visible lab tests can cross into the box)")


def decode(x, agent, depth=0):
    """The trusted-side value of a reply: plain data, or :class:`Remote` for a student object."""
    if depth > MAX_DEPTH:
        raise StudentCrashed("the student's process sent data nested too deeply")
    if x is None or isinstance(x, (bool, int, float, str)):
        return x
    if isinstance(x, list):
        return [decode(v, agent, depth + 1) for v in x]
    if not isinstance(x, dict) or len(x) not in (1, 3):
        raise StudentCrashed("the student's process sent a malformed reply")
    if "__b" in x:
        return base64.b64decode(x["__b"])
    if "__ba" in x:
        return bytearray(base64.b64decode(x["__ba"]))
    if "__t" in x:
        return tuple(decode(v, agent, depth + 1) for v in x["__t"])
    if "__d" in x:
        out = {}
        for k, v in x["__d"]:
            k = decode(k, agent, depth + 1)
            try:
                out[k] = decode(v, agent, depth + 1)
            except TypeError:
                raise StudentCrashed("the student's process sent a dict with an unhashable key") from None
        return out
    if "__s" in x or "__fs" in x:
        items = [decode(v, agent, depth + 1) for v in x.get("__s", x.get("__fs"))]
        return set(items) if "__s" in x else frozenset(items)
    if "__r" in x:
        return Remote(agent, int(x["__r"]), str(x.get("cls", "object"))[:100])
    raise StudentCrashed("the student's process sent a malformed reply")


def rebuild_exception(err, agent):
    """A trusted-side exception for the student's exception described by *err*."""
    types = [str(t) for t in err.get("types", [])][:40]
    msg = str(err.get("msg", ""))[:2000]
    cls = RuntimeError
    for qual in types:
        mod, _, name = qual.rpartition(".")
        if mod == "builtins" and name in BUILTIN_EXC:
            cls = BUILTIN_EXC[name]
            break
        if mod in EXC_MODULES:
            found = getattr(importlib.import_module(mod), name, None)
            if isinstance(found, type) and issubclass(found, Exception):
                cls = found
                break
    student_type = types[0].rpartition(".")[2] if types else "Exception"
    if cls in (SystemExit, KeyboardInterrupt, GeneratorExit):
        exc = StudentExit(f"your code raised {student_type}({msg!r}) inside a call")
    else:
        try:
            exc = cls.__new__(cls)
            exc.args = (msg,) if msg else ()
        except TypeError:
            exc = RuntimeError(msg)
    exc.student_type = student_type
    exc.student_traceback = [str(line)[:300] for line in err.get("tb", [])][-12:]
    if isinstance(err.get("ref"), int):
        exc.remote = Remote(agent, err["ref"], student_type)
    return exc


# -- the proxy ------------------------------------------------------------------------------------

class Remote:
    """A student object living in a boxed process; operations on it are requests to that process."""

    __slots__ = ("_agent", "_id", "_cls", "__weakref__")

    def __init__(self, agent, ident, cls):
        object.__setattr__(self, "_agent", agent)
        object.__setattr__(self, "_id", ident)
        object.__setattr__(self, "_cls", cls)

    def _req(self, op, **kw):
        return object.__getattribute__(self, "_agent").request(op, ref=object.__getattribute__(self, "_id"), **kw)

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return self._req("getattr", name=name)

    def __setattr__(self, name, value):
        self._req("setattr", name=name, value=encode(value, object.__getattribute__(self, "_agent")))

    def __call__(self, *args, **kwargs):
        agent = object.__getattribute__(self, "_agent")
        return self._req("call", args=encode(list(args), agent), kwargs=encode(kwargs, agent))

    def _op(self, name, *args):
        agent = object.__getattribute__(self, "_agent")
        return self._req("op", name=name, args=encode(list(args), agent))

    def __len__(self):
        n = self._op("len")
        if not isinstance(n, int):
            raise TypeError("len() of a student object did not give an int")
        return n

    def __bool__(self):
        return bool(self._op("bool") is True)

    def __iter__(self):
        items = self._op("list")
        if not isinstance(items, list):
            raise TypeError("iterating a student object did not give items")
        return iter(items)

    def __getitem__(self, key):
        return self._op("getitem", key)

    def __setitem__(self, key, value):
        self._op("setitem", key, value)

    def __delitem__(self, key):
        self._op("delitem", key)

    def __contains__(self, item):
        return self._op("contains", item) is True

    def __enter__(self):
        return self._op("enter")

    def __exit__(self, exc_type, exc, tb):
        return self._op("exit", None if exc_type is None else exc_type.__name__, None if exc is None else str(exc)) is True

    def __str__(self):
        s = self._op("str")
        return s if isinstance(s, str) else "<student object>"

    def __repr__(self):
        try:
            s = self._op("repr")
        except Exception:  # noqa: BLE001 - a repr must not fail
            s = None
        return s if isinstance(s, str) else f"<student {object.__getattribute__(self, '_cls')}>"

    def __instancecheck__(self, obj):
        target = obj if isinstance(obj, Remote) else getattr(obj, "remote", None)
        if not isinstance(target, Remote):
            return False
        agent = object.__getattribute__(self, "_agent")
        if object.__getattribute__(target, "_agent") is not agent:
            return False
        return self._req("isinstance", obj=object.__getattribute__(target, "_id")) is True

    def __reduce__(self):
        raise CannotSend("a student object cannot be pickled to another process: pass its handle instead")


# -- one boxed process running the student's module ----------------------------------------------------

class Agent:
    """A guest process of the box that imported the student's module and serves requests."""

    def __init__(self, guest_spec, module, *, out_fd=None, import_timeout=20.0):
        here, there = sandbox.Channel.pair()
        out = out_fd if out_fd is not None else 2
        work = sandbox.WORK if guest_spec["mode"] != "none" else guest_spec.get("work") or "."
        from ipclab.core.paths import PACKAGE_DIR  # the ipclab the grader runs (bound into the box)
        argv = [sandbox.PYTHON, "-I", "-c", AGENT_BOOT, module, work, str(PACKAGE_DIR.parent)]
        self.proc = sandbox.spawn_guest(guest_spec, argv,
                                        stdout=out, stderr=out, pass_fds=(there.fileno(),))
        there.close()
        self.ch = here
        self.pid = self.proc.pid
        self.lock = threading.Lock()
        self.module = None
        self.dead = None
        try:
            hello = self.ch.recv(timeout=import_timeout)
        except TimeoutError:
            self.kill()
            raise StudentImportError(f"importing your module took more than {import_timeout:g} s "
                                     "(a loop, a sleep or a blocking call at import time?)") from None
        except sandbox.ChannelError:
            rc = self._reap(2)
            raise StudentImportError(f"importing your module ended its process ({_how(rc)}): os._exit, "
                                     "a crash, or a limit of the box (memory, processes)?") from None
        if "import_error" in hello:
            err = hello["import_error"]
            self.kill()
            types = err.get("types") or ["Exception"]
            e = StudentImportError(f"your module does not import: {types[0].rpartition('.')[2]}: "
                                   f"{str(err.get('msg', ''))[:500]}")
            e.student_traceback = [str(x)[:300] for x in err.get("tb", [])][-8:]
            raise e
        self.module = Remote(self, 0, "module")

    def request(self, op, **kw):
        with self.lock:
            if self.dead:
                raise StudentCrashed(self.dead)
            try:
                self.ch.send(dict(kw, op=op))
                reply = self.ch.recv()
            except (sandbox.ChannelError, OSError) as e:
                rc = self._reap(2)
                self.dead = f"the process running your code died during {op} ({_how(rc)})"
                raise StudentCrashed(self.dead) from e
        if not isinstance(reply, dict):
            raise StudentCrashed("the student's process sent a malformed reply")
        if "err" in reply:
            raise rebuild_exception(reply["err"], self)
        return decode(reply.get("ok"), self)

    def _reap(self, timeout):
        try:
            return self.proc.wait(timeout)
        except Exception:  # noqa: BLE001
            self.kill()
            return self.proc.returncode

    def kill(self, sig=signal.SIGKILL):
        """Kill the agent (the student's process) and reap it: its exit is complete on return."""
        try:
            os.kill(self.proc.pid, sig)
        except OSError:
            pass
        try:
            self.proc.wait(10)
        except Exception:  # noqa: BLE001
            pass
        self.dead = self.dead or "the process running your code was killed by the test"
        self.ch.close()

    def close(self, timeout=2.0):
        """Ask the agent to exit; kill it if it does not within *timeout*."""
        if self.proc.poll() is None and not self.dead:
            try:
                with self.lock:
                    self.ch.send({"op": "exit"})
            except (sandbox.ChannelError, OSError):
                pass
            try:
                self.proc.wait(timeout)
            except Exception:  # noqa: BLE001
                pass
        if self.proc.poll() is None:
            self.kill()
        self.ch.close()


def _how(rc):
    if rc is None:
        return "still running"
    if rc < 0:
        try:
            return f"killed by {signal.Signals(-rc).name}"
        except ValueError:
            return f"killed by signal {-rc}"
    return f"exit code {rc}"

