"""The box's side of the narrow channel: import the student's module, serve the test's requests.

Runs as a guest (box uid, box root, rlimits), so nothing here is trusted: the student's
module may rewrite any of it, and that gains nothing, because verdicts are decided by the
test on the other side of the channel (:mod:`ipclab.tooling.grading.remote`). This only
turns requests into operations on the student's objects and results into JSON.
"""

import base64
import faulthandler
import importlib
import os
import signal
import sys
import traceback

from ipclab.tooling.grading.sandbox import Channel, ChannelError

__all__ = ["main"]

MAX_DEPTH = 40


def _describe(exc, table):
    tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
    lines = "".join(tb).rstrip().splitlines()
    lines = [line for line in lines if "ipclab/tooling/grading/agent.py" not in line]
    table.append(exc)
    return {"types": [f"{c.__module__}.{c.__qualname__}" for c in type(exc).__mro__],
            "msg": str(exc)[:2000], "tb": lines[-12:], "ref": len(table) - 1}


def _encode(x, table, depth=0):
    if depth > MAX_DEPTH:
        raise ValueError("value nested too deeply")
    if x is None or isinstance(x, (bool, str)):
        return x if type(x) in (bool, str) or x is None else (bool(x) if isinstance(x, bool) else str(x))
    if isinstance(x, int):
        return int(x)
    if isinstance(x, float):
        return float(x)
    if isinstance(x, (bytes, memoryview)):
        return {"__b": base64.b64encode(bytes(x)).decode()}
    if isinstance(x, bytearray):
        return {"__ba": base64.b64encode(bytes(x)).decode()}
    if isinstance(x, tuple) and type(x) is tuple:
        return {"__t": [_encode(v, table, depth + 1) for v in x]}
    if type(x) is list:
        return [_encode(v, table, depth + 1) for v in x]
    if type(x) is dict:
        return {"__d": [[_encode(k, table, depth + 1), _encode(v, table, depth + 1)] for k, v in x.items()]}
    if type(x) in (set, frozenset):
        return {("__s" if type(x) is set else "__fs"): [_encode(v, table, depth + 1) for v in x]}
    table.append(x)
    return {"__r": len(table) - 1, "cls": type(x).__name__, "c": callable(x)}


def _decode(x, table, depth=0):
    if depth > MAX_DEPTH:
        raise ValueError("value nested too deeply")
    if x is None or isinstance(x, (bool, int, float, str)):
        return x
    if isinstance(x, list):
        return [_decode(v, table, depth + 1) for v in x]
    if "__b" in x:
        return base64.b64decode(x["__b"])
    if "__ba" in x:
        return bytearray(base64.b64decode(x["__ba"]))
    if "__t" in x:
        return tuple(_decode(v, table, depth + 1) for v in x["__t"])
    if "__d" in x:
        return {_decode(k, table, depth + 1): _decode(v, table, depth + 1) for k, v in x["__d"]}
    if "__s" in x:
        return {_decode(v, table, depth + 1) for v in x["__s"]}
    if "__fs" in x:
        return frozenset(_decode(v, table, depth + 1) for v in x["__fs"])
    if "__range" in x:
        return range(*x["__range"])
    if "__r" in x:
        return table[x["__r"]]
    if "__f" in x:
        mod, qual = x["__f"]
        obj = importlib.import_module(mod)
        for part in qual.split("."):
            obj = getattr(obj, part)
        return obj
    raise ValueError("malformed request")


def _op(name, obj, args):
    if name == "len":
        return len(obj)
    if name == "bool":
        return bool(obj)
    if name == "list":
        return list(obj)
    if name == "getitem":
        return obj[args[0]]
    if name == "setitem":
        obj[args[0]] = args[1]
        return None
    if name == "delitem":
        del obj[args[0]]
        return None
    if name == "contains":
        return args[0] in obj
    if name == "enter":
        return obj.__enter__()
    if name == "exit":
        if args[0] is None:
            return obj.__exit__(None, None, None)
        exc_type = getattr(__builtins__ if isinstance(__builtins__, dict) else vars(__builtins__), "get",
                           lambda *_: None)(args[0]) or Exception
        if not (isinstance(exc_type, type) and issubclass(exc_type, BaseException)):
            exc_type = Exception
        return obj.__exit__(exc_type, exc_type(args[1]), None)
    if name == "str":
        return str(obj)
    if name == "repr":
        return repr(obj)
    raise ValueError(f"unknown operation {name!r}")


def _serve(msg, table):
    op = msg.get("op")
    obj = table[msg["ref"]]
    if op == "getattr":
        return getattr(obj, msg["name"])
    if op == "setattr":
        setattr(obj, msg["name"], _decode(msg["value"], table))
        return None
    if op == "call":
        return obj(*_decode(msg["args"], table), **_decode(msg["kwargs"], table))
    if op == "op":
        return _op(msg["name"], obj, _decode(msg["args"], table))
    if op == "isinstance":
        return isinstance(table[msg["obj"]], obj)
    raise ValueError(f"unknown request {op!r}")


def main(fd, module):
    """Import *module* (from the submission folder), then answer requests on fd *fd* until told to exit."""
    faulthandler.enable()
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    ch = Channel.from_fd(fd)
    table = []
    try:
        mod = importlib.import_module(module)
    except BaseException as e:  # noqa: BLE001 - SystemExit at import too: reported once, plainly
        ch.send({"import_error": _describe(e, table)})
        os._exit(1)
    table.append(mod)
    ch.send({"ready": 0})
    while True:
        try:
            msg = ch.recv()
        except ChannelError:
            os._exit(0)
        if msg.get("op") == "exit":
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)
        try:
            reply = {"ok": _encode(_serve(msg, table), table)}
        except BaseException as e:  # noqa: BLE001 - every failure goes back to the test
            reply = {"err": _describe(e, table)}
        try:
            ch.send(reply)
        except (ValueError, TypeError, ChannelError) as e:
            ch.send({"err": _describe(RuntimeError(f"the result could not be sent back: {e}"), table)})
