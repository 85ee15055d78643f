/* sem_side_by_side: one mutex job, done with a POSIX named semaphore and with a System V set (notebook 04).
 *
 * Python creates both objects (value 1, mode 0600, course names) and passes them in:
 *     sem_side_by_side POSIX_NAME SYSV_KEY
 * C opens each, takes the lock, meets each errno on purpose, gives the lock back, and removes
 * the object (sem_unlink, semctl(IPC_RMID)); Python then finds both gone.
 * Expected failures print the call, -1 and errno's name and text; a failure that should not
 * happen is reported with perror and the program exits 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sem.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

union semun {                       /* semctl(2): "The calling program must define this union" */
    int val;
    struct semid_ds *buf;
    unsigned short *array;
};

static const char *errname(int e)
{
    switch (e) {
    case EAGAIN: return "EAGAIN";
    case EINTR: return "EINTR";
    case EIDRM: return "EIDRM";
    case EINVAL: return "EINVAL";
    case ENOENT: return "ENOENT";
    case ETIMEDOUT: return "ETIMEDOUT";
    default: return "another errno";
    }
}

static void failed(const char *call)          /* an expected failure: errno's name and text */
{
    printf("  %-50s -> -1, errno %s (%s)\n", call, errname(errno), strerror(errno));
}

static void die(const char *call)             /* an unexpected one */
{
    perror(call);
    exit(1);
}

static void on_alarm(int sig) { (void)sig; }  /* only there to interrupt a wait */

static void alarm_in_ms(long ms)              /* SIGALRM once, ms from now */
{
    struct itimerval t = {{0, 0}, {ms / 1000, (ms % 1000) * 1000}};
    if (setitimer(ITIMER_REAL, &t, NULL) == -1)
        die("setitimer");
}

static void posix_side(const char *name)
{
    printf("POSIX named semaphore\n");
    sem_t *s = sem_open(name, 0);              /* no O_CREAT: the one Python created */
    if (s == SEM_FAILED)
        die("sem_open");
    int v;
    sem_getvalue(s, &v);
    printf("  sem_open(name, 0): opened Python's semaphore, value %d\n", v);
    if (sem_trywait(s) == -1)
        die("sem_trywait");
    printf("  sem_trywait: 0, the lock is ours (value 1 -> 0)\n");
    if (sem_trywait(s) == -1)
        failed("sem_trywait again");                                 /* EAGAIN */

    struct timespec deadline;                  /* sem_timedwait takes an ABSOLUTE CLOCK_REALTIME time */
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_nsec += 300 * 1000000L;        /* now + 300 ms */
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec += 1;
        deadline.tv_nsec -= 1000000000L;
    }
    alarm_in_ms(100);
    int rc;
    while ((rc = sem_timedwait(s, &deadline)) == -1 && errno == EINTR)   /* EINTR: call again */
        failed("sem_timedwait, SIGALRM after 100 ms");                  /* same deadline */
    if (rc == -1)
        failed("sem_timedwait, called again: at the deadline");         /* ETIMEDOUT */

    if (sem_post(s) == -1)
        die("sem_post");
    sem_getvalue(s, &v);
    printf("  sem_post: 0, the lock is free (value %d)\n", v);
    if (sem_unlink(name) == -1)                /* the name goes; open handles keep working */
        die("sem_unlink");
    printf("  sem_unlink: 0\n");
    if (sem_open(name, 0) == SEM_FAILED)
        failed("sem_open(name, 0) after sem_unlink");                    /* ENOENT */
    if (sem_trywait(s) == 0 && sem_post(s) == 0)
        printf("  our handle still works after the unlink: sem_trywait 0, sem_post 0\n");
    sem_close(s);
}

static void sysv_side(key_t key)
{
    printf("System V semaphore set\n");
    int id = semget(key, 1, 0);                /* no IPC_CREAT: the set Python created */
    if (id == -1)
        die("semget");
    printf("  semget(key, 1, 0): found Python's set, value %d\n", semctl(id, 0, GETVAL));
    union semun arg = {.val = 1};
    if (semctl(id, 0, SETVAL, arg) == -1)      /* the 4th argument is a union semun */
        die("semctl(SETVAL)");
    printf("  semctl(id, 0, SETVAL, arg) with arg.val = 1: 0\n");

    struct sembuf take = {0, -1, SEM_UNDO};    /* P; the kernel gives it back if we die */
    if (semop(id, &take, 1) == -1)
        die("semop");
    printf("  semop {0, -1, SEM_UNDO}: 0, the lock is ours (value 1 -> 0)\n");
    struct sembuf try_take = {0, -1, IPC_NOWAIT};
    if (semop(id, &try_take, 1) == -1)
        failed("semop {0, -1, IPC_NOWAIT}");                             /* EAGAIN */

    struct timespec timeout = {0, 300 * 1000000L};  /* semtimedop takes a RELATIVE time */
    struct sembuf wait_take = {0, -1, 0};
    alarm_in_ms(100);
    int rc;
    while ((rc = semtimedop(id, &wait_take, 1, &timeout)) == -1 && errno == EINTR)
        failed("semtimedop, SIGALRM after 100 ms");                      /* waits 300 ms again */
    if (rc == -1)
        failed("semtimedop, called again: at the timeout");             /* EAGAIN, not ETIMEDOUT */

    fflush(stdout);                            /* before fork: or the child prints our buffer too */
    pid_t child = fork();
    if (child == -1)
        die("fork");
    if (child == 0) {                          /* waits for the lock, up to 5 s */
        struct timespec five = {5, 0};
        int r = semtimedop(id, &wait_take, 1, &five);
        _exit(r == -1 ? errno : 0);            /* tell the parent which errno */
    }
    for (int i = 0; i < 1000 && semctl(id, 0, GETNCNT) < 1; i++)        /* until the child waits */
        nanosleep(&(struct timespec){0, 5 * 1000000L}, NULL);
    printf("  a child waits in semtimedop: GETNCNT = %d\n", semctl(id, 0, GETNCNT));
    if (semctl(id, 0, IPC_RMID) == -1)         /* removed at once, waiters or not */
        die("semctl(IPC_RMID)");
    printf("  semctl(id, 0, IPC_RMID): 0\n");
    int status;
    if (waitpid(child, &status, 0) == -1)
        die("waitpid");
    errno = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
    if (errno != 0)
        failed("the child's semtimedop, when the set went");             /* EIDRM */
    if (semop(id, &try_take, 1) == -1)
        failed("semop on the removed id");
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s POSIX_NAME SYSV_KEY\n", argv[0]);
        return 2;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;                           /* no SA_RESTART: a handled signal ends a wait with EINTR */
    if (sigaction(SIGALRM, &sa, NULL) == -1)
        die("sigaction");
    posix_side(argv[1]);
    sysv_side((key_t)strtoul(argv[2], NULL, 0));
    return 0;
}
