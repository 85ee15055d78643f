"""ipclab's own exceptions: each message says what went wrong *and what to do next*.

Students meet these in notebook cells, so a bare ``OSError(28)`` is never enough:
every error names the object or process involved and the fix to try.
"""

__all__ = ["IpclabError", "BadArgument", "NotSupported", "LimitReached", "ObjectGone", "WaitTimeout",
           "ChildError", "ChildTimeout"]


class IpclabError(Exception):
    """Base class of every error ipclab raises on purpose."""


class BadArgument(IpclabError, ValueError):
    """A call was given a value it cannot use (size, name, key, start method...)."""


class NotSupported(IpclabError):
    """This machine lacks what a demo needs; the message says how to get it."""


class LimitReached(IpclabError):
    """A kernel limit stopped the operation; the message names the limit and the fix."""


class ObjectGone(IpclabError):
    """The IPC object was removed (by us, another process, or ``ipcrm``) while in use."""


class WaitTimeout(IpclabError, TimeoutError):
    """A blocking call waited longer than its timeout; the message says what waited for what."""


class ChildError(IpclabError):
    """A worker process raised; carries the child's own traceback text.

    ``child_traceback`` is the formatted traceback from inside the child and
    ``exitcode``/``pid``/``worker`` say which child it was.
    """

    def __init__(self, message, *, worker=None, pid=None, exitcode=None, child_traceback=""):
        super().__init__(message)
        self.worker = worker
        self.pid = pid
        self.exitcode = exitcode
        self.child_traceback = child_traceback


class ChildTimeout(ChildError, TimeoutError):
    """Workers were still running at the deadline; they have been killed and reaped."""
