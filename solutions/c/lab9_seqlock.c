/* Lab 9 (19.7), C track: the reference seqlock over System V shared memory.
 *
 * The contract and the layout are in lab9_seqlock.h (its rules W1-W3, R1-R4 are marked below);
 * the Python track's reference is solutions/lab9_seqlock.py. The memory orders are Boehm's
 * fence-based seqlock (MSPC 2012): a release fence after the writer's odd store (the Linux
 * kernel's write_seqcount_begin: smp_wmb), an acquire fence before the reader's second load of seq
 * (read_seqcount_retry: smp_rmb).
 */
#include "lab9_seqlock.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <time.h>

const char PROTOCOL[] =
    "Shared state: one System V segment (shmget IPC_CREAT|IPC_EXCL, 0600, the grader's key) of four\n"
    "_Atomic uint64_t words: seq, x, y, total; each process attaches it with shmat.\n"
    "Locks: none. seq guards x, y and total; one writer only (the contract), so seq needs no lock.\n"
    "Order: the writer stores seq+1 (odd), a release fence, then x, y, total (relaxed), then seq+2\n"
    "with release. A reader loads seq with acquire (s1), retries while odd, loads x, y, total\n"
    "(relaxed), an acquire fence, loads seq again (s2) and keeps the snapshot only if s2 == s1: the\n"
    "fences keep the field accesses between the two seq accesses on every CPU, not only x86-64.\n"
    "Invariants: seq even iff no write is in progress; while seq is even and unchanged, x, y, total\n"
    "are those of write seq/2 and total == x + y mod 2**64; seq only grows.\n"
    "Waiting: sr_read retries (sched_yield, then 0.5 ms sleeps) until its CLOCK_MONOTONIC deadline,\n"
    "then fails with ETIMEDOUT; sr_write never waits.\n"
    "Death: a dead reader changes nothing. A writer killed mid-write leaves seq odd for ever: readers\n"
    "time out. The kernel detaches a dead process (nattch drops); the creator's sr_destroy does\n"
    "shmdt + IPC_RMID.\n";

struct sr {
    struct sr_record *rec;  /* the attachment */
    int shmid;
};

static sr_t *attached(int shmid)
{
    sr_t *sr = malloc(sizeof *sr);
    if (sr == NULL)
        return NULL;
    void *addr = shmat(shmid, NULL, 0);
    if (addr == (void *)-1) {
        int saved = errno;
        free(sr);
        errno = saved;
        return NULL;
    }
    sr->rec = addr;
    sr->shmid = shmid;
    return sr;
}

sr_t *sr_create(key_t key)
{
    int shmid = shmget(key, SR_SIZE, IPC_CREAT | IPC_EXCL | 0600);
    if (shmid == -1)
        return NULL;
    sr_t *sr = attached(shmid);
    if (sr == NULL) {
        int saved = errno;
        shmctl(shmid, IPC_RMID, NULL);
        errno = saved;
        return NULL;
    }
    /* shmget(2): a new segment's bytes are zero; say so once more, before anyone attaches */
    atomic_store_explicit(&sr->rec->seq, 0, memory_order_relaxed);
    atomic_store_explicit(&sr->rec->x, 0, memory_order_relaxed);
    atomic_store_explicit(&sr->rec->y, 0, memory_order_relaxed);
    atomic_store_explicit(&sr->rec->total, 0, memory_order_release);
    return sr;
}

sr_t *sr_attach(int shmid)
{
    return attached(shmid);
}

int sr_id(const sr_t *sr)
{
    return sr->shmid;
}

int sr_write(sr_t *sr, uint64_t x, uint64_t y)
{
    struct sr_record *r = sr->rec;
    uint64_t seq = atomic_load_explicit(&r->seq, memory_order_relaxed);   /* the only writer */
    atomic_store_explicit(&r->seq, seq + 1, memory_order_relaxed);        /* odd: writing */
    atomic_thread_fence(memory_order_release);     /* W1: the odd seq is visible before any field */
    atomic_store_explicit(&r->x, x, memory_order_relaxed);
    atomic_store_explicit(&r->y, y, memory_order_relaxed);
    atomic_store_explicit(&r->total, x + y, memory_order_relaxed);        /* W2; unsigned: mod 2**64 */
    atomic_store_explicit(&r->seq, seq + 2, memory_order_release);        /* W3 even: stable */
    return 0;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int sr_read(sr_t *sr, uint64_t out[4], double timeout)
{
    struct sr_record *r = sr->rec;
    double deadline = now() + timeout;
    for (unsigned tries = 0;; tries++) {
        uint64_t s1 = atomic_load_explicit(&r->seq, memory_order_acquire);   /* R1 */
        if (s1 % 2 == 0) {
            uint64_t x = atomic_load_explicit(&r->x, memory_order_relaxed);
            uint64_t y = atomic_load_explicit(&r->y, memory_order_relaxed);
            uint64_t total = atomic_load_explicit(&r->total, memory_order_relaxed);   /* R2 */
            atomic_thread_fence(memory_order_acquire);   /* R3: the fields are loaded before seq again */
            uint64_t s2 = atomic_load_explicit(&r->seq, memory_order_relaxed);
            if (s1 == s2) {                              /* R4 */
                out[0] = s1;
                out[1] = x;
                out[2] = y;
                out[3] = total;
                return 0;
            }
        }
        if (now() > deadline) {
            errno = ETIMEDOUT;
            return -1;
        }
        if (tries < 50) {
            sched_yield();                               /* let the writer finish its write */
        } else {
            struct timespec pause = {0, 500000};
            nanosleep(&pause, NULL);
        }
    }
}

int sr_close(sr_t *sr)
{
    int rc = shmdt(sr->rec);
    free(sr);
    return rc;
}

int sr_destroy(sr_t *sr)
{
    int shmid = sr->shmid;
    int rc = shmdt(sr->rec);
    free(sr);
    if (shmctl(shmid, IPC_RMID, NULL) == -1)
        rc = -1;
    return rc;
}
