/* semset_peek: look at (or operate on) a System V semaphore set from C, by id.
 *
 *   semset_peek SEMID                 print nsems, key and every value/ncnt/zcnt/pid
 *   semset_peek SEMID IDX DELTA [u]   one semop (u: SEM_UNDO), 2 s timeout, then print
 *
 * Used by ipclab's tests and notebook 02 to show that the set ipclab.semset made in
 * Python is the kernel's own object: C sees the same values, and Python sees C's changes.
 * Build: gcc -O2 -Wall -o semset_peek semset_peek.c
 * Errors: perror prints "call: reason" (errno's text) and the program exits 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sem.h>
#include <time.h>

union semun {                     /* semctl(2): "The calling program must define this union" */
    int val;                      /* SETVAL */
    struct semid_ds *buf;         /* IPC_STAT, IPC_SET */
    unsigned short *array;        /* GETALL, SETALL */
};

int main(int argc, char **argv)
{
    if (argc != 2 && argc != 4 && argc != 5) {
        fprintf(stderr, "usage: %s SEMID [IDX DELTA [u]]\n", argv[0]);
        return 2;
    }
    int semid = atoi(argv[1]);
    struct semid_ds ds;
    union semun arg = {.buf = &ds};                   /* the 4th argument is this union */
    if (semctl(semid, 0, IPC_STAT, arg) == -1) {
        perror("semctl(IPC_STAT)");                   /* e.g. "Invalid argument": no such set */
        return 1;
    }
    if (argc >= 4) {
        struct sembuf op = { (unsigned short)atoi(argv[2]), (short)atoi(argv[3]),
                             (short)(argc == 5 ? SEM_UNDO : 0) };
        struct timespec ts = { 2, 0 };
        int rc;
        while ((rc = semtimedop(semid, &op, 1, &ts)) == -1 && errno == EINTR)
            ;                                         /* a signal handler ran: call again */
        if (rc == -1) {
            perror("semtimedop");                     /* EAGAIN: 2 s passed; EIDRM: set removed */
            return 1;
        }
    }
    unsigned short vals[ds.sem_nsems];
    arg.array = vals;
    if (semctl(semid, 0, GETALL, arg) == -1) {
        perror("semctl(GETALL)");
        return 1;
    }
    printf("key=0x%08x nsems=%lu mode=%04o\n", (unsigned)ds.sem_perm.__key,
           (unsigned long)ds.sem_nsems, ds.sem_perm.mode & 0777);
    for (unsigned long i = 0; i < ds.sem_nsems; i++)
        printf("sem %lu value=%u ncnt=%d zcnt=%d pid=%d\n", i, vals[i],
               semctl(semid, (int)i, GETNCNT), semctl(semid, (int)i, GETZCNT),
               semctl(semid, (int)i, GETPID));
    return 0;
}
