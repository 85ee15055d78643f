"""Processes seen from outside, for the tests: psutil, one place (the lessons read /proc themselves)."""

import os

import psutil

__all__ = ["alive", "children_of", "descendants", "group_members", "until"]

_DEAD = (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD)


def alive(pid):
    """True if *pid* exists and is not dead (a zombie awaiting its reaper is dead)."""
    try:
        return psutil.Process(pid).status() not in _DEAD
    except psutil.NoSuchProcess:
        return False


def children_of(pid):
    """The pids whose parent is *pid*."""
    try:
        return [c.pid for c in psutil.Process(pid).children()]
    except psutil.NoSuchProcess:
        return []


def descendants(pid):
    """PIDs of every living descendant of *pid*."""
    try:
        return [c.pid for c in psutil.Process(pid).children(recursive=True) if alive(c.pid)]
    except psutil.NoSuchProcess:
        return []


def group_members(pgid):
    """Living processes of process group *pgid*."""
    found = []
    for pid in psutil.pids():
        try:
            if os.getpgid(pid) == pgid and alive(pid):
                found.append(pid)
        except (ProcessLookupError, PermissionError):
            continue
    return found


def until(predicate, seconds=15):
    """True once *predicate* holds, False after *seconds* (synchronisation, never a timing claim)."""
    from ipclab.core.errors import WaitTimeout
    from ipclab.core.waiting import wait_until
    try:
        return wait_until(predicate, seconds, "a test condition", max_poll=0.05)
    except WaitTimeout:
        return False
