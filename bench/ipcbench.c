/* ipcbench.c: the C twin of ipclab.bench, same protocol, same checks, same time bounds.
 *
 * Why: a Python number means little alone. This program runs the *same exchange* in plain
 * C on the same machine, so bench/compare.py can print Python/C ratios side by side.
 *
 * Protocol (as ipclab/bench_transports.py): a message of n bytes is
 *   seq (u64) | ctrl (u64: 0 data, 1 phase mark, 2 stop) | pattern ... | seq (u64);
 * the consumer checks head and tail seq of every message; rings: every payload compared in
 * place (memcmp) before the slots are given back, a batch of BATCH messages per handshake
 * copied with one memcpy; streams and queues: the CRC-32 of the payload of one message in
 * 16. The producer runs a warm-up then `repeats` phases of fixed duration.
 *
 *   ipcbench tp  MECH SIZE SECONDS REPEATS [SLOTS BATCH [PIPE_BYTES]]   throughput, one JSON line
 *   ipcbench lat MECH SECONDS PIN                                      latency (PIN: none|same|cross)
 *   ipcbench memcpy SIZE SECONDS                                       memcpy rate
 * MECH (tp): posix_shm mmap_file sysv_shm unix tcp pipe fifo posix_mq sysv_mq
 * MECH (lat): posix_sem sysv_sem pipe posix_mq sysv_mq unix
 *
 * Build: gcc -O2 -o ipcbench ipcbench.c -lrt -lpthread -lz   (add -DNO_ZLIB and drop -lz
 * when zlib is missing). bench/compare.py builds it in a temporary directory.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifndef NO_ZLIB
#include <zlib.h>
#endif

#define DATA 0
#define MARK 1
#define STOP 2
#define SAMPLE 16
#define WAIT_S 10
#define MAXMARKS 64
#define STOP8 (1ULL << 63)

static void die(const char *what) { perror(what); exit(2); }

/* What a run creates that outlives a crash (System V ids, files in /tmp): remembered here and
 * removed at exit by the process that created them, even when it exits through die(). POSIX
 * names are unlinked as soon as they are opened, so they need no entry. */
static pid_t owner;
static struct { char kind; int id; char path[128]; } made[8];
static int n_made;
static void remember(char kind, int id, const char *path) {
    if (n_made < 8) { made[n_made].kind = kind; made[n_made].id = id;
                      snprintf(made[n_made].path, sizeof made[n_made].path, "%s", path ? path : ""); n_made++; }
}
static void remove_made(void) {
    if (getpid() != owner) return;            /* children inherit the handler: only the creator cleans */
    for (int i = 0; i < n_made; i++) {
        if (made[i].kind == 's') semctl(made[i].id, 0, IPC_RMID);
        else if (made[i].kind == 'q') msgctl(made[i].id, IPC_RMID, NULL);
        else unlink(made[i].path);
    }
    n_made = 0;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static struct timespec deadline_abs(void) {  /* sem_timedwait, mq_timed*: absolute CLOCK_REALTIME */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += WAIT_S;
    return ts;
}

static uint32_t crc(const unsigned char *p, size_t n) {
#ifndef NO_ZLIB
    return (uint32_t)crc32(0L, p, (uInt)n);
#else
    static uint32_t table[256];
    if (!table[1])
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
#endif
}

static void pattern(unsigned char *p, size_t n) {
    uint64_t x = 0x9E3779B97F4A7C15ull ^ n;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        p[i] = (unsigned char)x;
    }
}

static void pin(int cpu) {
    if (cpu < 0) return;
    cpu_set_t s;
    CPU_ZERO(&s);
    CPU_SET(cpu, &s);
    if (sched_setaffinity(0, sizeof s, &s)) die("sched_setaffinity");
}

static void on_alarm(int sig) { (void)sig; fprintf(stderr, "ipcbench: watchdog: a blocking call waited too long\n"); _exit(3); }

/* ---- the objects of one run ------------------------------------------------------------ */
struct run {
    const char *mech;
    size_t n, slots, batch, left, slot;
    unsigned char *ring;
    sem_t *empty, *full;           /* POSIX ring */
    int semid;                     /* System V ring: sem 0 = empty, 1 = full */
    int fd_r, fd_w;                /* streams */
    mqd_t mq;
    int msqid;
    struct { long mtype; unsigned char mtext[1]; } *msg;
    char name1[64], name2[64], name3[64], path[128];
    struct sockaddr_storage addr; socklen_t addrlen; int lfd, family;
};

static void sysv_op(int semid, int idx, int delta) {
    struct sembuf op = { (unsigned short)idx, (short)delta, 0 };
    struct timespec ts = { WAIT_S, 0 };
    while (semtimedop(semid, &op, 1, delta < 0 ? &ts : NULL) < 0) {
        if (errno == EINTR) continue;
        die("semtimedop");
    }
}

static void sem_wait_t(sem_t *s) {
    struct timespec ts = deadline_abs();
    while (sem_timedwait(s, &ts) < 0) {
        if (errno == EINTR) continue;
        die("sem_timedwait");
    }
}

static int is_ring(const char *m) { return !strcmp(m, "posix_shm") || !strcmp(m, "mmap_file") || !strcmp(m, "sysv_shm"); }

static void ring_wait(struct run *r, int which) {
    if (r->semid >= 0) sysv_op(r->semid, which, -1); else sem_wait_t(which ? r->full : r->empty);
}
static void ring_post(struct run *r, int which) {
    if (r->semid >= 0) sysv_op(r->semid, which, +1); else sem_post(which ? r->full : r->empty);
}

static void write_all(int fd, const unsigned char *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) { if (errno == EINTR) continue; die("write"); }
        p += w; n -= (size_t)w;
    }
}
static void read_all(int fd, unsigned char *p, size_t n) {
    while (n) {
        ssize_t g = read(fd, p, n);
        if (g < 0) { if (errno == EINTR) continue; die("read"); }
        if (g == 0) { fprintf(stderr, "ipcbench: peer closed\n"); exit(2); }
        p += g; n -= (size_t)g;
    }
}

static void send_msg(struct run *r, const unsigned char *m, int last) {
    const char *k = r->mech;
    (void)last;
    if (!strcmp(k, "posix_mq")) {
        struct timespec ts = deadline_abs();
        if (mq_timedsend(r->mq, (const char *)m, r->n, 0, &ts)) die("mq_timedsend");
    } else if (!strcmp(k, "sysv_mq")) {
        if (msgsnd(r->msqid, r->msg, r->n, 0)) die("msgsnd");  /* m is r->msg->mtext */
    } else {
        write_all(r->fd_w, m, r->n);
    }
}

/* Ring, producer: `count` (<= batch) consecutive messages prepared in `b`, one empty token,
 * one memcpy into consecutive slots, one post of full. */
static void ring_send(struct run *r, const unsigned char *b, size_t count) {
    ring_wait(r, 0);
    memcpy(r->ring + r->slot * r->n, b, count * r->n);
    r->slot = (r->slot + r->batch) % r->slots;
    ring_post(r, 1);
}

static void recv_msg(struct run *r, unsigned char *m) {
    const char *k = r->mech;
    if (!strcmp(k, "posix_mq")) {
        struct timespec ts = deadline_abs();
        ssize_t g = mq_timedreceive(r->mq, (char *)m, r->n, NULL, &ts);
        if (g != (ssize_t)r->n) die("mq_timedreceive");
    } else if (!strcmp(k, "sysv_mq")) {
        ssize_t g = msgrcv(r->msqid, r->msg, r->n, 1, 0);  /* lands in r->msg->mtext == m */
        if (g != (ssize_t)r->n) die("msgrcv");
    } else {
        read_all(r->fd_r, m, r->n);
    }
}

static void setup(struct run *r, size_t pipe_bytes) {
    pid_t me = getpid();
    r->semid = -1; r->lfd = -1; r->fd_r = r->fd_w = -1;
    const char *k = r->mech;
    if (is_ring(k)) {
        size_t len = r->slots * r->n;
        if (!strcmp(k, "sysv_shm")) {
            int id = shmget(IPC_PRIVATE, len, IPC_CREAT | 0600);
            if (id < 0) die("shmget");
            r->ring = shmat(id, NULL, 0);
            shmctl(id, IPC_RMID, NULL);  /* removed now, freed at the last detach */
            r->semid = semget(IPC_PRIVATE, 2, IPC_CREAT | 0600);
            if (r->semid < 0) die("semget");
            remember('s', r->semid, NULL);
            unsigned short v[2] = { (unsigned short)(r->slots / r->batch), 0 };
            if (semctl(r->semid, 0, SETALL, v)) die("semctl");
        } else {
            int fd;
            if (!strcmp(k, "posix_shm")) {
                snprintf(r->name1, sizeof r->name1, "/ipcbench-%d-ring", me);
                fd = shm_open(r->name1, O_CREAT | O_EXCL | O_RDWR, 0600);
                if (fd < 0) die("shm_open");
                shm_unlink(r->name1);
            } else {
                snprintf(r->path, sizeof r->path, "/tmp/ipcbench-%d-map", me);
                fd = open(r->path, O_CREAT | O_EXCL | O_RDWR, 0600);
                if (fd < 0) die("open");
                unlink(r->path);
            }
            if (posix_fallocate(fd, 0, (off_t)len)) die("posix_fallocate");
            r->ring = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
            if (r->ring == MAP_FAILED) die("mmap");
            close(fd);
            snprintf(r->name2, sizeof r->name2, "/ipcbench-%d-empty", me);
            snprintf(r->name3, sizeof r->name3, "/ipcbench-%d-full", me);
            r->empty = sem_open(r->name2, O_CREAT | O_EXCL, 0600, (unsigned)(r->slots / r->batch));
            r->full = sem_open(r->name3, O_CREAT | O_EXCL, 0600, 0);
            if (r->empty == SEM_FAILED || r->full == SEM_FAILED) die("sem_open");
            sem_unlink(r->name2); sem_unlink(r->name3);
        }
    } else if (!strcmp(k, "pipe")) {
        int p[2];
        if (pipe(p)) die("pipe");
        if (pipe_bytes && fcntl(p[1], F_SETPIPE_SZ, (int)pipe_bytes) < 0) die("F_SETPIPE_SZ");
        r->fd_r = p[0]; r->fd_w = p[1];
    } else if (!strcmp(k, "fifo")) {
        snprintf(r->path, sizeof r->path, "/tmp/ipcbench-%d-fifo", me);
        if (mkfifo(r->path, 0600)) die("mkfifo");
        remember('f', 0, r->path);
    } else if (!strcmp(k, "unix") || !strcmp(k, "tcp")) {
        if (!strcmp(k, "unix")) {
            struct sockaddr_un *a = (struct sockaddr_un *)&r->addr;
            a->sun_family = AF_UNIX;
            snprintf(a->sun_path, sizeof a->sun_path, "/tmp/ipcbench-%d.sock", me);
            r->addrlen = sizeof *a; r->family = AF_UNIX;
        } else {
            struct sockaddr_in *a = (struct sockaddr_in *)&r->addr;
            a->sin_family = AF_INET; a->sin_port = 0; a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            r->addrlen = sizeof *a; r->family = AF_INET;
        }
        r->lfd = socket(r->family, SOCK_STREAM, 0);
        if (bind(r->lfd, (struct sockaddr *)&r->addr, r->addrlen) || listen(r->lfd, 1)) die("bind/listen");
        if (r->family == AF_UNIX) remember('f', 0, ((struct sockaddr_un *)&r->addr)->sun_path);
        getsockname(r->lfd, (struct sockaddr *)&r->addr, &r->addrlen);
    } else if (!strcmp(k, "posix_mq")) {
        snprintf(r->name1, sizeof r->name1, "/ipcbench-%d-mq", me);
        struct mq_attr at = { 0 };
        at.mq_maxmsg = 10; at.mq_msgsize = (long)r->n;
        r->mq = mq_open(r->name1, O_CREAT | O_EXCL | O_RDWR, 0600, &at);
        if (r->mq == (mqd_t)-1) die("mq_open");
        mq_unlink(r->name1);
    } else if (!strcmp(k, "sysv_mq")) {
        r->msqid = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
        if (r->msqid < 0) die("msgget");
        remember('q', r->msqid, NULL);
    } else {
        fprintf(stderr, "unknown mechanism %s\n", k); exit(2);
    }
}

static void open_side(struct run *r, int tx) {  /* in the child, after fork */
    const char *k = r->mech;
    if (!strcmp(k, "pipe")) {
        if (tx) close(r->fd_r); else close(r->fd_w);
    } else if (!strcmp(k, "fifo")) {
        int fd = open(r->path, tx ? O_WRONLY : O_RDONLY);
        if (fd < 0) die("open fifo");
        if (tx) r->fd_w = fd; else r->fd_r = fd;
    } else if (r->lfd >= 0) {
        int fd;
        if (tx) {
            close(r->lfd);
            fd = socket(r->family, SOCK_STREAM, 0);
            if (connect(fd, (struct sockaddr *)&r->addr, r->addrlen)) die("connect");
        } else {
            fd = accept(r->lfd, NULL, NULL);
            if (fd < 0) die("accept");
            close(r->lfd);
        }
        if (r->family == AF_INET && r->slots == 0xFFFF) {  /* latency: no Nagle */
            int one = 1; setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        }
        r->fd_r = r->fd_w = fd;
    }
}

static void teardown(struct run *r) {
    if (!strcmp(r->mech, "fifo")) unlink(r->path);
    if (r->lfd >= 0 && r->family == AF_UNIX) unlink(((struct sockaddr_un *)&r->addr)->sun_path);
    if (r->semid >= 0) semctl(r->semid, 0, IPC_RMID);
    if (!strcmp(r->mech, "sysv_mq")) msgctl(r->msqid, IPC_RMID, NULL);
}

/* ---- throughput -------------------------------------------------------------------------- */
static unsigned char *msg_buffer(struct run *r) {
    if (!strcmp(r->mech, "sysv_mq")) {
        r->msg = malloc(sizeof(long) + r->n);
        r->msg->mtype = 1;
        return r->msg->mtext;
    }
    return malloc(r->n);
}

static void put_fields(unsigned char *m, size_t n, uint64_t seq, uint64_t ctrl) {
    memcpy(m, &seq, 8); memcpy(m + 8, &ctrl, 8); memcpy(m + n - 8, &seq, 8);
}

static void producer(struct run *r, double warmup, double phase, int repeats) {
    size_t k = r->ring ? r->batch : 1;   /* a ring takes a batch of k messages per handshake */
    unsigned char *m = r->ring ? malloc(k * r->n) : msg_buffer(r);
    for (size_t i = 0; i < k; i++) pattern(m + i * r->n, r->n);
    uint64_t seq = 0, ctrl = DATA;
    int ph = -1;
    long every = 1;
    double t = now(), sw = t + warmup;
    for (;;) {
        for (long i = 0; i < every; i++) {
            for (size_t j = 0; j < k; j++) put_fields(m + j * r->n, r->n, seq + j, j ? DATA : ctrl);
            if (r->ring) ring_send(r, m, k); else send_msg(r, m, 0);
            seq += k; ctrl = DATA;
        }
        double tn = now();
        if (tn - t < 1e-3 && every < 4096) every *= 2;
        t = tn;
        if (tn >= sw) {
            if (++ph == repeats) {
                put_fields(m, r->n, seq, STOP);
                if (r->ring) ring_send(r, m, 1); else send_msg(r, m, 1);
                return;
            }
            ctrl = MARK; sw = tn + phase;
        }
    }
}

struct mark { double t; uint64_t seq; };

/* Check one message: head and tail seq always; the payload either against the reference in
 * full (rings: in place, every byte) or by CRC-32 one message in SAMPLE (copies). Returns ctrl. */
static uint64_t check(const unsigned char *m, size_t n, uint64_t expected, const unsigned char *ref,
                      uint32_t want, int full, uint64_t *checked) {
    uint64_t seq, ctrl, tail;
    memcpy(&seq, m, 8); memcpy(&ctrl, m + 8, 8); memcpy(&tail, m + n - 8, 8);
    if (seq != expected || tail != seq) { fprintf(stderr, "integrity: message %llu\n", (unsigned long long)expected); exit(4); }
    if (full) {
        if (memcmp(m + 16, ref + 16, n - 24)) { fprintf(stderr, "integrity: payload %llu\n", (unsigned long long)seq); exit(4); }
        (*checked)++;
    } else if (!(seq % SAMPLE)) {
        if (crc(m + 16, n - 24) != want) { fprintf(stderr, "integrity: payload %llu\n", (unsigned long long)seq); exit(4); }
        (*checked)++;
    }
    return ctrl;
}

static int consumer(struct run *r, struct mark *marks, uint64_t *received, uint64_t *crcs) {
    unsigned char *m = msg_buffer(r), *ref = malloc(r->n);
    pattern(ref, r->n);
    memcpy(m, ref, r->n);
    uint32_t want = crc(ref + 16, r->n - 24);
    uint64_t expected = 0, ctrl;
    int nm = 0;
    *crcs = 0;
    if (r->ring) {  /* take a batch, check every message in place, give the slots back */
        for (;;) {
            ring_wait(r, 1);
            const unsigned char *b = r->ring + r->slot * r->n;
            int stop = 0;
            for (size_t j = 0; j < r->batch && !stop; j++) {
                ctrl = check(b + j * r->n, r->n, expected, ref, want, 1, crcs);
                if (ctrl) {
                    if (nm < MAXMARKS) { marks[nm].t = now(); marks[nm].seq = expected; nm++; }
                    stop = ctrl == STOP;
                }
                if (!stop) expected++;
            }
            r->slot = (r->slot + r->batch) % r->slots;
            ring_post(r, 0);
            if (stop) break;
        }
    } else {
        for (;;) {
            recv_msg(r, m);
            ctrl = check(m, r->n, expected, ref, want, 0, crcs);
            if (ctrl) {
                if (nm < MAXMARKS) { marks[nm].t = now(); marks[nm].seq = expected; nm++; }
                if (ctrl == STOP) break;
            }
            expected++;
        }
    }
    *received = expected + 1;
    return nm;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int throughput(int argc, char **argv) {
    struct run r = { 0 };
    r.mech = argv[2];
    r.n = strtoul(argv[3], NULL, 0);
    double seconds = atof(argv[4]);
    int repeats = atoi(argv[5]);
    r.slots = argc > 6 ? strtoul(argv[6], NULL, 0) : 8;
    r.batch = argc > 7 ? strtoul(argv[7], NULL, 0) : 2;
    size_t pipe_bytes = argc > 8 ? strtoul(argv[8], NULL, 0) : 0;
    if (!is_ring(r.mech)) r.slots = r.batch = 0;
    double warmup = seconds * 0.1 > 0.02 ? seconds * 0.1 : 0.02, phase = (seconds - warmup) / repeats;
    setup(&r, pipe_bytes);
    int res[2];
    if (pipe(res)) die("pipe");
    pid_t c = fork();
    if (c == 0) {
        alarm((unsigned)seconds + 20);
        open_side(&r, 0);
        close(res[0]);
        struct mark marks[MAXMARKS];
        uint64_t rec, crcs;
        int nm = consumer(&r, marks, &rec, &crcs);
        write_all(res[1], (unsigned char *)&nm, sizeof nm);
        write_all(res[1], (unsigned char *)&rec, sizeof rec);
        write_all(res[1], (unsigned char *)&crcs, sizeof crcs);
        write_all(res[1], (unsigned char *)marks, sizeof(struct mark) * (size_t)nm);
        _exit(0);
    }
    pid_t p = fork();
    if (p == 0) {
        alarm((unsigned)seconds + 20);
        close(res[0]);
        open_side(&r, 1);
        producer(&r, warmup, phase, repeats);
        _exit(0);
    }
    close(res[1]);
    if (!strcmp(r.mech, "pipe")) { close(r.fd_r); close(r.fd_w); }
    if (r.lfd >= 0) close(r.lfd);
    int nm; uint64_t rec, crcs;
    struct mark marks[MAXMARKS];
    read_all(res[0], (unsigned char *)&nm, sizeof nm);
    read_all(res[0], (unsigned char *)&rec, sizeof rec);
    read_all(res[0], (unsigned char *)&crcs, sizeof crcs);
    read_all(res[0], (unsigned char *)marks, sizeof(struct mark) * (size_t)nm);
    int st1, st2;
    waitpid(c, &st1, 0); waitpid(p, &st2, 0);
    teardown(&r);
    if (!WIFEXITED(st1) || WEXITSTATUS(st1) || !WIFEXITED(st2) || WEXITSTATUS(st2)) {
        fprintf(stderr, "ipcbench: a child failed\n"); return 2;
    }
    double rates[MAXMARKS], msgs[MAXMARKS];
    int k = 0;
    printf("{\"mechanism\": \"%s\", \"size\": %zu, \"slots\": %zu, \"batch\": %zu, \"runs_gbps\": [",
           r.mech, r.n, r.slots, r.batch);
    for (int i = 0; i + 1 < nm; i++, k++) {
        double dt = marks[i + 1].t - marks[i].t;
        msgs[k] = (double)(marks[i + 1].seq - marks[i].seq) / dt;
        rates[k] = msgs[k] * (double)r.n / 1e9;
        printf("%s%.6f", i ? ", " : "", rates[k]);
    }
    qsort(rates, (size_t)k, sizeof(double), cmp_double);
    qsort(msgs, (size_t)k, sizeof(double), cmp_double);
    double med = k % 2 ? rates[k / 2] : (rates[k / 2 - 1] + rates[k / 2]) / 2;
    double medm = k % 2 ? msgs[k / 2] : (msgs[k / 2 - 1] + msgs[k / 2]) / 2;
    printf("], \"gbps\": %.6f, \"msgs_per_s\": %.1f, \"messages\": %llu, \"crc_checked\": %llu}\n",
           med, medm, (unsigned long long)rec, (unsigned long long)crcs);
    return 0;
}

/* ---- latency ----------------------------------------------------------------------------- */
struct lat {
    const char *mech;
    sem_t *a, *b; int sem_ping, sem_pong; volatile unsigned char *ctl;  /* sysv_sem: two sets of one */
    int p1[2], p2[2]; mqd_t q1, q2, q1s, q2s; int mq1, mq2; struct run sock;  /* q1s/q2s: non-blocking senders */
};

static void lat_send(struct lat *L, int ping, uint64_t v) {
    const char *k = L->mech;
    if (!strcmp(k, "posix_sem") || !strcmp(k, "sysv_sem")) {
        if (v & STOP8) L->ctl[0] = 1;
        if (L->sem_ping >= 0) sysv_op(ping ? L->sem_ping : L->sem_pong, 0, +1); else sem_post(ping ? L->a : L->b);
    } else if (!strcmp(k, "pipe")) {
        write_all(ping ? L->p1[1] : L->p2[1], (unsigned char *)&v, 8);
    } else if (!strcmp(k, "posix_mq")) {
        /* never has to wait (the queue holds one message and is empty): O_NONBLOCK, like the Python side */
        if (mq_send(ping ? L->q1s : L->q2s, (char *)&v, 8, 0)) die("mq_send");
    } else if (!strcmp(k, "sysv_mq")) {
        struct { long t; uint64_t v; } m = { 1, v };
        if (msgsnd(ping ? L->mq1 : L->mq2, &m, 8, 0)) die("msgsnd");
    } else {
        write_all(L->sock.fd_w, (unsigned char *)&v, 8);
    }
}

static uint64_t lat_recv(struct lat *L, int ping) {
    const char *k = L->mech;
    uint64_t v = 0;
    if (!strcmp(k, "posix_sem") || !strcmp(k, "sysv_sem")) {
        if (L->sem_ping >= 0) {    /* plain semop, like sysv_ipc built without semtimedop; alarm() bounds it */
            struct sembuf op = { 0, -1, 0 };
            while (semop(ping ? L->sem_pong : L->sem_ping, &op, 1) < 0) { if (errno != EINTR) die("semop"); }
        } else sem_wait_t(ping ? L->b : L->a);
        return L->ctl[0] ? STOP8 : 0;
    } else if (!strcmp(k, "pipe")) {
        read_all(ping ? L->p2[0] : L->p1[0], (unsigned char *)&v, 8);
    } else if (!strcmp(k, "posix_mq")) {
        struct timespec ts = deadline_abs();
        if (mq_timedreceive(ping ? L->q2 : L->q1, (char *)&v, 8, NULL, &ts) != 8) die("mq_timedreceive");
    } else if (!strcmp(k, "sysv_mq")) {
        struct { long t; uint64_t v; } m;
        if (msgrcv(ping ? L->mq2 : L->mq1, &m, 8, 0, 0) != 8) die("msgrcv");
        v = m.v;
    } else {
        read_all(L->sock.fd_r, (unsigned char *)&v, 8);
    }
    return v;
}

static int latency(int argc, char **argv) {
    struct lat L;
    memset(&L, 0, sizeof L);
    L.mech = argv[2];
    L.sem_ping = L.sem_pong = -1;
    double seconds = atof(argv[3]);
    const char *pinmode = argc > 4 ? argv[4] : "none";
    int cpu_a = -1, cpu_b = -1;
    cpu_set_t allowed;
    sched_getaffinity(0, sizeof allowed, &allowed);
    int first = -1, second = -1;
    for (int i = 0; i < CPU_SETSIZE; i++)
        if (CPU_ISSET(i, &allowed)) { if (first < 0) first = i; else if (second < 0) second = i; }
    if (!strcmp(pinmode, "same")) cpu_a = cpu_b = first;
    if (!strcmp(pinmode, "cross")) { cpu_a = first; cpu_b = second; }
    pid_t me = getpid();
    char n1[64], n2[64];
    L.ctl = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    const char *k = L.mech;
    if (!strcmp(k, "posix_sem")) {
        snprintf(n1, sizeof n1, "/ipcbench-%d-ping", me); snprintf(n2, sizeof n2, "/ipcbench-%d-pong", me);
        L.a = sem_open(n1, O_CREAT | O_EXCL, 0600, 0); L.b = sem_open(n2, O_CREAT | O_EXCL, 0600, 0);
        if (L.a == SEM_FAILED || L.b == SEM_FAILED) die("sem_open");
        sem_unlink(n1); sem_unlink(n2);
    } else if (!strcmp(k, "sysv_sem")) {
        L.sem_ping = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);  /* like sysv_ipc.Semaphore: a set of one */
        if (L.sem_ping >= 0) remember('s', L.sem_ping, NULL);
        L.sem_pong = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
        if (L.sem_pong >= 0) remember('s', L.sem_pong, NULL);
        if (L.sem_ping < 0 || L.sem_pong < 0) die("semget");
    } else if (!strcmp(k, "pipe")) {
        if (pipe(L.p1) || pipe(L.p2)) die("pipe");
    } else if (!strcmp(k, "posix_mq")) {
        struct mq_attr at = { 0 };
        at.mq_maxmsg = 1; at.mq_msgsize = 8;
        snprintf(n1, sizeof n1, "/ipcbench-%d-q1", me); snprintf(n2, sizeof n2, "/ipcbench-%d-q2", me);
        L.q1 = mq_open(n1, O_CREAT | O_EXCL | O_RDWR, 0600, &at);
        L.q2 = mq_open(n2, O_CREAT | O_EXCL | O_RDWR, 0600, &at);
        L.q1s = mq_open(n1, O_WRONLY | O_NONBLOCK); L.q2s = mq_open(n2, O_WRONLY | O_NONBLOCK);
        if (L.q1 == (mqd_t)-1 || L.q2 == (mqd_t)-1 || L.q1s == (mqd_t)-1 || L.q2s == (mqd_t)-1) die("mq_open");
        mq_unlink(n1); mq_unlink(n2);
    } else if (!strcmp(k, "sysv_mq")) {
        L.mq1 = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
        if (L.mq1 >= 0) remember('q', L.mq1, NULL);
        L.mq2 = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
        if (L.mq2 >= 0) remember('q', L.mq2, NULL);
        if (L.mq1 < 0 || L.mq2 < 0) die("msgget");
    } else if (!strcmp(k, "unix")) {
        L.sock.mech = "unix"; L.sock.n = 8;
        setup(&L.sock, 0);
    } else { fprintf(stderr, "unknown latency mechanism %s\n", k); return 2; }
    int res[2];
    if (pipe(res)) die("pipe");
    pid_t pong = fork();
    if (pong == 0) {
        alarm((unsigned)seconds + 20);
        pin(cpu_b);
        if (!strcmp(k, "unix")) open_side(&L.sock, 0);
        for (;;) {
            uint64_t v = lat_recv(&L, 0);
            if (v & STOP8) _exit(0);
            lat_send(&L, 0, v);
        }
    }
    pid_t ping = fork();
    if (ping == 0) {
        alarm((unsigned)seconds + 20);
        pin(cpu_a);
        if (!strcmp(k, "unix")) open_side(&L.sock, 1);
        double warm = seconds * 0.1 > 0.02 ? seconds * 0.1 : 0.02, t_end = now() + warm;
        uint64_t seq = 0;
        while (now() < t_end) { lat_send(&L, 1, seq++); lat_recv(&L, 1); }
        size_t cap = 2000000, cnt = 0;
        double *s = malloc(cap * sizeof(double));
        t_end = now() + (seconds - warm);
        double t0 = now();
        while (cnt < cap) {
            lat_send(&L, 1, seq);
            uint64_t back = lat_recv(&L, 1);
            if (back != seq++ && strcmp(k, "posix_sem") && strcmp(k, "sysv_sem")) {
                fprintf(stderr, "integrity: the answer is not the ping\n"); exit(4);
            }
            double t1 = now();
            s[cnt++] = (t1 - t0) * 1e6;
            t0 = t1;
            if (t1 >= t_end) break;
        }
        lat_send(&L, 1, STOP8);
        qsort(s, cnt, sizeof(double), cmp_double);
        printf("{\"mechanism\": \"%s\", \"pin\": \"%s\", \"count\": %zu, \"median_us\": %.3f, \"p99_us\": %.3f, \"min_us\": %.3f}\n",
               k, pinmode, cnt, s[cnt / 2], s[(size_t)(cnt * 0.99)], s[0]);
        fflush(stdout);
        _exit(0);
    }
    int st1, st2;
    waitpid(ping, &st1, 0); waitpid(pong, &st2, 0);
    if (L.sem_ping >= 0) { semctl(L.sem_ping, 0, IPC_RMID); semctl(L.sem_pong, 0, IPC_RMID); }
    if (!strcmp(k, "sysv_mq")) { msgctl(L.mq1, IPC_RMID, NULL); msgctl(L.mq2, IPC_RMID, NULL); }
    if (!strcmp(k, "unix")) teardown(&L.sock);
    return WIFEXITED(st1) && !WEXITSTATUS(st1) ? 0 : 2;
}

static int memcpy_rate(char **argv) {
    size_t n = strtoul(argv[2], NULL, 0), block = n > 65536 ? n : 65536;
    double seconds = atof(argv[3]);
    unsigned char *a = malloc(block), *b = malloc(block);
    pattern(a, block); memset(b, 1, block);
    double rates[8]; int k = 0;
    for (int r = 0; r < 4; r++) {
        double t0 = now(), t1 = t0; long cnt = 0;
        while (t1 - t0 < seconds / 4) {
            for (int i = 0; i < 8; i++) { memcpy(b, a, block); __asm__ volatile("" ::"r"(b) : "memory"); }
            cnt += 8; t1 = now();
        }
        if (r) rates[k++] = (double)cnt * (double)block / (t1 - t0) / 1e9;
    }
    qsort(rates, (size_t)k, sizeof(double), cmp_double);
    printf("{\"mechanism\": \"memcpy\", \"size\": %zu, \"gbps\": %.6f}\n", n, rates[k / 2]);
    return 0;
}

int main(int argc, char **argv) {
    owner = getpid();
    atexit(remove_made);
    signal(SIGALRM, on_alarm);
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc >= 6 && !strcmp(argv[1], "tp")) return throughput(argc, argv);
    if (argc >= 4 && !strcmp(argv[1], "lat")) return latency(argc, argv);
    if (argc >= 4 && !strcmp(argv[1], "memcpy")) return memcpy_rate(argv);
    fprintf(stderr, "usage: ipcbench tp MECH SIZE SECONDS REPEATS [SLOTS BATCH [PIPE_BYTES]]\n"
                    "       ipcbench lat MECH SECONDS [none|same|cross]\n"
                    "       ipcbench memcpy SIZE SECONDS\n");
    return 2;
}
