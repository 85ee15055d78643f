/* race_helgrind.c - the smallest data race, for Helgrind, DRD and ThreadSanitizer.
 *
 *   gcc -g -O0 -pthread race_helgrind.c -o race
 *   ./race race 1000      two threads do counter++ 1000 times each, no lock: lost updates
 *   ./race lock 1000      the same under a pthread mutex: always exact
 *   valgrind --tool=helgrind ./race race 100     "Possible data race during write ..."
 *
 * Threads, not processes: Helgrind, DRD and TSan watch the memory accesses of *one*
 * process. Two processes racing on a shared segment are invisible to them (each tool sees
 * only its own process); for those, the course's own tools (race traces, 19.1) apply.
 * Used by notebooks/06_debugging_ipc.ipynb through ipclab.tracing.helgrind().
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long counter = 0;                 /* shared by both threads */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int use_lock = 0;
static long loops = 1000;

static void *worker(void *arg)
{
    (void)arg;
    for (long i = 0; i < loops; i++) {
        if (use_lock)
            pthread_mutex_lock(&lock);
        counter++;                       /* read, add, write: the race window */
        if (use_lock)
            pthread_mutex_unlock(&lock);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    pthread_t t[2];
    use_lock = argc > 1 && strcmp(argv[1], "lock") == 0;
    if (argc > 2)
        loops = atol(argv[2]);
    for (int i = 0; i < 2; i++)
        if (pthread_create(&t[i], NULL, worker, NULL) != 0)
            return 1;
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    printf("counter = %ld (expected %ld)\n", counter, 2 * loops);
    return 0;
}
