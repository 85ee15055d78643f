/* shm_peek: open a POSIX shared memory object made by Python, read it, write to it.
 *
 * The layout is the one notebook 01 builds with ctypes (struct Shared):
 *     uint32_t magic; uint32_t count; double values[4]; char text[32];
 * Usage: shm_peek /NAME      (compiled by ipclab.shm.build_c("shm_peek"))
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct shared {
    uint32_t magic;
    uint32_t count;
    double values[4];
    char text[32];
};

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s /NAME\n", argv[0]);
        return 2;
    }
    int fd = shm_open(argv[1], O_RDWR, 0);          /* the name Python chose */
    if (fd == -1) { perror("shm_open"); return 1; }
    struct stat st;
    if (fstat(fd, &st) == -1) { perror("fstat"); return 1; }
    if ((size_t)st.st_size < sizeof(struct shared)) {
        fprintf(stderr, "object is %ld bytes, need %zu\n", (long)st.st_size, sizeof(struct shared));
        return 1;
    }
    struct shared *s = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (s == MAP_FAILED) { perror("mmap"); return 1; }
    close(fd);                                       /* the mapping stays valid */

    printf("C sees: sizeof(struct shared) = %zu, magic = 0x%08x, count = %u\n",
           sizeof *s, s->magic, s->count);
    printf("C sees: values = %g %g %g %g, text = \"%.*s\"\n",
           s->values[0], s->values[1], s->values[2], s->values[3], (int)sizeof s->text, s->text);
    for (int i = 0; i < 4; i++)
        s->values[i] *= 2;                           /* write back: Python will see it */
    s->count += 1;
    snprintf(s->text, sizeof s->text, "hello from C");
    munmap(s, sizeof *s);
    return 0;
}
