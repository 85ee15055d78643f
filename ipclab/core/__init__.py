"""The core: processes, names and the registry, object creation, what exists now, doctor, errors.

May import only the standard library, posix_ipc and sysv_ipc (and other core modules).
"""
