/* Lab 2 (19.2), C track: the reference dining table (one System V semaphore set).
 *
 * The contract is lab2_semsets.h; the Python track's reference is solutions/lab2_semsets.py
 * (through ipclab.mechanisms.semset), and this file makes the same system calls.
 */
#include "lab2_semsets.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <time.h>

const char PROTOCOL[] =
    "Shared state: one System V set of n semaphores; semaphore k is fork k (1 on the table,\n"
    "0 in a hand). Nothing else is shared: struct dt only holds the set's id and n.\n"
    "Locks: fork k guards itself; philosopher i needs forks i and (i+1) % n.\n"
    "Order: there is none to respect: dt_pick_up takes both forks in ONE semtimedop, which the\n"
    "kernel applies all at once or not at all, so nobody ever holds one fork while waiting for\n"
    "the other, and the circular wait behind the deadlock cannot form.\n"
    "Invariants: every value is 0 or 1; forks i and (i+1) % n are both 0 iff philosopher i\n"
    "eats; two neighbours never eat together, since they share a fork.\n"
    "Waiting: dt_pick_up is semtimedop with the caller's timeout (what is left of it after an\n"
    "EINTR); a timeout (EAGAIN) takes nothing and is reported as ETIMEDOUT. dt_put_down never\n"
    "waits (it only adds).\n"
    "Death: every operation carries SEM_UNDO, in dt_pick_up AND dt_put_down, so the kernel's\n"
    "per-process adjustment is 0 between meals and +1 per fork during one: a philosopher killed\n"
    "while eating gets its forks put back by the kernel at exit. The creator's dt_destroy\n"
    "removes the set (IPC_RMID).\n";

struct dt {
    int semid;   /* the set's id */
    int n;       /* forks = philosophers = semaphores in the set */
};

static dt_t *new_handle(int semid, int n)
{
    dt_t *dt = malloc(sizeof *dt);
    if (dt != NULL) {
        dt->semid = semid;
        dt->n = n;
    }
    return dt;
}

dt_t *dt_create(key_t key, int n)
{
    if (n < 2) {
        errno = EINVAL;
        return NULL;
    }
    int semid = semget(key, n, IPC_CREAT | IPC_EXCL | 0600);
    if (semid == -1)
        return NULL;
    unsigned short *ones = malloc((size_t)n * sizeof *ones);
    dt_t *dt = new_handle(semid, n);
    int saved = ENOMEM;
    if (ones != NULL && dt != NULL) {
        for (int k = 0; k < n; k++)
            ones[k] = 1;                             /* every fork on the table */
        union semun arg = {.array = ones};
        if (semctl(semid, 0, SETALL, arg) == 0) {
            free(ones);
            return dt;
        }
        saved = errno;
    }
    semctl(semid, 0, IPC_RMID);                      /* nothing left behind */
    free(ones);
    free(dt);
    errno = saved;
    return NULL;
}

dt_t *dt_attach(int semid)
{
    struct semid_ds ds;
    union semun arg = {.buf = &ds};
    if (semctl(semid, 0, IPC_STAT, arg) == -1)
        return NULL;
    dt_t *dt = new_handle(semid, (int)ds.sem_nsems);
    if (dt == NULL)
        errno = ENOMEM;
    return dt;
}

int dt_id(const dt_t *dt)
{
    return dt->semid;
}

int dt_size(const dt_t *dt)
{
    return dt->n;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int dt_pick_up(dt_t *dt, int i, double timeout)
{
    if (i < 0 || i >= dt->n || !(timeout >= 0)) {   /* !(>=): a NaN timeout is refused too */
        errno = EINVAL;
        return -1;
    }
    struct sembuf both[2] = {
        {.sem_num = (unsigned short)i, .sem_op = -1, .sem_flg = SEM_UNDO},
        {.sem_num = (unsigned short)((i + 1) % dt->n), .sem_op = -1, .sem_flg = SEM_UNDO},
    };
    double deadline = now() + timeout;
    double left = timeout;
    for (;;) {
        if (left > 1e9)
            left = 1e9;
        struct timespec wait = {(time_t)left, (long)((left - (double)(time_t)left) * 1e9)};
        if (semtimedop(dt->semid, both, 2, &wait) == 0)   /* both forks, or neither */
            return 0;
        if (errno == EAGAIN) {
            errno = ETIMEDOUT;
            return -1;
        }
        if (errno != EINTR)
            return -1;
        left = deadline - now();                     /* a signal: wait for what is left */
        if (left < 0)
            left = 0;
    }
}

int dt_put_down(dt_t *dt, int i)
{
    if (i < 0 || i >= dt->n) {
        errno = EINVAL;
        return -1;
    }
    struct sembuf both[2] = {
        {.sem_num = (unsigned short)i, .sem_op = +1, .sem_flg = SEM_UNDO},
        {.sem_num = (unsigned short)((i + 1) % dt->n), .sem_op = +1, .sem_flg = SEM_UNDO},
    };
    while (semop(dt->semid, both, 2) == -1) {        /* adding never waits */
        if (errno != EINTR)
            return -1;
    }
    return 0;
}

int dt_free_forks(dt_t *dt, unsigned short *out, size_t len)
{
    if (len < (size_t)dt->n) {
        errno = EINVAL;
        return -1;
    }
    union semun arg = {.array = out};
    if (semctl(dt->semid, 0, GETALL, arg) == -1)
        return -1;
    return dt->n;
}

int dt_close(dt_t *dt)
{
    free(dt);
    return 0;
}

int dt_destroy(dt_t *dt)
{
    int semid = dt->semid;
    free(dt);
    return semctl(semid, 0, IPC_RMID) == -1 ? -1 : 0;
}
