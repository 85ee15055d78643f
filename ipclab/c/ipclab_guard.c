/* Linked into every program ipclab.core.cbuild builds: the program dies with its parent.
 *
 * Why: a C cell's copies run as children of the notebook kernel. If the kernel is killed
 * (nbval stops kernels with SIGKILL), a child spinning in a loop would run for ever. The
 * constructor asks the kernel to send SIGKILL when the parent dies (prctl(2),
 * PR_SET_PDEATHSIG), then checks that the parent is still the one that started it
 * (IPCLAB_PARENT_PID), closing the race where the parent died before prctl took effect.
 * Not Linux: does nothing.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

__attribute__((constructor)) static void ipclab_die_with_parent(void)
{
#ifdef __linux__
    const char *want = getenv("IPCLAB_PARENT_PID");
    if (want == NULL)
        return;
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) == -1)
        return;
    if ((long)getppid() != strtol(want, NULL, 10))
        _exit(111);
#endif
}
