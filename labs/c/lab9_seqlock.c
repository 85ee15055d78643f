/* Lab 9 (19.7), C track: your seqlock over System V shared memory. Replace each "not written yet"
 * body with your code.
 *
 * The contract (layout, keys, errors, memory orders) is lab9_seqlock.h, beside this file: read it
 * first. The brief is labs/lab9_seqlock.ipynb and labs/c/README.md. Your teacher grades this file
 * with
 *     ipclab grade lab9 labs/c/lab9_seqlock.c --track c
 * which runs the Python track's tests against it (compiled with -std=c11 -Wall -Wextra -Werror
 * and UndefinedBehaviorSanitizer).
 */
#include "lab9_seqlock.h"   /* first: it sets _POSIX_C_SOURCE */

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <time.h>

const char PROTOCOL[] =
    "(Write your synchronisation protocol here, in your own words; your teacher reads it\n"
    "with your grade. Replace every line in brackets.)\n"
    "Shared state: [what lives in the segment, and its layout]\n"
    "Locks: [none? then what guards x, y and total]\n"
    "Order: [the writer's stores and the reader's loads, in order, with their memory orders]\n"
    "Invariants: [what is true of the record whenever seq is even]\n"
    "Waiting: [every wait or retry, and its timeout]\n"
    "Death: [what happens when a writer or a reader dies, and who removes the segment]\n";

struct sr {
    struct sr_record *rec;   /* the attachment */
    /* add what this process needs: the segment's id, ... */
};

sr_t *sr_create(key_t key)
{
    (void)key;
    errno = ENOSYS;   /* not written yet */
    return NULL;
}

sr_t *sr_attach(int shmid)
{
    (void)shmid;
    errno = ENOSYS;   /* not written yet */
    return NULL;
}

int sr_id(const sr_t *sr)
{
    (void)sr;
    errno = ENOSYS;   /* not written yet */
    return -1;
}

int sr_write(sr_t *sr, uint64_t x, uint64_t y)
{
    (void)sr; (void)x; (void)y;
    errno = ENOSYS;   /* not written yet: the header's rules W1-W3 */
    return -1;
}

int sr_read(sr_t *sr, uint64_t out[4], double timeout)
{
    (void)sr; (void)out; (void)timeout;
    errno = ENOSYS;   /* not written yet: the header's rules R1-R4 */
    return -1;
}

int sr_close(sr_t *sr)
{
    (void)sr;
    errno = ENOSYS;   /* not written yet */
    return -1;
}

int sr_destroy(sr_t *sr)
{
    (void)sr;
    errno = ENOSYS;   /* not written yet */
    return -1;
}
