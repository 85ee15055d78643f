"""JupyterHub configuration for an ipclab class on one server (real Unix users).

Run as root:  jupyterhub -f deploy/jupyterhub_config.py
docs/DEPLOY.md explains each choice; tests/test_classroom.py starts a hub with this very file.

Knobs (environment variables, so a test, the benchmark and a teacher use one file):
  IPCLAB_HUB_URL            public URL the proxy listens on          (http://0.0.0.0:8000)
  IPCLAB_HUB_PORT_BASE      hub API port; +1 for the proxy's API     (8081)
  IPCLAB_HUB_STATE          folder for the database, cookie secret    (/srv/ipclab-hub)
  IPCLAB_CHP                configurable-http-proxy executable        (on PATH)
  IPCLAB_PYTHON             the Python that has ipclab and jupyterhub (this one)
  IPCLAB_COURSE_SOURCE      the student edition (`ipclab release DIR`) copied to ~/ipclab
  IPCLAB_STUDENTS_GROUP     Unix group allowed to log in              (students)
  IPCLAB_TEACHERS           comma-separated admin users               (none)
  IPCLAB_CULL_TIMEOUT       idle seconds before the culler stops a server (3600)
  IPCLAB_CULL_EVERY         seconds between the culler's checks       (60)
  IPCLAB_RLIMIT_NPROC, IPCLAB_RLIMIT_MSGQUEUE, IPCLAB_RLIMIT_NOFILE   per-student limits
  IPCLAB_SPAWNER=systemd    use SystemdSpawner (cgroup memory/CPU/tasks caps) instead
  IPCLAB_MEM_LIMIT, IPCLAB_CPU_LIMIT   per-student caps (enforced by SystemdSpawner only)
  IPCLAB_HUB_ADMIN_TOKEN    token of an admin service (tests, scripted class set-up)
"""

import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ipclab_hub  # noqa: E402  (this folder, put on sys.path just above)

c = get_config()  # noqa: F821  (JupyterHub's config loader defines it)
env = os.environ.get
python = env("IPCLAB_PYTHON", sys.executable)
bindir = os.path.dirname(python)
state = env("IPCLAB_HUB_STATE", "/srv/ipclab-hub")
os.makedirs(state, mode=0o700, exist_ok=True)
port = int(env("IPCLAB_HUB_PORT_BASE", "8081"))

# -- where it listens; the hub's own state ----------------------------------------------
c.JupyterHub.bind_url = env("IPCLAB_HUB_URL", "http://0.0.0.0:8000")  # put TLS in front (DEPLOY.md)
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{port}"
c.JupyterHub.db_url = f"sqlite:///{state}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = f"{state}/jupyterhub_cookie_secret"
c.JupyterHub.pid_file = f"{state}/jupyterhub.pid"
c.JupyterHub.cleanup_servers = True  # a hub stopped by the teacher stops every student's server

# -- the proxy: configurable-http-proxy from npm -----------------------------------------
c.ConfigurableHTTPProxy.command = [env("IPCLAB_CHP") or shutil.which("configurable-http-proxy")
                                   or "configurable-http-proxy"]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{port + 1}"
c.ConfigurableHTTPProxy.pid_file = f"{state}/jupyterhub-proxy.pid"

# -- who logs in: Unix accounts (PAM) in the students group, teachers as admins ----------
c.JupyterHub.authenticator_class = "pam"
c.PAMAuthenticator.allowed_groups = {env("IPCLAB_STUDENTS_GROUP", "students")}
c.Authenticator.admin_users = {u for u in env("IPCLAB_TEACHERS", "").split(",") if u}
c.PAMAuthenticator.open_sessions = False  # no systemd-logind session per spawn (limits come from the spawner)

# -- the spawner: each student's server runs as their own Unix user ----------------------
if env("IPCLAB_SPAWNER") == "systemd":
    c.JupyterHub.spawner_class = "systemdspawner.SystemdSpawner"
    c.SystemdSpawner.mem_limit = env("IPCLAB_MEM_LIMIT", "1G")
    c.SystemdSpawner.cpu_limit = float(env("IPCLAB_CPU_LIMIT", "1.0"))
    c.SystemdSpawner.isolate_tmp = True
    c.SystemdSpawner.unit_extra_properties = {
        "TasksMax": env("IPCLAB_RLIMIT_NPROC", "512"),
        "LimitMSGQUEUE": env("IPCLAB_RLIMIT_MSGQUEUE", str(819200 * 4)),
        "LimitNOFILE": env("IPCLAB_RLIMIT_NOFILE", "4096"),
    }
    c.SystemdSpawner.extra_paths = [bindir]
else:
    c.JupyterHub.spawner_class = ipclab_hub.IpclabSpawner
c.Spawner.cmd = [python, "-m", "jupyterhub.singleuser"]  # students must be able to run *python*
c.Spawner.default_url = "/lab"
c.Spawner.mem_limit = env("IPCLAB_MEM_LIMIT", "1G")  # shown to JupyterLab; enforced only by systemd
c.Spawner.environment = {"IPCLAB_PYTHON": python, "PATH": f"{bindir}:/usr/local/bin:/usr/bin:/bin"}
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
c.Spawner.pre_spawn_hook = ipclab_hub.install_course
c.Spawner.post_stop_hook = ipclab_hub.clean_user

# -- the idle culler: stops a server idle for IPCLAB_CULL_TIMEOUT s (its stop runs post_stop_hook)
c.JupyterHub.services = [{
    "name": "idle-culler",
    "command": [python, "-m", "jupyterhub_idle_culler", f"--timeout={env('IPCLAB_CULL_TIMEOUT', '3600')}",
                f"--cull-every={env('IPCLAB_CULL_EVERY', '60')}"],
}]
c.JupyterHub.load_roles = [{
    "name": "idle-culler",
    "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
    "services": ["idle-culler"],
}]

# -- an admin service token for scripted set-up (tests, class creation), off by default --
if env("IPCLAB_HUB_ADMIN_TOKEN"):
    c.JupyterHub.services.append({"name": "ipclab-admin", "api_token": env("IPCLAB_HUB_ADMIN_TOKEN")})
    c.JupyterHub.load_roles.append({
        "name": "ipclab-admin",
        "scopes": ["admin:users", "admin:servers", "tokens", "access:servers", "read:hub", "list:users"],
        "services": ["ipclab-admin"],
    })
