"""The hub-side pieces of an ipclab class on one server: limits, course copy, cleanup on stop.

Loaded by ``deploy/jupyterhub_config.py`` (and by the TLJH plugin). Three jobs:

* :class:`IpclabSpawner` is JupyterHub's ``LocalProcessSpawner`` (real Unix users) that also
  sets per-user resource limits in the child before it becomes the student: RLIMIT_NPROC
  (tasks of that uid, getrlimit(2)), RLIMIT_MSGQUEUE (bytes of POSIX queues of that uid) and
  RLIMIT_NOFILE. Memory and CPU caps need cgroups: use SystemdSpawner for those (DEPLOY.md).
* :func:`install_course` (``pre_spawn_hook``) copies the student edition into ``~/ipclab``
  the first time a student starts, owned by them; later starts keep their work.
* :func:`clean_user` (``post_stop_hook``) runs when a server stops, whether the student
  pressed Stop, the teacher stopped it, or jupyterhub-idle-culler culled it: it ends the
  processes that server left (kernels start their own sessions and can outlive it), then runs
  ``ipclab clean --live`` as that student, so the kernel's IPC tables never fill with orphans.
"""

import asyncio
import os
import pwd
import resource
import shutil
import signal
import sys
from pathlib import Path

from jupyterhub.spawner import LocalProcessSpawner, set_user_setuid

__all__ = ["IpclabSpawner", "install_course", "clean_user", "server_processes", "COURSE_DIR",
           "env_int"]

#: where each student's copy of the course lives, relative to their home
COURSE_DIR = "ipclab"
CLEAN_TIMEOUT = 60


def env_int(name, default):
    """An integer setting from the environment (the config reads all its knobs this way)."""
    value = os.environ.get(name)
    return int(value) if value else default


class IpclabSpawner(LocalProcessSpawner):
    """LocalProcessSpawner plus per-user rlimits set between fork and exec (before setuid)."""

    def make_preexec_fn(self, name):
        become_user = set_user_setuid(name)
        limits = {
            resource.RLIMIT_NPROC: env_int("IPCLAB_RLIMIT_NPROC", 512),
            resource.RLIMIT_MSGQUEUE: env_int("IPCLAB_RLIMIT_MSGQUEUE", 819200 * 4),
            resource.RLIMIT_NOFILE: env_int("IPCLAB_RLIMIT_NOFILE", 4096),
        }

        for which, value in list(limits.items()):
            hard = resource.getrlimit(which)[1]
            if hard != resource.RLIM_INFINITY and value > hard and not _can_raise_limits():
                # root without CAP_SYS_RESOURCE (a container) cannot raise a hard limit
                self.log.warning("ipclab: limit %s=%s is above the hub's hard limit %s and this "
                                 "hub lacks CAP_SYS_RESOURCE: students get %s", which, value, hard, hard)
                limits[which] = hard

        def preexec():
            for which, value in limits.items():
                resource.setrlimit(which, (value, value))  # still root here; becomes the student next
            become_user()

        return preexec

    def get_env(self):
        env = super().get_env()
        home = pwd.getpwnam(self.user.name).pw_dir
        # one registry folder per student, the same one the cleanup hook reads
        env["IPCLAB_STATE_DIR"] = state_dir(home)
        return env


def _can_raise_limits():
    """True if this process has CAP_SYS_RESOURCE (bit 24 of CapEff, capabilities(7))."""
    try:
        with open("/proc/self/status") as f:
            eff = next(int(line.split()[1], 16) for line in f if line.startswith("CapEff:"))
    except (OSError, StopIteration, ValueError):
        return False
    return bool(eff >> 24 & 1)


def state_dir(home):
    """The student's ipclab registry folder (``IPCLAB_STATE_DIR``), shared by server and hook."""
    return os.path.join(home, ".cache", "ipclab")


def install_course(spawner):
    """pre_spawn_hook: copy the student edition to ``~/ipclab`` once, owned by the student."""
    source = os.environ.get("IPCLAB_COURSE_SOURCE")
    user = pwd.getpwnam(spawner.user.name)
    dest = Path(user.pw_dir) / COURSE_DIR
    spawner.notebook_dir = str(dest) if source else user.pw_dir
    if not source or dest.exists():
        return
    shutil.copytree(source, dest, symlinks=False)
    for root, dirs, files in os.walk(dest):
        for n in [root, *(os.path.join(root, x) for x in dirs + files)]:
            os.lchown(n, user.pw_uid, user.pw_gid)
    spawner.log.info("ipclab: installed the course for %s in %s", spawner.user.name, dest)


def server_processes(username):
    """PIDs of processes that a user's hub server started (kernels and their workers).

    Selected by owner *and* by the ``JUPYTERHUB_USER`` the hub put in the server's
    environment (inherited by kernels and workers), so a student's other sessions are spared.
    """
    uid = pwd.getpwnam(username).pw_uid
    mark = f"JUPYTERHUB_USER={username}".encode()
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            if os.stat(f"/proc/{pid}").st_uid != uid:
                continue
            with open(f"/proc/{pid}/environ", "rb") as f:
                if mark in f.read().split(b"\0"):
                    found.append(int(pid))
        except OSError:
            continue  # gone, or not readable
    return found


async def _end(pids, grace=3.0):
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        for _ in range(int(grace / 0.1)):
            if not any(os.path.exists(f"/proc/{p}") and _alive(p) for p in pids):
                return
            await asyncio.sleep(0.1)


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")
    except OSError:
        return False


async def clean_user(spawner):
    """post_stop_hook: end the server's leftover processes, then ``ipclab clean --live`` as the student."""
    name = spawner.user.name
    await _end(server_processes(name))
    user = pwd.getpwnam(name)
    python = os.environ.get("IPCLAB_PYTHON", sys.executable)
    # the registry folder the server used: ours (IpclabSpawner sets it), or ipclab's own
    # default under XDG_RUNTIME_DIR when another spawner (systemd) provides one
    dirs = [state_dir(user.pw_dir)] + [d for d in (f"/run/user/{user.pw_uid}/ipclab",) if os.path.isdir(d)]
    for d in dirs:
        await _clean_as(spawner, name, user, python, d)


async def _clean_as(spawner, name, user, python, state):
    env = {"HOME": user.pw_dir, "USER": name, "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "IPCLAB_STATE_DIR": state, "LANG": "C.UTF-8"}
    proc = await asyncio.create_subprocess_exec(
        "runuser", "-u", name, "--", python, "-m", "ipclab", "clean", "--live",
        env=env, cwd="/", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), CLEAN_TIMEOUT)
    except asyncio.TimeoutError:
        proc.kill()
        spawner.log.error("ipclab: `ipclab clean --live` for %s took over %ss; killed", name, CLEAN_TIMEOUT)
        return
    text = out.decode(errors="replace").strip().splitlines()
    spawner.log.info("ipclab: cleaned up after %s (exit %s): %s", name, proc.returncode,
                     text[-1] if text else "no output")
