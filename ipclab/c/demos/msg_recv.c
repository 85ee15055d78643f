/* msg_recv: receive from a System V message queue that Python filled (notebook 03).
 *
 * Python queued log records (struct log_record, types 1..4, packed by msgq_demos.LOG_RECORD)
 * and one message of type 9 longer than a record. C takes the records most urgent first
 * (type -4) with IPC_NOWAIT until ENOMSG, meets E2BIG on the long message and takes it with
 * MSG_NOERROR, then removes the queue under a child blocked in msgrcv: the child gets EIDRM.
 * Usage: msg_recv MSQID
 * Expected failures print the call, -1 and errno's name and text; any other: perror, exit 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/msg.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct log_record {          /* msgq_demos.LOG_RECORD: "i pid; i seq; d time; 48s text" */
    int pid;
    int seq;
    double time;
    char text[48];
};

struct message {             /* what msgrcv fills: the type, then at most msgsz bytes */
    long mtype;
    struct log_record rec;
};

static const char *errname(int e)
{
    switch (e) {
    case ENOMSG: return "ENOMSG";
    case E2BIG: return "E2BIG";
    case EIDRM: return "EIDRM";
    case EINVAL: return "EINVAL";
    case EINTR: return "EINTR";
    default: return "another errno";
    }
}

static void failed(const char *call)
{
    printf("  %-46s -> -1, errno %s (%s)\n", call, errname(errno), strerror(errno));
}

static void die(const char *call)
{
    perror(call);
    exit(1);
}

static long queued(int id)   /* msg_qnum, from msgctl(IPC_STAT) */
{
    struct msqid_ds ds;
    if (msgctl(id, IPC_STAT, &ds) == -1)
        die("msgctl(IPC_STAT)");
    return (long)ds.msg_qnum;
}

static int in_msgrcv(pid_t pid)   /* /proc/PID/syscall starts with the number of the call it sleeps in */
{
    char path[64];
    long nr = -1;
    snprintf(path, sizeof path, "/proc/%d/syscall", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    if (fscanf(f, "%ld", &nr) != 1)
        nr = -1;
    fclose(f);
    return nr == SYS_msgrcv;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s MSQID\n", argv[0]);
        return 2;
    }
    int id = atoi(argv[1]);
    struct message m;
    ssize_t n;
    printf("sizeof(struct log_record) = %zu\n", sizeof(struct log_record));

    printf("msgrcv(id, &m, sizeof m.rec, -4, IPC_NOWAIT) until it fails:\n");
    while ((n = msgrcv(id, &m, sizeof m.rec, -4, IPC_NOWAIT)) != -1) {
        if ((size_t)n != sizeof m.rec)
            printf("  %zd bytes: not a struct log_record\n", n);
        else
            printf("  %zd bytes, type %ld, seq %d: \"%.48s\"\n", n, m.mtype, m.rec.seq, m.rec.text);
    }
    if (errno != ENOMSG)
        die("msgrcv");
    failed("msgrcv(..., -4, IPC_NOWAIT), none left");                    /* ENOMSG */

    if (msgrcv(id, &m, sizeof m.rec, 9, IPC_NOWAIT) == -1)
        failed("msgrcv(..., 9, IPC_NOWAIT), longer than msgsz");         /* E2BIG */
    printf("  the long message is still queued: %ld message(s)\n", queued(id));
    n = msgrcv(id, &m, sizeof m.rec, 9, IPC_NOWAIT | MSG_NOERROR);
    if (n == -1)
        die("msgrcv(MSG_NOERROR)");
    printf("  msgrcv(..., 9, IPC_NOWAIT | MSG_NOERROR) -> %zd bytes (truncated); %ld queued\n", n, queued(id));

    fflush(stdout);                           /* before fork, or the child prints our buffer too */
    pid_t child = fork();
    if (child == -1)
        die("fork");
    if (child == 0) {
        alarm(5);                             /* a backstop: SIGALRM's default action ends us */
        n = msgrcv(id, &m, sizeof m.rec, 0, 0);   /* blocks: the queue is empty */
        _exit(n == -1 ? errno : 0);           /* tell the parent which errno */
    }
    for (int i = 0; i < 1000 && !in_msgrcv(child); i++)
        nanosleep(&(struct timespec){0, 5 * 1000000L}, NULL);
    printf("  a child sleeps in msgrcv: %s\n", in_msgrcv(child) ? "yes" : "no");
    if (msgctl(id, IPC_RMID, NULL) == -1)
        die("msgctl(IPC_RMID)");
    printf("  msgctl(id, IPC_RMID, NULL): 0\n");
    int status;
    if (waitpid(child, &status, 0) == -1)
        die("waitpid");
    errno = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
    if (errno != 0)
        failed("the child's msgrcv, when the queue went");              /* EIDRM */
    if (msgsnd(id, &m, sizeof m.rec, IPC_NOWAIT) == -1)
        failed("msgsnd on the removed id");                              /* EINVAL */
    return 0;
}
