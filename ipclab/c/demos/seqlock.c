/* A seqlock over shared memory: one writer process, one reader process, no lock at all.
 *
 * The writer keeps the pair (a, b) equal: it writes k into both, for k = 1, 2, 3, ...
 * A reader that sees a != b has read a *torn* pair: half of one update, half of another.
 *
 *   writer:  seq += 1 (odd: writing) ; fence(release) ; a = k ; b = k ; seq += 1 (release, even)
 *   reader:  do { s0 = seq (acquire) ; x = a ; y = b ; fence(acquire) ; s1 = seq }
 *            while (s0 is odd || s0 != s1)      -- retry if a write overlapped the read
 *
 * This is the C11 form of H.-J. Boehm, "Can seqlocks get along with programming language
 * memory models?" (MSPC 2012): the data are relaxed atomics (a plain racing read would be
 * undefined behaviour), the writer's release fence orders "seq odd" before the data, the
 * reader's acquire fence orders the data before the second read of seq.
 *
 * Usage: seqlock MODE ROLE SHM_NAME COUNT
 *   MODE  seqlock | none     (none: the same reads and writes without the sequence number)
 *   ROLE  writer | reader    the reader reads COUNT times; the writer writes until it is done
 * The reader prints: reads=N torn=T retries=R
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct shared {
    _Alignas(64) atomic_ulong seq;
    _Alignas(64) atomic_long a;
    atomic_long b;
    _Alignas(64) atomic_int reader_done;
};

static void write_pair(struct shared *s, long k, int use_seq)
{
    unsigned long q = 0;
    if (use_seq) {
        q = atomic_load_explicit(&s->seq, memory_order_relaxed);
        atomic_store_explicit(&s->seq, q + 1, memory_order_relaxed);   /* odd: write in progress */
        atomic_thread_fence(memory_order_release);
    }
    atomic_store_explicit(&s->a, k, memory_order_relaxed);
    atomic_store_explicit(&s->b, k, memory_order_relaxed);
    if (use_seq)
        atomic_store_explicit(&s->seq, q + 2, memory_order_release);   /* even: done */
}

static void read_pair(struct shared *s, long *x, long *y, int use_seq, long *retries)
{
    if (!use_seq) {
        *x = atomic_load_explicit(&s->a, memory_order_relaxed);
        *y = atomic_load_explicit(&s->b, memory_order_relaxed);
        return;
    }
    for (;;) {
        unsigned long s0 = atomic_load_explicit(&s->seq, memory_order_acquire);
        *x = atomic_load_explicit(&s->a, memory_order_relaxed);
        *y = atomic_load_explicit(&s->b, memory_order_relaxed);
        atomic_thread_fence(memory_order_acquire);
        unsigned long s1 = atomic_load_explicit(&s->seq, memory_order_relaxed);
        if (!(s0 & 1) && s0 == s1)
            return;
        ++*retries;
    }
}

int main(int argc, char **argv)
{
    if (argc != 5 || (strcmp(argv[1], "seqlock") && strcmp(argv[1], "none"))
        || (strcmp(argv[2], "writer") && strcmp(argv[2], "reader"))) {
        fprintf(stderr, "usage: %s seqlock|none writer|reader SHM_NAME COUNT\n", argv[0]);
        return 2;
    }
    int use_seq = strcmp(argv[1], "seqlock") == 0;
    long count = atol(argv[4]);
    int fd = shm_open(argv[3], O_RDWR, 0);
    if (fd == -1) {
        perror("shm_open");
        return 1;
    }
    struct shared *s = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (s == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    close(fd);
    if (strcmp(argv[2], "writer") == 0) {
        for (long k = 1; !atomic_load_explicit(&s->reader_done, memory_order_relaxed); k++)
            write_pair(s, k, use_seq);
        return 0;
    }
    long torn = 0, retries = 0, reads = 0, x, y;
    while (atomic_load_explicit(&s->a, memory_order_relaxed) == 0)  /* wait for the writer to start */
        ;
    for (reads = 0; reads < count; reads++) {
        read_pair(s, &x, &y, use_seq, &retries);
        torn += x != y;
    }
    atomic_store_explicit(&s->reader_done, 1, memory_order_relaxed);
    printf("reads=%ld torn=%ld retries=%ld\n", reads, torn, retries);
    return 0;
}
