/* Lab 2 (19.2), C track: your dining table on one System V semaphore set. Replace each "not
 * written yet" body with your code.
 *
 * The contract (the set, the system calls, errors) is lab2_semsets.h, beside this file: read it
 * first. The brief is labs/lab2_semsets.ipynb and labs/c/README.md. Your teacher grades this file
 * with
 *     ipclab grade lab2 labs/c/lab2_semsets.c --track c
 * which runs the Python track's tests against it (compiled with -std=c11 -Wall -Wextra -Werror
 * and UndefinedBehaviorSanitizer).
 */
#include "lab2_semsets.h"   /* first: it sets _POSIX_C_SOURCE and _GNU_SOURCE, defines union semun */

#include <errno.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <time.h>

const char PROTOCOL[] =
    "(Write your synchronisation protocol here, in your own words; your teacher reads it\n"
    "with your grade. Replace every line in brackets.)\n"
    "Shared state: [what lives in the kernel's set, and what each value means]\n"
    "Locks: [what each semaphore guards; which ones philosopher i needs]\n"
    "Order: [how a philosopher takes its forks, and why no deadlock can form]\n"
    "Invariants: [what is true of the values whenever no semop is in progress]\n"
    "Waiting: [every blocking call, and its timeout]\n"
    "Death: [what happens when a philosopher is killed while eating, and who removes the set]\n";

struct dt {
    int semid;   /* the set's id */
    /* add what this process needs: the number of forks, ... */
};

dt_t *dt_create(key_t key, int n)
{
    (void)key; (void)n;
    errno = ENOSYS;   /* not written yet */
    return NULL;
}

dt_t *dt_attach(int semid)
{
    (void)semid;
    errno = ENOSYS;   /* not written yet */
    return NULL;
}

int dt_id(const dt_t *dt)
{
    (void)dt;
    errno = ENOSYS;   /* not written yet */
    return -1;
}

int dt_size(const dt_t *dt)
{
    (void)dt;
    errno = ENOSYS;   /* not written yet */
    return -1;
}

int dt_pick_up(dt_t *dt, int i, double timeout)
{
    (void)dt; (void)i; (void)timeout;
    errno = ENOSYS;   /* not written yet */
    return -1;
}

int dt_put_down(dt_t *dt, int i)
{
    (void)dt; (void)i;
    errno = ENOSYS;   /* not written yet */
    return -1;
}

int dt_free_forks(dt_t *dt, unsigned short *out, size_t len)
{
    (void)dt; (void)out; (void)len;
    errno = ENOSYS;   /* not written yet */
    return -1;
}

int dt_close(dt_t *dt)
{
    (void)dt;
    errno = ENOSYS;   /* not written yet */
    return -1;
}

int dt_destroy(dt_t *dt)
{
    (void)dt;
    errno = ENOSYS;   /* not written yet */
    return -1;
}
