"""Lab 9 mutants, C track (see __init__.py): broken versions of solutions/c/lab9_seqlock.c.

The same bugs as tests/mutants/lab9.py, written in C; graded by tests/test_ctrack.py with
``--track c``: each must lose every point of the tests named for its bug.
"""

LAB = "lab9"
SOLUTION = "c/lab9_seqlock.c"

ODD_CHECK = ("        if (s1 % 2 == 0) {", "        if (s1 % 2 == 0 || 1) {")
RECHECK = ("            if (s1 == s2) {", "            if (s1 == s2 || 1) {")
DESTROY_DETACH = ("    int rc = shmdt(sr->rec);\n    free(sr);\n    if (shmctl", "    int rc = 0;\n    free(sr);\n    if (shmctl")

MUTANTS = {
    # the reader reads the fields and returns them, whatever seq says
    "reader_ignores_seq": ([ODD_CHECK, RECHECK], ["reader_waits_out_a_write", "readers_under_load"]),
    # the reader compares seq before and after, but accepts an odd (stable mid-write) seq
    "reader_no_odd_check": ([ODD_CHECK], ["reader_waits_out_a_write"]),
    # the reader checks seq is even before reading, and never looks at it again
    "reader_no_recheck": ([RECHECK], ["reader_rechecks"]),
    # the writer never makes seq odd: it bumps it by 2 once the fields are written
    "writer_no_odd": ([("    atomic_store_explicit(&r->seq, seq + 1, memory_order_relaxed);        /* odd: writing */\n",
                        "")], ["writer_marks_odd", "readers_under_load"]),
    # seq kept in this process's struct sr: a writer in another process starts again from 0
    "per_process_state": ([("    int shmid;\n};", "    int shmid;\n    uint64_t seq;           /* BUG: this process's own seq */\n};"),
                           ("    sr->shmid = shmid;\n", "    sr->shmid = shmid;\n    sr->seq = 0;\n"),
                           ("    uint64_t seq = atomic_load_explicit(&r->seq, memory_order_relaxed);   /* the only writer */",
                            "    uint64_t seq = sr->seq;\n    sr->seq = seq + 2;")],
                          ["shared_state"]),
    # sr_destroy detaches but never removes: the segment stays (nattch 0) until reboot
    "no_rmid": ([("    if (shmctl(shmid, IPC_RMID, NULL) == -1)\n        rc = -1;\n", "    (void)shmid;\n")],
                ["attach_and_destroy"]),
    # sr_destroy removes without detaching: marked (SHM_DEST) but alive while the owner lives
    "no_detach": ([DESTROY_DETACH], ["attach_and_destroy"]),
    # sr_close forgets shmdt: every attach in a process adds an attachment that stays
    "close_no_detach": ([("    int rc = shmdt(sr->rec);\n    free(sr);\n    return rc;",
                          "    int rc = 0;\n    free(sr);\n    return rc;")], ["attach_and_destroy"]),
}
