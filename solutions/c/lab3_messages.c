/* Lab 3 (19.3), C track: the reference request/reply service over one System V message queue.
 *
 * The contract and the message layout are in lab3_messages.h; the Python track's reference is
 * solutions/lab3_messages.py, and this file follows it call for call.
 */
#include "lab3_messages.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/msg.h>
#include <unistd.h>

const char PROTOCOL[] =
    "Shared state: one System V message queue; the kernel orders its messages and copies each\n"
    "one in and out whole (msgsnd/msgrcv), so no semaphore guards it.\n"
    "Locks: none. The message type does the routing: 1 = urgent request, 2 = normal request,\n"
    "P > 2 = a reply for the client whose pid is P (clients' pids are never 1 or 2).\n"
    "Invariants: a request carries its client's pid and a per-handle id; every request gets\n"
    "exactly one reply, of type = that pid (an error reply for an unknown op or a failing\n"
    "handler); the server takes the lowest type <= 2 first (msgrcv msgtyp -2), so urgent\n"
    "requests overtake normal ones and each kind stays FIFO; a client only ever receives its own\n"
    "pid's type, so it never takes another's reply; replies to its other requests that arrive\n"
    "first wait in its stash (in its svc_t: per process, not shared).\n"
    "Waiting: msgrcv/msgsnd with IPC_NOWAIT, polled every 2 ms until a CLOCK_MONOTONIC deadline\n"
    "(System V has no timed receive); svc_serve returns 0, svc_wait fails with ETIMEDOUT.\n"
    "Death: a dead client leaves its replies in the queue (nobody else takes them); the queue\n"
    "lives until its creator's svc_destroy() (msgctl IPC_RMID).\n";

struct svc {
    int msqid;                  /* what msgget returned */
    uint32_t next_id;           /* id of this handle's next request */
    struct svc_reply *stash;    /* replies received while waiting for another one */
    size_t stashed, room;
};

static svc_t *new_handle(int msqid)
{
    svc_t *svc = calloc(1, sizeof *svc);
    if (svc)
        svc->msqid = msqid;
    return svc;
}

svc_t *svc_create(key_t key)
{
    int msqid = msgget(key, IPC_CREAT | IPC_EXCL | 0600);
    if (msqid == -1)
        return NULL;
    svc_t *svc = new_handle(msqid);
    if (!svc) {
        int saved = errno;
        msgctl(msqid, IPC_RMID, NULL);
        errno = saved;
    }
    return svc;
}

svc_t *svc_attach(key_t key)
{
    int msqid = msgget(key, 0);
    return msqid == -1 ? NULL : new_handle(msqid);
}

/* msgsnd(IPC_NOWAIT) of a whole message, tried again every SVC_POLL_NS until *deadline*. */
static int send_until(int msqid, const void *msg, size_t body, double deadline)
{
    for (;;) {
        if (msgsnd(msqid, msg, body, IPC_NOWAIT) == 0)
            return 0;
        if (errno != EAGAIN && errno != EINTR)
            return -1;
        if (svc_clock() >= deadline) {
            errno = ETIMEDOUT;
            return -1;
        }
        svc_nap();
    }
}

/* msgrcv(IPC_NOWAIT) of a message of type *msgtyp* (man 2 msgrcv) into *msg*, tried again every
 * SVC_POLL_NS until *deadline*; 0, or -1 with ETIMEDOUT, EBADMSG (not *body* bytes) or msgrcv's. */
static int receive_until(int msqid, void *msg, size_t body, long msgtyp, double deadline)
{
    for (;;) {
        ssize_t n = msgrcv(msqid, msg, body, msgtyp, IPC_NOWAIT);
        if (n >= 0) {
            if ((size_t)n == body)
                return 0;
            errno = EBADMSG;
            return -1;
        }
        if (errno != ENOMSG && errno != EINTR)
            return -1;
        if (svc_clock() >= deadline) {
            errno = ETIMEDOUT;
            return -1;
        }
        svc_nap();
    }
}

long svc_send(svc_t *svc, const char *op, const char *arg, int urgent, double timeout)
{
    double deadline = svc_clock() + timeout;
    if (!op || !arg || strlen(op) >= SVC_OP_SIZE || strlen(arg) >= SVC_TEXT_SIZE) {
        errno = EINVAL;
        return -1;
    }
    struct svc_request m;
    memset(&m, 0, sizeof m);
    m.mtype = urgent ? SVC_URGENT : SVC_NORMAL;
    m.pid = (int32_t)getpid();
    m.id = svc->next_id;
    memcpy(m.op, op, strlen(op) + 1);
    memcpy(m.arg, arg, strlen(arg) + 1);
    if (send_until(svc->msqid, &m, SVC_REQUEST_BODY, deadline) == -1)
        return -1;
    svc->next_id++;
    return (long)m.id;
}

/* Keep *r* in the stash for a later svc_wait(). */
static int stash_add(svc_t *svc, const struct svc_reply *r)
{
    if (svc->stashed == svc->room) {
        size_t room = svc->room ? 2 * svc->room : 8;
        struct svc_reply *more = realloc(svc->stash, room * sizeof *more);
        if (!more)
            return -1;
        svc->stash = more;
        svc->room = room;
    }
    svc->stash[svc->stashed++] = *r;
    return 0;
}

int svc_wait(svc_t *svc, long request_id, struct svc_reply *reply, double timeout)
{
    double deadline = svc_clock() + timeout;
    for (;;) {
        for (size_t i = 0; i < svc->stashed; i++) {
            if ((long)svc->stash[i].id == request_id) {
                *reply = svc->stash[i];
                svc->stash[i] = svc->stash[--svc->stashed];
                return 0;
            }
        }
        struct svc_reply r;
        if (receive_until(svc->msqid, &r, SVC_REPLY_BODY, (long)getpid(), deadline) == -1)
            return -1;
        r.text[SVC_TEXT_SIZE - 1] = '\0';
        if (stash_add(svc, &r) == -1)
            return -1;
    }
}

int svc_serve(svc_t *svc, const struct svc_handler *handlers, size_t n_handlers, struct svc_request *served,
              double timeout)
{
    struct svc_request req;
    if (receive_until(svc->msqid, &req, SVC_REQUEST_BODY, -SVC_NORMAL, svc_clock() + timeout) == -1)
        return errno == ETIMEDOUT ? 0 : -1;   /* lowest type <= SVC_NORMAL first: SVC_URGENT wins */
    req.op[SVC_OP_SIZE - 1] = '\0';
    req.arg[SVC_TEXT_SIZE - 1] = '\0';
    if (req.pid <= SVC_NORMAL) {   /* its reply would be a request: not a client's */
        errno = EBADMSG;
        return -1;
    }
    struct svc_reply rep;
    memset(&rep, 0, sizeof rep);
    rep.mtype = req.pid;
    rep.id = req.id;
    rep.status = SVC_ERROR;
    snprintf(rep.text, sizeof rep.text, "unknown op '%s'", req.op);
    for (size_t i = 0; i < n_handlers; i++) {
        if (strcmp(handlers[i].op, req.op) == 0) {
            memset(rep.text, 0, sizeof rep.text);
            rep.status = handlers[i].fn(req.arg, rep.text, sizeof rep.text) == 0 ? SVC_RESULT : SVC_ERROR;
            rep.text[SVC_TEXT_SIZE - 1] = '\0';
            break;
        }
    }
    if (send_until(svc->msqid, &rep, SVC_REPLY_BODY, svc_clock() + SVC_REPLY_TIMEOUT) == -1)
        return -1;
    if (served)
        *served = req;
    return 1;
}

int svc_close(svc_t *svc)
{
    free(svc->stash);
    free(svc);
    return 0;
}

int svc_destroy(svc_t *svc)
{
    int rc = msgctl(svc->msqid, IPC_RMID, NULL);
    int saved = errno;
    svc_close(svc);
    errno = saved;
    return rc;
}
