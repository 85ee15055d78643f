"""The IPC mechanisms the course builds on: POSIX shm segments and rings, System V semaphore
sets, message queues, file mappings, strace. May import :mod:`ipclab.core` only.
"""
