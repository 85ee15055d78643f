/* Lab 1 (19.1), C track: your ring buffer. Replace each "not written yet" body with your code.
 *
 * The contract (layout, names, errors) is lab1_ringbuffer.h, beside this file: read it first.
 * The brief is labs/lab1_ringbuffer.ipynb and labs/c/README.md. Your teacher grades this file with
 *     ipclab grade lab1 --track c --submission labs/c/lab1_ringbuffer.c
 * which runs the Python track's tests against it (compiled with -std=c11 -Wall -Wextra -Werror
 * and UndefinedBehaviorSanitizer).
 */
#include "lab1_ringbuffer.h"   /* first: it sets _POSIX_C_SOURCE */

#include <errno.h>
#include <fcntl.h>
#include <semaphore.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

const char PROTOCOL[] =
    "(Write your synchronisation protocol here, in your own words; your teacher reads it\n"
    "with your grade. Replace every line in brackets.)\n"
    "Shared state: [what lives in shared memory, and its layout]\n"
    "Locks: [each semaphore, its initial value, and exactly what it guards]\n"
    "Order: [if a process ever holds two, the order it takes them in, and why no deadlock]\n"
    "Invariants: [what is true of the shared state whenever no process holds the mutex]\n"
    "Waiting: [every blocking call, and its timeout]\n"
    "Death: [what happens when a process dies while holding a semaphore, and who cleans up]\n";

struct rb {
    unsigned char *base;   /* the mapping: header, then the slots */
    size_t size;           /* bytes mapped */
    /* add what this process needs: the three sem_t *, the names for rb_destroy, ... */
};

rb_t *rb_create(const char *const names[RB_NAMES], long capacity, long item_size)
{
    (void)names; (void)capacity; (void)item_size;
    errno = ENOSYS;   /* not written yet */
    return NULL;
}

rb_t *rb_attach(const char *const names[RB_NAMES])
{
    (void)names;
    errno = ENOSYS;   /* not written yet */
    return NULL;
}

int rb_put(rb_t *rb, const void *data, size_t len, double timeout)
{
    (void)rb; (void)data; (void)len; (void)timeout;
    errno = ENOSYS;   /* not written yet */
    return -1;
}

ssize_t rb_get(rb_t *rb, void *buf, size_t bufsize, double timeout)
{
    (void)rb; (void)buf; (void)bufsize; (void)timeout;
    errno = ENOSYS;   /* not written yet */
    return -1;
}

int rb_end(rb_t *rb, double timeout)
{
    (void)rb; (void)timeout;
    errno = ENOSYS;   /* not written yet */
    return -1;
}

int rb_close(rb_t *rb)
{
    (void)rb;
    errno = ENOSYS;   /* not written yet */
    return -1;
}

int rb_destroy(rb_t *rb)
{
    (void)rb;
    errno = ENOSYS;   /* not written yet */
    return -1;
}
