"""Lab 9 mutants (see __init__.py)."""

LAB = "lab9"
SOLUTION = "lab9_seqlock.py"

ODD_CHECK = ("            if s1 % 2 == 0:\n", "            if True:\n")
RECHECK = ("                if s1 == s2:\n", "                if True:\n")

MUTANTS = {
    # the reader reads the fields and returns them, whatever seq says
    "reader_ignores_seq": ([ODD_CHECK, RECHECK], ["reader_waits_out_a_write", "readers_under_load"]),
    # the reader compares seq before and after, but accepts an odd (stable mid-write) seq
    "reader_no_odd_check": ([ODD_CHECK], ["reader_waits_out_a_write"]),
    # the reader checks seq is even before reading, and never looks at it again
    "reader_no_recheck": ([RECHECK], ["reader_rechecks"]),
    # the writer never makes seq odd: it bumps it by 2 once the fields are written
    "writer_no_odd": ([("        w[SEQ] = (seq + 1) & MASK          # odd: a write is in progress\n", "")],
                      ["writer_marks_odd", "readers_under_load"]),
    # seq kept in the Python object: a writer in another process starts again from 0
    "per_process_state": ([("        self.owner = owner      # True in the creating process\n",
                            "        self.owner = owner      # True in the creating process\n        self.seq = 0\n"),
                           ("        seq = w[SEQ]\n", "        seq = self.seq\n        self.seq = seq + 2\n")],
                          ["shared_state"]),
    # destroy() detaches but never removes: the segment stays (nattch 0) until reboot
    "no_rmid": ([("        objects.remove_sysv(self.shm)      # C: shmdt(addr); shmctl(id, IPC_RMID, NULL)",
                  "        self.shm.detach()")], ["attach_and_destroy"]),
    # destroy() removes without detaching: marked (SHM_DEST) but alive while the owner lives
    "no_detach": ([("        objects.remove_sysv(self.shm)      # C: shmdt(addr); shmctl(id, IPC_RMID, NULL)",
                    "        self.shm.remove()")], ["attach_and_destroy"]),
    # close() forgets shmdt: every attach() in a process adds an attachment that stays
    "close_no_detach": ([("        self.shm.detach()                  # C: shmdt(addr)\n", "")],
                        ["attach_and_destroy"]),
}
