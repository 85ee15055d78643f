"""TLJH plugin for an ipclab class: the same choices as deploy/jupyterhub_config.py, via TLJH's hooks.

TLJH (The Littlest JupyterHub) runs JupyterHub with a SystemdSpawner subclass, so each
student's server is a systemd unit with real cgroup limits (``tljh-config set limits.memory``,
``limits.cpu``), and its idle culler is on by default (``services.cull``). This plugin adds:

* the course in the user environment (``tljh_extra_user_pip_packages``);
* per-student IPC limits on the unit (TasksMax, LimitMSGQUEUE, LimitNOFILE);
* the course copied to ``~/ipclab`` at first start (``pre_spawn_hook``);
* ``ipclab clean --live`` as the student after every stop or cull (``post_stop_hook``).

The hook functions come from the course checkout's ``deploy/ipclab_hub.py`` (one source for
both recipes); the checkout is ``IPCLAB_CHECKOUT`` (default /srv/ipclab).
Hook names: tljh/hooks.py in jupyterhub/the-littlest-jupyterhub.
"""

import os
import sys

from tljh.hooks import hookimpl

CHECKOUT = os.environ.get("IPCLAB_CHECKOUT", "/srv/ipclab")
USER_PYTHON = "/opt/tljh/user/bin/python"  # TLJH's user environment (docs: installer actions)


@hookimpl
def tljh_extra_user_pip_packages():
    """The course (from the checkout) into /opt/tljh/user, where every student's server runs."""
    return [os.environ.get("IPCLAB_PIP_SPEC", CHECKOUT)]


@hookimpl
def tljh_extra_apt_packages():
    """The tools the live cells use; gcc and strace are optional (cells explain and skip)."""
    return ["gcc", "strace", "util-linux"]


@hookimpl
def tljh_custom_jupyterhub_config(c):
    sys.path.insert(0, os.path.join(CHECKOUT, "deploy"))
    import ipclab_hub

    os.environ.setdefault("IPCLAB_PYTHON", USER_PYTHON)
    os.environ.setdefault("IPCLAB_COURSE_SOURCE", os.path.join(CHECKOUT, "edition"))
    c.Spawner.pre_spawn_hook = ipclab_hub.install_course
    c.Spawner.post_stop_hook = ipclab_hub.clean_user
    c.SystemdSpawner.unit_extra_properties = {
        "TasksMax": os.environ.get("IPCLAB_RLIMIT_NPROC", "512"),
        "LimitMSGQUEUE": os.environ.get("IPCLAB_RLIMIT_MSGQUEUE", str(819200 * 4)),
        "LimitNOFILE": os.environ.get("IPCLAB_RLIMIT_NOFILE", "4096"),
    }
