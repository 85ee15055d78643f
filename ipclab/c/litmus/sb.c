/* Store buffering (SB), Dekker's core:      x = y = 0
 *     process 0:  x = 1;  r0 = y;          process 1:  y = 1;  r1 = x;
 * Sequential consistency forbids r0 = r1 = 0 (whoever runs second must see the other's 1).
 * x86-64 allows it: each store waits in its core's store buffer while the load after it
 * reads memory (x86-TSO, Sewell et al., CACM 2010; Intel SDM vol. 3A, section 8.2.3.4 "Loads May
 * Be Reordered with Earlier Stores to Different Locations"). C11 allows it for plain, relaxed and release/acquire accesses,
 * and forbids it for seq_cst accesses or with a seq_cst fence between store and load.
 * The outcome printed as "00" is r0 = 0, r1 = 0. */
#include "litmus.h"

__attribute__((noinline)) static unsigned char body(struct litmus *t, long i)
{
    cell_t *mine = t->role == 0 ? &t->x[i * STRIDE] : &t->y[i * STRIDE];
    cell_t *other = t->role == 0 ? &t->y[i * STRIDE] : &t->x[i * STRIDE];
    ST_REL(mine, 1);
    FENCE();
    return (unsigned char)LD_ACQ(other);
}

int main(int argc, char **argv)
{
    struct litmus t;
    litmus_open(&t, argc, argv);
    return litmus_run(&t, body);
}
