/* A process-shared robust mutex and condition variable in shared memory, and SEM_UNDO.
 *
 * The shared "bank": two accounts with the invariant a + b == 100. A transfer moves 10 from
 * a to b in two steps, a -= 10 then b += 10, under a lock. The process doing it is killed
 * (SIGKILL: no handler, no cleanup) between the two steps. What does the next process see?
 *
 * With a robust mutex (PTHREAD_MUTEX_ROBUST, PTHREAD_PROCESS_SHARED): its pthread_mutex_lock
 * returns EOWNERDEAD: "you have the lock, its last owner died holding it". It checks the
 * data, repairs it from the journal (pending), calls pthread_mutex_consistent(), unlocks.
 * Without pthread_mutex_consistent the mutex becomes ENOTRECOVERABLE at unlock.
 *
 * With a System V semaphore taken with SEM_UNDO: the kernel undoes the dead process's -1, so
 * the next semop simply succeeds. The lock is released, and nothing says the data are half
 * updated: SEM_UNDO restores the *semaphore*, never the data it protects.
 *
 * Usage: robust MODE SHM_NAME [SEM_KEY]
 *   init        initialise mutex + condvar (process-shared, robust) and the accounts
 *   mutex-die   lock the mutex, a -= 10, record pending = 10, then SIGKILL itself
 *   mutex-take  lock: report EOWNERDEAD, the balance, repair, make consistent, unlock
 *   sem-die     semop(-1, SEM_UNDO) on SEM_KEY, a -= 10, then SIGKILL itself
 *   sem-take    semtimedop(-1, SEM_UNDO, 5 s): report the balance it finds
 *   cond-wait   wait (pthread_cond_timedwait, 5 s) until ready, print the message
 *   cond-post   set the message and ready, pthread_cond_broadcast
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sem.h>
#include <time.h>
#include <unistd.h>

struct bank {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    int a, b;          /* invariant: a + b == 100 */
    int pending;       /* journal: amount taken from a, not yet added to b */
    int ready;
    char message[64];
};

static void fail(const char *what, int err)   /* pthread functions return the error number */
{
    fprintf(stderr, "%s: %s\n", what, strerror(err));
    exit(1);
}

static void deadline(struct timespec *ts, int seconds)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += seconds;
}

static int init(struct bank *k)
{
    pthread_mutexattr_t ma;
    pthread_condattr_t ca;
    int e;
    pthread_mutexattr_init(&ma);
    if ((e = pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED)))
        fail("pthread_mutexattr_setpshared", e);
    if ((e = pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST)))
        fail("pthread_mutexattr_setrobust", e);
    if ((e = pthread_mutex_init(&k->lock, &ma)))
        fail("pthread_mutex_init", e);
    pthread_mutexattr_destroy(&ma);
    pthread_condattr_init(&ca);
    if ((e = pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED)))
        fail("pthread_condattr_setpshared", e);
    if ((e = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC)))   /* deadlines immune to clock changes */
        fail("pthread_condattr_setclock", e);
    if ((e = pthread_cond_init(&k->changed, &ca)))
        fail("pthread_cond_init", e);
    pthread_condattr_destroy(&ca);
    k->a = 100;
    k->b = 0;
    k->pending = 0;
    k->ready = 0;
    printf("initialised: a=%d b=%d (a+b=%d)\n", k->a, k->b, k->a + k->b);
    return 0;
}

/* Lock; returns 1 if the previous owner had died (and the data were repaired), else 0. */
static int lock_robust(struct bank *k)
{
    int e = pthread_mutex_lock(&k->lock);
    if (e == EOWNERDEAD) {
        printf("pthread_mutex_lock: EOWNERDEAD (the previous owner died holding the lock)\n");
        printf("found: a=%d b=%d (a+b=%d), journal pending=%d\n", k->a, k->b, k->a + k->b, k->pending);
        k->b += k->pending;             /* finish the interrupted transfer from the journal */
        k->pending = 0;
        if ((e = pthread_mutex_consistent(&k->lock)))
            fail("pthread_mutex_consistent", e);
        printf("repaired: a=%d b=%d (a+b=%d); pthread_mutex_consistent: ok\n", k->a, k->b, k->a + k->b);
        return 1;
    }
    if (e)
        fail("pthread_mutex_lock", e);
    return 0;
}

static int sem_lock(int semid, int timeout_s)
{
    struct sembuf op = {.sem_num = 0, .sem_op = -1, .sem_flg = SEM_UNDO};
    struct timespec ts = {.tv_sec = timeout_s, .tv_nsec = 0};   /* semtimedop: a relative timeout */
    while (semtimedop(semid, &op, 1, &ts) == -1) {
        if (errno == EINTR)
            continue;                    /* a signal interrupted the wait: wait again */
        if (errno == EAGAIN) {
            fprintf(stderr, "semtimedop: timed out after %d s (EAGAIN)\n", timeout_s);
            exit(3);
        }
        perror("semtimedop");
        exit(1);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODE SHM_NAME [SEM_KEY]\n", argv[0]);
        return 2;
    }
    const char *mode = argv[1];
    int fd = shm_open(argv[2], O_RDWR, 0);
    if (fd == -1) {
        perror("shm_open");
        return 1;
    }
    struct bank *k = mmap(NULL, sizeof *k, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (k == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    close(fd);
    int semid = -1;
    if (strncmp(mode, "sem-", 4) == 0) {
        if (argc < 4) {
            fprintf(stderr, "%s needs SEM_KEY\n", mode);
            return 2;
        }
        semid = semget((key_t)strtol(argv[3], NULL, 0), 1, 0);
        if (semid == -1) {
            perror("semget");
            return 1;
        }
    }
    if (strcmp(mode, "init") == 0)
        return init(k);
    if (strcmp(mode, "mutex-die") == 0) {
        lock_robust(k);
        k->a -= 10;
        k->pending = 10;
        printf("holding the mutex, a -= 10 done, b += 10 not yet: killed now\n");
        fflush(stdout);
        raise(SIGKILL);
    }
    if (strcmp(mode, "mutex-take") == 0) {
        if (!lock_robust(k))
            printf("pthread_mutex_lock: 0 (no previous owner died)\n");
        printf("after: a=%d b=%d (a+b=%d)\n", k->a, k->b, k->a + k->b);
        pthread_mutex_unlock(&k->lock);
        return 0;
    }
    if (strcmp(mode, "sem-die") == 0) {
        sem_lock(semid, 5);
        k->a -= 10;
        printf("holding the semaphore (SEM_UNDO), a -= 10 done, b += 10 not yet: killed now\n");
        fflush(stdout);
        raise(SIGKILL);
    }
    if (strcmp(mode, "sem-take") == 0) {
        sem_lock(semid, 5);
        printf("semop: 0 (the kernel undid the dead holder's -1; nothing reports its death)\n");
        printf("found: a=%d b=%d (a+b=%d)\n", k->a, k->b, k->a + k->b);
        struct sembuf up = {.sem_num = 0, .sem_op = +1, .sem_flg = SEM_UNDO};
        if (semop(semid, &up, 1) == -1)
            perror("semop");
        return 0;
    }
    if (strcmp(mode, "cond-wait") == 0) {
        struct timespec ts;
        deadline(&ts, 5);
        lock_robust(k);
        int e = 0;
        while (!k->ready && e == 0)       /* a wait may wake spuriously: re-check the condition */
            e = pthread_cond_timedwait(&k->changed, &k->lock, &ts);
        if (e == ETIMEDOUT)
            printf("pthread_cond_timedwait: ETIMEDOUT, nobody signalled within 5 s\n");
        else if (e)
            fail("pthread_cond_timedwait", e);
        else
            printf("woken: message = \"%s\"\n", k->message);
        pthread_mutex_unlock(&k->lock);
        return 0;
    }
    if (strcmp(mode, "cond-post") == 0) {
        lock_robust(k);
        snprintf(k->message, sizeof k->message, "written under the lock by pid %d", (int)getpid());
        k->ready = 1;
        pthread_cond_broadcast(&k->changed);
        pthread_mutex_unlock(&k->lock);
        printf("posted\n");
        return 0;
    }
    fprintf(stderr, "unknown mode %s\n", mode);
    return 2;
}
