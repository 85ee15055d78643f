/* Message passing (MP):                     data = flag = 0
 *     process 0:  data = 1;  flag = 1;      process 1:  r0 = flag;  r1 = data;
 * The forbidden outcome is r0 = 1, r1 = 0: the reader saw the flag but not the data it
 * announces. x86-64 never shows it (stores are not reordered with stores, loads not with
 * loads: Intel SDM vol. 3A, 8.2.3.2); arm64 and POWER may, unless the flag store is a release and its load an acquire
 * (or fences stand between). C11 allows it for plain and relaxed accesses.
 * Process 0 records 0 (it loads nothing); the outcome "10" here is flag seen, data not. */
#include "litmus.h"

__attribute__((noinline)) static unsigned char body(struct litmus *t, long i)
{
    cell_t *data = &t->x[i * STRIDE], *flag = &t->y[i * STRIDE];
    if (t->role == 0) {
        ST_RLX(data, 1);
        FENCE();
        ST_REL(flag, 1);
        return 0;
    }
    int r0 = LD_ACQ(flag);
    FENCE();
    int r1 = LD_RLX(data);
    return (unsigned char)((r0 << 1) | r1);
}

int main(int argc, char **argv)
{
    struct litmus t;
    litmus_open(&t, argc, argv);
    return litmus_run(&t, body);
}
