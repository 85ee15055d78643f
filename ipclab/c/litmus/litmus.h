/* Harness of the course's litmus tests: two processes, one POSIX shared memory object.
 *
 * Each test runs ITERATIONS times in batches. Iteration i of a batch uses its own fresh
 * locations x[i], y[i] (each on its own 64-byte cache line, zero at the start of the batch),
 * so no iteration has to reset memory the other process may still be reading. Before each
 * iteration the two processes meet at a spin barrier in shared memory (what litmus7 calls
 * "user" synchronisation): both then run the test's few instructions at about the same
 * moment, which is when reorderings can be seen. Each process records what it loaded in
 * its own result array; after a batch, process 0 counts the outcomes.
 *
 * The variant is chosen at compile time (-DV_PLAIN, -DV_RELAXED, -DV_ACQREL, -DV_SEQCST,
 * -DV_FENCE), so the compiled loop contains exactly the accesses the test is about.
 *
 * Usage: PROG ROLE SHM_NAME ITERATIONS BATCH     (ROLE is 0 or 1; run both at once)
 */
#ifndef IPCLAB_LITMUS_H
#define IPCLAB_LITMUS_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define LINE 64
#define STRIDE (LINE / sizeof(int))   /* one location per cache line */
#define HEADER 4096

/* ---- the variant: how the test's loads and stores are written ---------------------- */
#if defined(V_PLAIN)
/* volatile only stops the COMPILER from caching or dropping the accesses; it orders
 * nothing in the hardware and is not an atomic (C11 5.1.2.4: a data race is undefined
 * behaviour). It shows what the processor does with ordinary mov instructions. */
typedef volatile int cell_t;
#define ST_REL(p, v) (*(p) = (v))
#define ST_RLX(p, v) (*(p) = (v))
#define LD_ACQ(p) (*(p))
#define LD_RLX(p) (*(p))
#define FENCE() ((void)0)
#define VARIANT "plain"
#else
typedef _Atomic int cell_t;
#if defined(V_RELAXED)
#define ORD_REL memory_order_relaxed
#define ORD_ACQ memory_order_relaxed
#define ORD_OTHER memory_order_relaxed
#define FENCE() ((void)0)
#define VARIANT "relaxed"
#elif defined(V_ACQREL)
#define ORD_REL memory_order_release
#define ORD_ACQ memory_order_acquire
#define ORD_OTHER memory_order_relaxed
#define FENCE() ((void)0)
#define VARIANT "acq_rel"
#elif defined(V_SEQCST)
#define ORD_REL memory_order_seq_cst
#define ORD_ACQ memory_order_seq_cst
#define ORD_OTHER memory_order_seq_cst
#define FENCE() ((void)0)
#define VARIANT "seq_cst"
#elif defined(V_FENCE)
#define ORD_REL memory_order_relaxed
#define ORD_ACQ memory_order_relaxed
#define ORD_OTHER memory_order_relaxed
#define FENCE() atomic_thread_fence(memory_order_seq_cst)
#define VARIANT "fence"
#else
#error "compile with one of -DV_PLAIN -DV_RELAXED -DV_ACQREL -DV_SEQCST -DV_FENCE"
#endif
/* ST_REL/LD_ACQ: the accesses that publish/observe (release/acquire in the acq_rel
 * variant); ST_RLX/LD_RLX: the others (relaxed there). In SB every access is "publishing". */
#define ST_REL(p, v) atomic_store_explicit((p), (v), ORD_REL)
#define ST_RLX(p, v) atomic_store_explicit((p), (v), ORD_OTHER)
#define LD_ACQ(p) atomic_load_explicit((p), ORD_ACQ)
#define LD_RLX(p) atomic_load_explicit((p), ORD_OTHER)
#endif

/* ---- shared layout ---------------------------------------------------------------- */
struct header {
    _Alignas(LINE) atomic_long go[2][LINE / sizeof(long)];  /* go[role][0]: barrier ticket */
    _Alignas(LINE) long counts[4];                           /* filled by role 0 at the end */
};

static size_t litmus_size(long batch)
{
    return HEADER + 2 * (size_t)batch * LINE + 2 * (size_t)batch;
}

struct litmus {
    int role;
    long iterations, batch;
    struct header *h;
    cell_t *x, *y;               /* x[i * STRIDE]: location i of the batch */
    unsigned char *res[2];       /* res[role][i]: what that role loaded (2 bits) */
};

static void die(const char *what)
{
    perror(what);
    exit(2);
}

/* Two-party barrier: publish my ticket, wait for the other's. The tickets only grow,
 * so no reset is needed between uses. sched_yield() keeps a descheduled partner from
 * costing a whole time slice of spinning on a busy machine. */
static inline void meet(struct litmus *t, long ticket)
{
    atomic_store_explicit(&t->h->go[t->role][0], ticket, memory_order_release);
    unsigned spins = 0;
    while (atomic_load_explicit(&t->h->go[1 - t->role][0], memory_order_acquire) < ticket)
        if (++spins % 256 == 0)
            sched_yield();
}

static void litmus_open(struct litmus *t, int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s ROLE SHM_NAME ITERATIONS BATCH\n", argv[0]);
        exit(2);
    }
    t->role = atoi(argv[1]);
    t->iterations = atol(argv[3]);
    t->batch = atol(argv[4]);
    if ((t->role != 0 && t->role != 1) || t->iterations <= 0 || t->batch <= 0) {
        fprintf(stderr, "role must be 0 or 1, iterations and batch positive\n");
        exit(2);
    }
    int fd = shm_open(argv[2], O_RDWR, 0);
    if (fd == -1)
        die("shm_open");
    struct stat st;
    if (fstat(fd, &st) == -1)
        die("fstat");
    size_t need = litmus_size(t->batch);
    if ((size_t)st.st_size < need) {
        fprintf(stderr, "shared memory is %ld bytes, the batch needs %zu\n", (long)st.st_size, need);
        exit(2);
    }
    char *base = mmap(NULL, need, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED)
        die("mmap");
    close(fd);
    t->h = (struct header *)base;
    t->x = (cell_t *)(base + HEADER);
    t->y = (cell_t *)(base + HEADER + (size_t)t->batch * LINE);
    t->res[0] = (unsigned char *)(base + HEADER + 2 * (size_t)t->batch * LINE);
    t->res[1] = t->res[0] + t->batch;
}

/* Runs the whole test (body is noinline so that every variant runs the same code around
 * its accesses, and `gcc -S` shows it as one function); body(t, i) runs iteration i of a batch for this process's role and
 * returns the 2-bit outcome it observed (bit 1: first load, bit 0: second load). */
static int litmus_run(struct litmus *t, unsigned char (*body)(struct litmus *, long))
{
    long ticket = 0, done = 0;
    long counts[4] = {0, 0, 0, 0};
    meet(t, ++ticket);
    while (done < t->iterations) {
        long n = t->iterations - done < t->batch ? t->iterations - done : t->batch;
        for (long i = 0; i < n; i++) {
            meet(t, ++ticket);
            t->res[t->role][i] = body(t, i);
        }
        meet(t, ++ticket);            /* both batches of results are written */
        if (t->role == 0) {
            for (long i = 0; i < n; i++)
                counts[(t->res[0][i] << 1) | t->res[1][i]]++;
            memset((void *)t->x, 0, (size_t)n * LINE);  /* fresh locations for the next batch */
            memset((void *)t->y, 0, (size_t)n * LINE);
        }
        meet(t, ++ticket);            /* the reset is visible before anyone goes on */
        done += n;
    }
    if (t->role == 0)
        printf("{\"variant\": \"%s\", \"iterations\": %ld, \"00\": %ld, \"01\": %ld, \"10\": %ld, \"11\": %ld}\n",
               VARIANT, t->iterations, counts[0], counts[1], counts[2], counts[3]);
    return 0;
}

#endif
