/* record_update: update one record of a record file that Python made, through MAP_SHARED (notebook 05).
 *
 * The file is an ipclab.mechanisms.mapping.RecordStore made with the format "<q16s": a 64-byte
 * header, then records of { int64_t value; char label[16]; }. C maps the same file, takes the
 * same fcntl byte-range lock on the record as Python's RecordStore does, adds to the value and
 * sets the label, and never calls msync: Python reads the new record at once.
 * Usage: record_update PATH INDEX ADD LABEL [private]   ("private": MAP_PRIVATE instead)
 * Every failing call prints perror's "call: reason" and the program exits 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct header {                 /* RecordStore.HEADER, struct "<8sII48s": 64 bytes */
    char magic[8];              /* "IPCLREC1" */
    uint32_t record_size;
    uint32_t count;
    char format[48];            /* the Python struct format, here "<q16s" */
};

struct record {                 /* "<q16s": 24 bytes, no padding */
    int64_t value;
    char label[16];
};

/* fcntl(F_SETLK) on the bytes of one record, retried for up to 5 s: never blocks for ever. */
static int lock_bytes(int fd, off_t start, off_t len, short type)
{
    struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
    for (int tries = 0; tries < 500; tries++) {
        if (fcntl(fd, F_SETLK, &fl) == 0)
            return 0;
        if (errno != EACCES && errno != EAGAIN && errno != EINTR) {   /* fcntl(2): held = EACCES or EAGAIN */
            perror("fcntl(F_SETLK)");
            return -1;
        }
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);     /* 10 ms, then try again */
    }
    fprintf(stderr, "record lock: still held by another process after 5 s\n");
    return -1;
}

int main(int argc, char **argv)
{
    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: %s PATH INDEX ADD LABEL [private]\n", argv[0]);
        return 2;
    }
    int flags = argc == 6 && strcmp(argv[5], "private") == 0 ? MAP_PRIVATE : MAP_SHARED;
    int fd = open(argv[1], O_RDWR);                  /* the path Python chose */
    if (fd == -1) { perror("open"); return 1; }
    struct stat st;
    if (fstat(fd, &st) == -1) { perror("fstat"); return 1; }
    if ((size_t)st.st_size < sizeof(struct header)) {
        fprintf(stderr, "%s: %ld bytes, not a record store\n", argv[1], (long)st.st_size);
        return 1;
    }
    char *base = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, flags, fd, 0);
    if (base == MAP_FAILED) { perror("mmap"); return 1; }

    struct header *h = (struct header *)base;
    long i = strtol(argv[2], NULL, 10);
    if (memcmp(h->magic, "IPCLREC1", 8) != 0 || h->record_size != sizeof(struct record)
        || sizeof *h + (size_t)h->count * sizeof(struct record) > (size_t)st.st_size || i < 0 || i >= h->count) {
        fprintf(stderr, "not a store of %zu-byte records, or no record %ld\n", sizeof(struct record), i);
        return 1;
    }
    printf("C maps the file: %u records of %u bytes, format \"%.48s\"\n", h->count, h->record_size, h->format);
    struct record *r = (struct record *)(base + sizeof *h) + i;
    off_t where = (off_t)((char *)r - base);
    if (lock_bytes(fd, where, sizeof *r, F_WRLCK) == -1)   /* the lock RecordStore.update takes */
        return 1;
    printf("C reads record %ld:  value %lld, label \"%.16s\"\n", i, (long long)r->value, r->label);
    r->value += strtol(argv[3], NULL, 10);           /* plain stores into the mapping: */
    memset(r->label, 0, sizeof r->label);            /* no write(), no msync() */
    memcpy(r->label, argv[4], strnlen(argv[4], sizeof r->label));
    printf("C wrote record %ld: value %lld, label \"%.16s\" (%s, no msync)\n", i, (long long)r->value,
           r->label, flags == MAP_SHARED ? "MAP_SHARED" : "MAP_PRIVATE");
    if (lock_bytes(fd, where, sizeof *r, F_UNLCK) == -1)
        return 1;
    if (munmap(base, st.st_size) == -1) { perror("munmap"); return 1; }
    close(fd);
    return 0;
}
