/* The C track's "slow student" hook: what labkit.slow_student does to Python code, line by line.
 *
 * The grader compiles the student's file with gcc's ThreadSanitizer *instrumentation* only
 * (-fsanitize=thread at compile time, never linked with libtsan): gcc then calls __tsan_read4,
 * __tsan_write4, __tsan_atomic32_load... around every memory access of the student's code. This
 * file, linked into the same shared library, defines those entry points: each access is done as
 * written (atomics keep the memory order the student asked for), and when ipclab_slow_ns is set,
 * it first sleeps that long. Two processes started together then run their critical sections side
 * by side unless a lock really keeps them apart, so a missing mutex loses its test every run.
 * Timing only, never behaviour. Function names and signatures: libsanitizer's tsan_interface.h
 * and tsan_interface_atomic.h (gcc 12).
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L  /* nanosleep under -std=c11 */
#endif
#include <stdint.h>
#include <time.h>

static long ipclab_slow_ns;   /* 0: no delay (the default) */

void ipclab_slow(long ns) { ipclab_slow_ns = ns > 0 ? ns : 0; }

static void pause_here(void)
{
    if (ipclab_slow_ns) {
        struct timespec ts = {ipclab_slow_ns / 1000000000L, ipclab_slow_ns % 1000000000L};
        while (nanosleep(&ts, &ts) == -1)
            ;
    }
}

void __tsan_init(void) {}
void __tsan_func_entry(void *pc) { (void)pc; }
void __tsan_func_exit(void) {}
void __tsan_read_range(void *addr, unsigned long size) { (void)addr; (void)size; pause_here(); }
void __tsan_write_range(void *addr, unsigned long size) { (void)addr; (void)size; pause_here(); }

#define ACCESS(n)                                                         \
    void __tsan_read##n(void *a) { (void)a; pause_here(); }               \
    void __tsan_write##n(void *a) { (void)a; pause_here(); }              \
    void __tsan_unaligned_read##n(void *a) { (void)a; pause_here(); }     \
    void __tsan_unaligned_write##n(void *a) { (void)a; pause_here(); }    \
    void __tsan_volatile_read##n(void *a) { (void)a; pause_here(); }      \
    void __tsan_volatile_write##n(void *a) { (void)a; pause_here(); }
ACCESS(1)
ACCESS(2)
ACCESS(4)
ACCESS(8)
ACCESS(16)

/* tsan's memory orders are C11's, in order: relaxed, consume, acquire, release, acq_rel, seq_cst;
 * gcc's __ATOMIC_* constants have the same values 0..5, so mo passes straight through (a value
 * not known at compile time is treated as seq_cst by gcc, never weaker). */
#define ATOMICS(n, T)                                                                              \
    T __tsan_atomic##n##_load(const volatile T *a, int mo)                                         \
    { pause_here(); return __atomic_load_n(a, mo); }                                               \
    void __tsan_atomic##n##_store(volatile T *a, T v, int mo)                                      \
    { pause_here(); __atomic_store_n(a, v, mo); }                                                  \
    T __tsan_atomic##n##_exchange(volatile T *a, T v, int mo)                                      \
    { pause_here(); return __atomic_exchange_n(a, v, mo); }                                        \
    T __tsan_atomic##n##_fetch_add(volatile T *a, T v, int mo)                                     \
    { pause_here(); return __atomic_fetch_add(a, v, mo); }                                         \
    T __tsan_atomic##n##_fetch_sub(volatile T *a, T v, int mo)                                     \
    { pause_here(); return __atomic_fetch_sub(a, v, mo); }                                         \
    T __tsan_atomic##n##_fetch_and(volatile T *a, T v, int mo)                                     \
    { pause_here(); return __atomic_fetch_and(a, v, mo); }                                         \
    T __tsan_atomic##n##_fetch_or(volatile T *a, T v, int mo)                                      \
    { pause_here(); return __atomic_fetch_or(a, v, mo); }                                          \
    T __tsan_atomic##n##_fetch_xor(volatile T *a, T v, int mo)                                     \
    { pause_here(); return __atomic_fetch_xor(a, v, mo); }                                         \
    T __tsan_atomic##n##_fetch_nand(volatile T *a, T v, int mo)                                    \
    { pause_here(); return __atomic_fetch_nand(a, v, mo); }                                        \
    int __tsan_atomic##n##_compare_exchange_strong(volatile T *a, T *c, T v, int mo, int fmo)      \
    { pause_here(); return __atomic_compare_exchange_n(a, c, v, 0, mo, fmo); }                     \
    int __tsan_atomic##n##_compare_exchange_weak(volatile T *a, T *c, T v, int mo, int fmo)        \
    { pause_here(); return __atomic_compare_exchange_n(a, c, v, 1, mo, fmo); }                     \
    T __tsan_atomic##n##_compare_exchange_val(volatile T *a, T c, T v, int mo, int fmo)            \
    { pause_here(); __atomic_compare_exchange_n(a, &c, v, 0, mo, fmo); return c; }
ATOMICS(8, uint8_t)
ATOMICS(16, uint16_t)
ATOMICS(32, uint32_t)
ATOMICS(64, uint64_t)

void __tsan_atomic_thread_fence(int mo) { __atomic_thread_fence(mo); }
void __tsan_atomic_signal_fence(int mo) { __atomic_signal_fence(mo); }
