/* Lab 3 (19.3), C track: your request/reply service. Replace each "not written yet" body with your code.
 *
 * The contract (message layout, types, timeouts, errors) is lab3_messages.h, beside this file: read
 * it first. The brief is labs/lab3_messages.ipynb and labs/c/README.md. Your teacher grades this
 * file with
 *     ipclab grade lab3 --track c --submission labs/c/lab3_messages.c
 * which runs the Python track's tests against it (compiled with -std=c11 -Wall -Wextra -Werror
 * and UndefinedBehaviorSanitizer).
 */
#include "lab3_messages.h"   /* first: it sets _POSIX_C_SOURCE */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/msg.h>
#include <unistd.h>

const char PROTOCOL[] =
    "(Write your synchronisation protocol here, in your own words; your teacher reads it\n"
    "with your grade. Replace every line in brackets.)\n"
    "Shared state: [what is shared between the processes, and who orders it]\n"
    "Locks: [what guards the shared state, if anything; what routes each message]\n"
    "Invariants: [who receives which type, in which order; what each request gets back]\n"
    "Waiting: [every blocking call, and how its wait is bounded]\n"
    "Death: [what happens when a client or the server dies, and who removes the queue]\n";

struct svc {
    int msqid;                  /* what msgget returned */
    /* add what this process needs: the next request id, the stash of early replies, ... */
};

svc_t *svc_create(key_t key)
{
    (void)key;
    errno = ENOSYS;   /* not written yet */
    return NULL;
}

svc_t *svc_attach(key_t key)
{
    (void)key;
    errno = ENOSYS;   /* not written yet */
    return NULL;
}

long svc_send(svc_t *svc, const char *op, const char *arg, int urgent, double timeout)
{
    (void)svc; (void)op; (void)arg; (void)urgent; (void)timeout;
    errno = ENOSYS;   /* not written yet */
    return -1;
}

int svc_wait(svc_t *svc, long request_id, struct svc_reply *reply, double timeout)
{
    (void)svc; (void)request_id; (void)reply; (void)timeout;
    errno = ENOSYS;   /* not written yet */
    return -1;
}

int svc_serve(svc_t *svc, const struct svc_handler *handlers, size_t n_handlers, struct svc_request *served,
              double timeout)
{
    (void)svc; (void)handlers; (void)n_handlers; (void)served; (void)timeout;
    errno = ENOSYS;   /* not written yet */
    return -1;
}

int svc_close(svc_t *svc)
{
    (void)svc;
    errno = ENOSYS;   /* not written yet */
    return -1;
}

int svc_destroy(svc_t *svc)
{
    (void)svc;
    errno = ENOSYS;   /* not written yet */
    return -1;
}
