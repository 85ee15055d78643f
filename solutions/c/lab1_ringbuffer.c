/* Lab 1 (19.1), C track: the reference ring buffer (POSIX shared memory + named POSIX semaphores).
 *
 * The contract and the layout are in lab1_ringbuffer.h; the Python track's reference is
 * solutions/lab1_ringbuffer.py, and this file follows it call for call.
 */
#include "lab1_ringbuffer.h"

#include <errno.h>
#include <fcntl.h>
#include <semaphore.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

const char PROTOCOL[] =
    "Shared state: the segment holds head, tail, capacity, item_size, ended, then capacity\n"
    "slots of (length, bytes); capacity and item_size are written once, by rb_create().\n"
    "Locks: empty (starts at capacity) counts free slots; full (starts at 0) counts slots holding\n"
    "a record or the end marker; mutex (starts at 1) guards head, tail, ended and the slot in use.\n"
    "Order: empty or full first, then mutex; never wait on empty or full while holding mutex, so\n"
    "no cycle of waits. A mutex timeout posts back the empty/full unit already taken.\n"
    "Invariants (mutex free): slots head..tail-1 hold records in put order; empty + full\n"
    "(+ 1 if the marker is in) = capacity, except for units in flight; ended = 1 iff the marker is in.\n"
    "Waiting: every wait is sem_timedwait with the caller's deadline (rb_deadline).\n"
    "End: rb_end() writes a length-0 marker like a record, sets ended, posts full. A get that finds\n"
    "the marker leaves it and posts full again (a baton), so every consumer wakes and returns 0.\n"
    "Death: a process killed holding mutex leaves it at 0 (no undo for POSIX semaphores): the\n"
    "others time out; the creator's rb_destroy() removes everything.\n";

struct rb {
    unsigned char *base;          /* the mapping: header, then the slots */
    size_t size;                  /* bytes mapped */
    sem_t *empty, *full, *mutex;
    uint32_t capacity, item_size; /* copies of the header's constant fields */
    char names[RB_NAMES][256];    /* for rb_destroy's unlinks */
};

static struct rb_header *hdr(rb_t *rb) { return (struct rb_header *)rb->base; }
static unsigned char *slot(rb_t *rb, uint32_t i) { return rb->base + RB_SLOT_OFFSET(rb->item_size, i); }

/* sem_timedwait until *deadline*, again after a signal; 0, or -1 with errno ETIMEDOUT. */
static int wait_until(sem_t *s, const struct timespec *deadline)
{
    while (sem_timedwait(s, deadline) == -1) {
        if (errno != EINTR)
            return -1;
    }
    return 0;
}

/* Take *unit* (empty or full), then the mutex; on a mutex timeout give *unit* back. */
static int take_both(rb_t *rb, sem_t *unit, double timeout)
{
    struct timespec deadline = rb_deadline(timeout);
    if (wait_until(unit, &deadline) == -1)
        return -1;
    if (wait_until(rb->mutex, &deadline) == -1) {
        int saved = errno;
        sem_post(unit);
        errno = saved;
        return -1;
    }
    return 0;
}

static void undo_create(rb_t *rb, int made)
{
    int saved = errno;
    if (rb->base && rb->base != MAP_FAILED)
        munmap(rb->base, rb->size);
    sem_t *sems[3] = {rb->empty, rb->full, rb->mutex};
    for (int i = 0; i < 3; i++)
        if (sems[i] && sems[i] != SEM_FAILED)
            sem_close(sems[i]);
    if (made) {
        shm_unlink(rb->names[RB_SEGMENT]);
        for (int i = RB_EMPTY; i < made && i < RB_NAMES; i++)
            sem_unlink(rb->names[i]);
    }
    free(rb);
    errno = saved;
}

static int copy_names(rb_t *rb, const char *const names[RB_NAMES])
{
    for (int i = 0; i < RB_NAMES; i++) {
        if (names[i] == NULL || strlen(names[i]) >= sizeof rb->names[i]) {
            errno = EINVAL;
            return -1;
        }
        strcpy(rb->names[i], names[i]);
    }
    return 0;
}

rb_t *rb_create(const char *const names[RB_NAMES], long capacity, long item_size)
{
    if (capacity <= 0 || item_size <= 0 || capacity > UINT32_MAX || item_size > UINT32_MAX ||
        (size_t)capacity > (SIZE_MAX - RB_HEADER_SIZE) / (4u + (size_t)item_size)) {
        errno = EINVAL;
        return NULL;
    }
    rb_t *rb = calloc(1, sizeof *rb);
    if (rb == NULL)
        return NULL;
    if (copy_names(rb, names) == -1) {
        free(rb);
        return NULL;
    }
    rb->capacity = (uint32_t)capacity;
    rb->item_size = (uint32_t)item_size;
    rb->size = RB_SEGMENT_SIZE(capacity, item_size);
    int fd = shm_open(names[RB_SEGMENT], O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd == -1) {
        undo_create(rb, 0);
        return NULL;
    }
    if (ftruncate(fd, (off_t)rb->size) == -1) {
        int saved = errno;
        close(fd);
        errno = saved;
        undo_create(rb, 1);
        return NULL;
    }
    rb->base = mmap(NULL, rb->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);                                       /* the mapping keeps the segment */
    if (rb->base == MAP_FAILED) {
        undo_create(rb, 1);
        return NULL;
    }
    struct rb_header *h = hdr(rb);                   /* the segment starts zero-filled */
    h->capacity = rb->capacity;
    h->item_size = rb->item_size;
    unsigned values[3] = {rb->capacity, 0, 1};
    sem_t **sems[3] = {&rb->empty, &rb->full, &rb->mutex};
    for (int i = 0; i < 3; i++) {
        *sems[i] = sem_open(names[RB_EMPTY + i], O_CREAT | O_EXCL, 0600, values[i]);
        if (*sems[i] == SEM_FAILED) {
            *sems[i] = NULL;
            undo_create(rb, RB_EMPTY + i);
            return NULL;
        }
    }
    return rb;
}

rb_t *rb_attach(const char *const names[RB_NAMES])
{
    rb_t *rb = calloc(1, sizeof *rb);
    if (rb == NULL)
        return NULL;
    if (copy_names(rb, names) == -1) {
        free(rb);
        return NULL;
    }
    int fd = shm_open(names[RB_SEGMENT], O_RDWR, 0);
    if (fd == -1) {
        undo_create(rb, 0);
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) == -1 || (size_t)st.st_size < RB_HEADER_SIZE) {
        int saved = fstat(fd, &st) == -1 ? errno : EINVAL;
        close(fd);
        errno = saved;
        undo_create(rb, 0);
        return NULL;
    }
    rb->size = (size_t)st.st_size;
    rb->base = mmap(NULL, rb->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (rb->base == MAP_FAILED) {
        undo_create(rb, 0);
        return NULL;
    }
    rb->capacity = hdr(rb)->capacity;                /* written once, before any attach */
    rb->item_size = hdr(rb)->item_size;
    sem_t **sems[3] = {&rb->empty, &rb->full, &rb->mutex};
    for (int i = 0; i < 3; i++) {
        *sems[i] = sem_open(names[RB_EMPTY + i], 0);
        if (*sems[i] == SEM_FAILED) {
            *sems[i] = NULL;
            undo_create(rb, 0);
            return NULL;
        }
    }
    return rb;
}

int rb_put(rb_t *rb, const void *data, size_t len, double timeout)
{
    if (len < 1 || len > rb->item_size) {
        errno = EINVAL;
        return -1;
    }
    if (take_both(rb, rb->empty, timeout) == -1)
        return -1;
    struct rb_header *h = hdr(rb);
    if (h->ended) {
        sem_post(rb->mutex);
        sem_post(rb->empty);                         /* the slot was not used */
        errno = EPIPE;
        return -1;
    }
    uint32_t tail = h->tail;
    rb_store_u32(slot(rb, tail), (uint32_t)len);
    memcpy(slot(rb, tail) + 4, data, len);
    h->tail = (tail + 1) % rb->capacity;
    sem_post(rb->mutex);
    sem_post(rb->full);
    return 0;
}

ssize_t rb_get(rb_t *rb, void *buf, size_t bufsize, double timeout)
{
    if (take_both(rb, rb->full, timeout) == -1)
        return -1;
    struct rb_header *h = hdr(rb);
    uint32_t head = h->head;
    uint32_t n = rb_load_u32(slot(rb, head));
    if (n > rb->item_size || n > bufsize)            /* never copy past a slot or the caller's buffer */
        n = rb->item_size < bufsize ? rb->item_size : (uint32_t)bufsize;
    if (n) {
        memcpy(buf, slot(rb, head) + 4, n);
        h->head = (head + 1) % rb->capacity;
    }
    sem_post(rb->mutex);
    if (n == 0) {                                    /* the end marker: leave it, pass the wake-up on */
        sem_post(rb->full);
        return 0;
    }
    sem_post(rb->empty);
    return (ssize_t)n;
}

int rb_end(rb_t *rb, double timeout)
{
    if (take_both(rb, rb->empty, timeout) == -1)
        return -1;
    struct rb_header *h = hdr(rb);
    if (h->ended) {
        sem_post(rb->mutex);
        sem_post(rb->empty);
        return 0;
    }
    uint32_t tail = h->tail;
    rb_store_u32(slot(rb, tail), 0);                 /* the marker: a 0-length record */
    h->tail = (tail + 1) % rb->capacity;
    h->ended = 1;
    sem_post(rb->mutex);
    sem_post(rb->full);                              /* wakes one consumer; each one wakes the next */
    return 0;
}

int rb_close(rb_t *rb)
{
    int rc = munmap(rb->base, rb->size);
    rc |= sem_close(rb->empty) | sem_close(rb->full) | sem_close(rb->mutex);
    free(rb);
    return rc ? -1 : 0;
}

int rb_destroy(rb_t *rb)
{
    char names[RB_NAMES][256];
    memcpy(names, rb->names, sizeof names);
    int rc = rb_close(rb);
    rc |= shm_unlink(names[RB_SEGMENT]);
    for (int i = RB_EMPTY; i < RB_NAMES; i++)
        rc |= sem_unlink(names[i]);
    return rc ? -1 : 0;
}
