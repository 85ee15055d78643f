"""Waiting for another process by polling, with a deadline that names what was awaited.

Why polling: some conditions have no kernel wait to block on (a record written, a process
gone, a value in a segment). Every such wait in the course goes through :func:`wait_until`,
so none can hang and every timeout says what did not happen.
"""

import time

from ipclab.core.errors import WaitTimeout

__all__ = ["wait_until"]


def wait_until(predicate, timeout, what, poll=0.0005, max_poll=0.01):
    """Poll *predicate* until it is true; :class:`WaitTimeout` naming *what* after *timeout* s.

    The poll interval starts at *poll* and doubles up to *max_poll*: quick when the other side
    is quick, cheap when it is slow.
    """
    deadline = time.monotonic() + timeout
    delay = poll
    while not predicate():
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"waited {timeout:g} s for {what}; is the other process alive "
                              "and following the protocol? Raise timeout= if the machine is slow.")
        time.sleep(delay)
        delay = min(delay * 2, max_poll)
    return True
