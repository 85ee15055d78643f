"""Lab 2 mutants, C track (see __init__.py): broken versions of solutions/c/lab2_semsets.c.

The same bugs as tests/mutants/lab2.py, written in C (and two of the C contract's own); graded
by tests/test_ctrack.py with ``--track c``: each must lose every point of the tests named for
its bug.
"""

LAB = "lab2"
SOLUTION = "c/lab2_semsets.c"

ONE_SEMOP = ('''        if (semtimedop(dt->semid, both, 2, &wait) == 0)   /* both forks, or neither */
            return 0;''', '''        if (semtimedop(dt->semid, &both[0], 1, &wait) == 0) {   /* BUG: the left fork first, */
            struct sembuf right = {.sem_num = (unsigned short)((i + 1) % dt->n), .sem_op = -1,
                                   .sem_flg = SEM_UNDO};
            struct timespec rest = wait;
            if (semtimedop(dt->semid, &right, 1, &rest) == 0)  /* then the right one */
                return 0;
            int saved = errno;
            struct sembuf back = {.sem_num = (unsigned short)i, .sem_op = +1, .sem_flg = SEM_UNDO};
            semop(dt->semid, &back, 1);                           /* a timeout gives the left one back */
            errno = saved;
        }''')
PUT_UNDO = ".sem_op = +1, .sem_flg = SEM_UNDO},"
LOCAL_TABLE = """/* BUG: the forks are an array in this process's memory; the "id" is made up */
static dt_t *local_table(int n)
{
    if (n < 2 || n > 256) {
        errno = EINVAL;
        return NULL;
    }
    dt_t *dt = malloc(sizeof *dt);
    if (dt == NULL)
        return NULL;
    dt->semid = 0x7fffffff;
    dt->n = n;
    for (int k = 0; k < n; k++)
        dt->forks[k] = 1;
    return dt;
}

dt_t *dt_create(key_t key, int n)
{"""
LOCAL_TAKE = """static int local_take(dt_t *dt, int i, double timeout)
{
    int right = (i + 1) % dt->n;
    double deadline = now() + timeout;
    while (!(dt->forks[i] && dt->forks[right])) {
        if (now() > deadline) {
            errno = ETIMEDOUT;
            return -1;
        }
        struct timespec pause = {0, 10000000};
        nanosleep(&pause, NULL);
    }
    dt->forks[i] = dt->forks[right] = 0;
    return 0;
}

int dt_pick_up(dt_t *dt, int i, double timeout)
{
    if (i < 0 || i >= dt->n || !(timeout >= 0)) {"""

MUTANTS = {
    # left fork, then right fork, in two semops (and the left one given back on a timeout)
    "two_semops": ([ONE_SEMOP], ["atomic_timeout", "dinner_party"]),
    # no SEM_UNDO: a philosopher killed while eating keeps the forks
    "no_sem_undo": ([(".sem_flg = SEM_UNDO}", ".sem_flg = 0}")], ["killed_while_eating"]),
    # SEM_UNDO on the take only: each meal leaves +1 in the process's adjustment, applied at exit
    "undo_on_take_only": ([(PUT_UNDO, ".sem_op = +1, .sem_flg = 0},")], ["dinner_party"]),
    # nothing shared: the forks are an array in each process's struct dt
    "nothing_shared": ([("    int n;       /* forks = philosophers = semaphores in the set */\n};",
                         "    int n;       /* forks = philosophers = semaphores in the set */\n"
                         "    unsigned short forks[256];   /* BUG: this process's own forks */\n};"),
                        ("int dt_pick_up(dt_t *dt, int i, double timeout)\n{\n"
                         "    if (i < 0 || i >= dt->n || !(timeout >= 0)) {", LOCAL_TAKE),
                        ("dt_t *dt_create(key_t key, int n)\n{", LOCAL_TABLE),
                        ("    struct sembuf both[2] = {\n        {.sem_num = (unsigned short)i, .sem_op = -1,",
                         "    return local_take(dt, i, timeout);\n"
                         "    struct sembuf both[2] = {\n        {.sem_num = (unsigned short)i, .sem_op = -1,"),
                        ("    struct sembuf both[2] = {\n        {.sem_num = (unsigned short)i, .sem_op = +1,",
                         "    dt->forks[i] = dt->forks[(i + 1) % dt->n] = 1;\n    return 0;\n"
                         "    struct sembuf both[2] = {\n        {.sem_num = (unsigned short)i, .sem_op = +1,"),
                        ("    if (n < 2) {\n        errno = EINVAL;\n        return NULL;\n    }\n",
                         "    return local_table(n);\n"),
                        ("    struct semid_ds ds;\n", "    return local_table(8);\n    struct semid_ds ds;\n"),
                        ("    union semun arg = {.array = out};\n    if (semctl(dt->semid, 0, GETALL, arg) == -1)\n"
                         "        return -1;\n",
                         "    for (int k = 0; k < dt->n; k++)\n        out[k] = dt->forks[k];\n"),
                        ("    int semid = dt->semid;\n    free(dt);\n    return semctl(semid, 0, IPC_RMID) == -1 ? -1 : 0;",
                         "    free(dt);\n    return 0;")],
                       ["both_forks", "killed_while_eating"]),
    # dt_destroy frees the handle but never removes the set (no IPC_RMID): it stays until reboot
    "no_rmid": ([("    return semctl(semid, 0, IPC_RMID) == -1 ? -1 : 0;", "    (void)semid;\n    return 0;")],
                ["create_and_destroy"]),
    # a timed-out wait reports semtimedop's EAGAIN (OSError) instead of ETIMEDOUT (TimeoutError)
    "timeout_is_eagain": ([("        if (errno == EAGAIN) {\n            errno = ETIMEDOUT;\n            return -1;\n        }\n",
                            "")], ["atomic_timeout"]),
}
