"""The one table of the kinds of object the course creates, and how each is named and removed.

Why one table: the registry records objects by kind, the cleanup removes them, the inventory
lists them from the kernel's files, the grader names leaks in words and the ``%%c`` magic
passes them to C programs. Each reads this table, so adding a kind touches one place.

The removers are named, not imported, so that importing the registry (every worker does)
does not load the IPC extensions until something is removed.
"""

import importlib
from dataclasses import dataclass

__all__ = ["Kind", "KINDS", "NAMES", "SYSV_TABLES", "POSIX_DIRS", "label", "unlinker", "remover_by_id"]


@dataclass(frozen=True)
class Kind:
    name: str                   #: the registry's key, e.g. "posix_shm"
    label: str                  #: what a person calls it (grade reports, messages)
    sysv_table: str = ""        #: System V: the table in /proc/sysvipc/ (what ``ipcs`` reads)
    listed_in: str = ""         #: POSIX: the directory whose files are these objects
    unlink_by_name: str = ""    #: POSIX: "module.function" removing the object by name
    remove_by_id: str = ""      #: System V: "module.function" removing the object by id


_TABLE = (
    Kind("posix_shm", "POSIX shared memory segment", listed_in="/dev/shm",
         unlink_by_name="posix_ipc.unlink_shared_memory"),
    Kind("posix_sem", "POSIX semaphore", unlink_by_name="posix_ipc.unlink_semaphore"),  # /dev/shm/sem.NAME
    Kind("posix_mq", "POSIX message queue", listed_in="/dev/mqueue",
         unlink_by_name="posix_ipc.unlink_message_queue"),
    Kind("sysv_shm", "System V shared memory segment", sysv_table="shm",
         remove_by_id="sysv_ipc.remove_shared_memory"),
    Kind("sysv_sem", "System V semaphore set", sysv_table="sem", remove_by_id="sysv_ipc.remove_semaphore"),
    Kind("sysv_msg", "System V message queue", sysv_table="msg", remove_by_id="sysv_ipc.remove_message_queue"),
    Kind("file", "file"),
)

#: kind name -> Kind, in the order above
KINDS = {k.name: k for k in _TABLE}
#: the kind names, in order (what the registry accepts)
NAMES = tuple(KINDS)
#: /proc/sysvipc table -> kind name
SYSV_TABLES = {k.sysv_table: k.name for k in _TABLE if k.sysv_table}
#: directory -> kind name, for the POSIX kinds listed as files
POSIX_DIRS = {k.listed_in: k.name for k in _TABLE if k.listed_in}


def label(kind):
    """What a person calls *kind* ("System V message queue"); the kind itself if unknown."""
    return KINDS[kind].label if kind in KINDS else kind


def _function(dotted):
    module, _, func = dotted.rpartition(".")
    return getattr(importlib.import_module(module), func)


def unlinker(kind):
    """The function removing a POSIX object of *kind* by name (``shm_unlink``, ``sem_unlink``, ``mq_unlink``)."""
    if not KINDS[kind].unlink_by_name:
        raise ValueError(f"{kind} is not removed by name")
    return _function(KINDS[kind].unlink_by_name)


def remover_by_id(kind):
    """The function removing a System V object of *kind* by id (``shmctl``/``semctl``/``msgctl`` ``IPC_RMID``)."""
    if not KINDS[kind].remove_by_id:
        raise ValueError(f"{kind} is not removed by id")
    return _function(KINDS[kind].remove_by_id)
