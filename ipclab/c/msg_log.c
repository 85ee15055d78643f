/* msg_log: send log records to a System V message queue made by Python (notebook 03).
 *
 * The record is the C struct that ipclab.msgq_demos.LOG_RECORD packs with struct ("@iid48s"):
 *     struct log_record { int pid; int seq; double time; char text[48]; };
 * and the message type is the log level (1 = ERROR, most urgent ... 4 = DEBUG).
 * Usage: msg_log MSQID LEVEL TEXT [LEVEL TEXT ...]   (built by msgq_demos.build_log_sender())
 * Prints sizeof(struct log_record) so Python can check both sides agree.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/msg.h>
#include <sys/time.h>
#include <unistd.h>

struct log_record {
    int pid;
    int seq;
    double time;
    char text[48];
};

struct message {            /* what msgsnd expects: a long type, then the bytes */
    long mtype;
    struct log_record rec;
};

int main(int argc, char **argv)
{
    if (argc < 4 || argc % 2 != 0) {
        fprintf(stderr, "usage: %s MSQID LEVEL TEXT [LEVEL TEXT ...]\n", argv[0]);
        return 2;
    }
    int msqid = atoi(argv[1]);
    printf("%zu\n", sizeof(struct log_record));
    for (int i = 2, seq = 0; i < argc; i += 2, seq++) {
        struct message m;
        struct timeval tv;
        memset(&m, 0, sizeof m);
        gettimeofday(&tv, NULL);
        m.mtype = atol(argv[i]);
        m.rec.pid = getpid();
        m.rec.seq = seq;
        m.rec.time = tv.tv_sec + tv.tv_usec / 1e6;
        strncpy(m.rec.text, argv[i + 1], sizeof m.rec.text - 1);
        if (msgsnd(msqid, &m, sizeof m.rec, IPC_NOWAIT) == -1) {   /* never blocks */
            perror("msgsnd");
            return 1;
        }
    }
    return 0;
}
