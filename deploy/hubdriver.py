"""Drive a real class: start the hub (deploy/jupyterhub_config.py) and its proxy, add Unix users,
start their servers through the hub's REST API, and run notebook cells in their kernels over
websockets (the Jupyter server API, as JupyterLab does).

Used by tests/test_classroom.py (K=3) and bench/classroom.py (--users N). Needs root (it
creates Unix users and the hub switches to them), jupyterhub, and configurable-http-proxy.
Every blocking step has a timeout and raises :class:`DriverError` saying what it waited for.
"""

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONFIG = HERE / "jupyterhub_config.py"
ROOT = HERE.parent
GROUP = "ipclabclass"
#: where a class run keeps its hub state, course copy and students' Python: not /tmp, which the
#: grader's sandbox replaces with a private one (a Python under /tmp could not run in the box)
WORK_BASE = "/var/tmp"

__all__ = ["DriverError", "why_not", "find_chp", "Hub", "KernelSession", "add_unix_users",
           "remove_unix_users", "notebook_cells", "run_cells", "CellResult"]


class DriverError(RuntimeError):
    """A step of the class run failed or timed out; the message says which and what to look at."""


def find_chp():
    """configurable-http-proxy: $IPCLAB_CHP, on PATH, or under the prefix CI installs it to."""
    for cand in (os.environ.get("IPCLAB_CHP"), shutil.which("configurable-http-proxy"),
                 "/opt/ipclab-chp/node_modules/.bin/configurable-http-proxy"):
        if cand and os.access(cand, os.X_OK):
            return cand
    return None


def why_not():
    """None if a real class can run here, else the reason (printed by a skipping test)."""
    if os.geteuid() != 0:
        return "needs root: it creates Unix users and the hub runs their servers as them"
    if sys.platform != "linux":
        return "needs Linux"
    try:
        import jupyterhub  # noqa: F401
        import jupyterhub_idle_culler  # noqa: F401
    except ImportError as e:
        return f"{e.name} is not installed (pip install jupyterhub jupyterhub-idle-culler)"
    if not find_chp():
        return ("configurable-http-proxy not found (npm install --prefix /opt/ipclab-chp "
                "configurable-http-proxy, or set IPCLAB_CHP)")
    for tool in ("useradd", "userdel", "groupadd", "runuser"):
        if not shutil.which(tool):
            return f"{tool} is missing"
    return None


def free_ports(n):
    """*n* distinct free TCP ports on 127.0.0.1 (bound, then released)."""
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _consecutive_free_pair():
    for _ in range(50):
        (p,) = free_ports(1)
        try:
            with socket.socket() as s:
                s.bind(("127.0.0.1", p + 1))
            return p
        except OSError:
            continue
    raise DriverError("no two consecutive free ports for the hub and proxy APIs")


def _world_readable(path, want=os.R_OK | os.X_OK):
    """True if *path* and every folder above it are open to other users (mode bits 'o')."""
    path = Path(path).resolve()
    for p in [path, *path.parents]:
        try:
            mode = p.stat().st_mode
        except OSError:
            return False
        need = 0o001 if p != path else (0o004 if want & os.R_OK else 0) | (0o001 if want & os.X_OK else 0)
        if mode & need != need:
            return False
    return True


def class_python(workdir):
    """A Python every student can run, with this environment's packages (ipclab, jupyterhub) inside it.

    This environment's own interpreter may sit in a private folder (pyenv under /root): then a
    venv is made from the system's Python of the same minor version and our site-packages are
    copied into it as hard links (instant, no space; a copy across file systems). Inside, not
    bridged by a .pth file: the grader's sandbox binds only the interpreter's own prefix into
    its box, so packages must live there, as in a real /opt install.
    """
    import site
    ours = [p for p in site.getsitepackages() if os.path.isdir(p)]
    if _world_readable(sys.executable) and all(_world_readable(p, os.X_OK) for p in ours):
        return sys.executable
    minor = f"{sys.version_info.major}.{sys.version_info.minor}"
    system = shutil.which(f"python{minor}", path="/usr/local/bin:/usr/bin:/bin")
    if not system or not _world_readable(system):
        raise DriverError(f"{sys.executable} is private and no system python{minor} exists: "
                          "install the course into a Python every user can run (DEPLOY.md)")
    venv = Path(workdir) / "classpy"
    subprocess.run([system, "-m", "venv", "--without-pip", str(venv)], check=True, capture_output=True, timeout=120)
    target = Path(subprocess.run([str(venv / "bin" / "python"), "-c",
                                  "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                 check=True, capture_output=True, text=True).stdout.strip())
    for p in ours:
        same_fs = os.stat(p).st_dev == os.stat(target).st_dev
        subprocess.run(["cp", "-al" if same_fs else "-a", "-T", "--no-clobber", p, str(target)],
                       check=True, capture_output=True, timeout=600)
    for root, dirs, files in os.walk(venv):
        for n in dirs:
            os.chmod(os.path.join(root, n), 0o755)
    os.chmod(venv, 0o755)
    return str(venv / "bin" / "python")


# -- Unix users ---------------------------------------------------------------------------

def add_unix_users(names, group=GROUP):
    """Create real Unix users (home folders, shell) in *group*; returns their names."""
    if not names:
        return []
    if subprocess.run(["getent", "group", group], capture_output=True).returncode:
        subprocess.run(["groupadd", group], check=True, capture_output=True)
    for name in names:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", "--gid", group, name],
                       check=True, capture_output=True, timeout=30)
    return list(names)


def remove_unix_users(names):
    """Delete the users, their homes, and what they left in /tmp, /var/tmp, /dev/shm; tolerant of users gone."""
    import pwd
    for name in names:
        try:
            uid = pwd.getpwnam(name).pw_uid
        except KeyError:
            continue
        subprocess.run(["userdel", "--remove", "--force", name], capture_output=True, timeout=30)
        for d in ("/tmp", "/var/tmp", "/dev/shm"):
            for e in os.scandir(d):
                try:
                    if e.stat(follow_symlinks=False).st_uid != uid:
                        continue
                    if e.is_dir(follow_symlinks=False):
                        shutil.rmtree(e.path, ignore_errors=True)
                    else:
                        os.unlink(e.path)
                except OSError:
                    pass


# -- the hub --------------------------------------------------------------------------------

class Hub:
    """One hub + proxy from deploy/jupyterhub_config.py, in a private state folder.

    ``with Hub(workdir, course_source=...) as hub:`` starts it and waits until its API
    answers; leaving the block stops it (the config's ``cleanup_servers`` stops every
    student's server, so each one's post_stop_hook cleanup runs).
    """

    def __init__(self, workdir, course_source=None, cull_timeout=3600, extra_env=None, start_timeout=90,
                 python=None):
        self.workdir = Path(workdir)
        self.python = python or class_python(self.workdir)
        self.token = secrets.token_hex(32)
        (port,) = free_ports(1)
        self.url = f"http://127.0.0.1:{port}"
        self.env = dict(os.environ,
                        IPCLAB_HUB_URL=self.url, IPCLAB_HUB_PORT_BASE=str(_consecutive_free_pair()),
                        IPCLAB_HUB_STATE=str(self.workdir / "hub"), IPCLAB_CHP=find_chp() or "",
                        IPCLAB_PYTHON=self.python, IPCLAB_HUB_ADMIN_TOKEN=self.token,
                        IPCLAB_STUDENTS_GROUP=GROUP, IPCLAB_CULL_TIMEOUT=str(cull_timeout),
                        **({"IPCLAB_COURSE_SOURCE": str(course_source)} if course_source else {}),
                        **(extra_env or {}))
        self.start_timeout = start_timeout
        self.proc = None
        self.log = self.workdir / "hub.log"

    def __enter__(self):
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._logf = open(self.log, "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "jupyterhub", "-f", str(CONFIG)],
                                     cwd=self.workdir, env=self.env, stdout=self._logf,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise DriverError(f"the hub exited with {self.proc.returncode}; its log:\n{self.tail()}")
            try:
                self.api("GET", "/hub/api/")
                return self
            except (OSError, DriverError):
                time.sleep(0.5)
        self.stop()
        raise DriverError(f"the hub did not answer within {self.start_timeout}s; its log:\n{self.tail()}")

    def __exit__(self, *exc):
        self.stop()

    def tail(self, n=40):
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def stop(self, timeout=90):
        """SIGTERM the hub (it stops the servers and the proxy), SIGKILL its group after *timeout*."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self._logf.close()

    def pids(self):
        """{'hub': pid, 'proxy': pid} of the running hub and its proxy."""
        out = {"hub": self.proc.pid}
        try:
            out["proxy"] = int((self.workdir / "hub" / "jupyterhub-proxy.pid").read_text())
        except (OSError, ValueError):
            pass
        return out

    # REST ---------------------------------------------------------------------------------
    def api(self, method, path, body=None, timeout=30):
        """Call the hub's (or a user server's) REST API through the proxy with the admin token."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Authorization": f"token {self.token}",
                                              "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                text = r.read().decode()
        except urllib.error.HTTPError as e:
            raise DriverError(f"{method} {path}: HTTP {e.code} {e.read().decode(errors='replace')[:300]}") from None
        return json.loads(text) if text.strip() else None

    def add_users(self, names):
        return self.api("POST", "/hub/api/users", {"usernames": list(names)})

    def start_server(self, name):
        self.api("POST", f"/hub/api/users/{name}/server")

    def wait_ready(self, name, timeout=120):
        """Wait until *name*'s server is ready; returns the hub's server model."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            server = (self.api("GET", f"/hub/api/users/{name}").get("servers") or {}).get("")
            if server and server.get("ready"):
                return server
            time.sleep(0.5)
        raise DriverError(f"{name}'s server was not ready within {timeout}s; hub log:\n{self.tail()}")

    def stop_server(self, name, timeout=120):
        """DELETE the server (what Stop, the teacher and the culler do); wait until it is gone."""
        self.api("DELETE", f"/hub/api/users/{name}/server")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not (self.api("GET", f"/hub/api/users/{name}").get("servers") or {}):
                return
            time.sleep(0.5)
        raise DriverError(f"{name}'s server did not stop within {timeout}s")

    def kernel(self, name, path="", timeout=60):
        """A kernel in *name*'s server; *path* (relative to the server's root, ~/ipclab) is its folder."""
        return KernelSession(self, name, path, timeout)


# -- kernels over websockets ------------------------------------------------------------------

class CellResult:
    """One executed cell: status ('ok', 'error', 'timeout'), seconds, text output, error."""

    def __init__(self, index, status, seconds, output="", error=""):
        self.index, self.status, self.seconds, self.output, self.error = index, status, seconds, output, error

    def __repr__(self):
        return f"<cell {self.index} {self.status} {self.seconds:.2f}s {self.error[:80]}>"


class KernelSession:
    """A kernel in a user's server (POST /api/kernels), driven over its websocket channel."""

    def __init__(self, hub, user, path="", timeout=60):
        self.hub, self.user = hub, user
        base = f"/user/{user}/api/kernels"
        self.kernel_id = hub.api("POST", base, {"name": "python3", "path": path}, timeout=timeout)["id"]
        self.session = uuid.uuid4().hex
        self.ws_url = hub.url.replace("http", "ws", 1) + f"{base}/{self.kernel_id}/channels?session_id={self.session}"
        self.timeout = timeout
        self.ws = None
        self._connect()

    def _connect(self):
        """(Re)open the websocket. The server pings every 30 s and drops a client that does not
        answer; between cells nobody reads, so a session idle for 20 s reconnects first."""
        import websocket  # websocket-client, a dependency of jupyter_server
        if self.ws is not None:
            try:
                self.ws.close()
            except Exception:  # noqa: BLE001 - already closed by the server
                pass
        self.ws = websocket.create_connection(self.ws_url, timeout=self.timeout,
                                              header=[f"Authorization: token {self.hub.token}"])
        self.used = time.monotonic()

    def execute(self, code, timeout=180, index=0, allow_error=False):
        """Run *code*; wait for its reply and idle status; returns a :class:`CellResult`.

        Status 'died' if the kernel died meanwhile (the server restarts it), 'timeout' if no
        reply came within *timeout* seconds.
        """
        import websocket
        if time.monotonic() - self.used > 20 or not self.ws.connected:
            self._connect()
        msg_id = uuid.uuid4().hex
        self.ws.send(json.dumps({
            "header": {"msg_id": msg_id, "username": self.user, "session": self.session,
                       "msg_type": "execute_request", "version": "5.3"},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                        "allow_stdin": False, "stop_on_error": True}}))
        t0 = time.monotonic()
        out, err, status, idle = [], "", None, False
        try:
            while status is None or not idle:
                left = t0 + timeout - time.monotonic()
                if left <= 0:
                    return CellResult(index, "timeout", time.monotonic() - t0, "".join(out), f"no reply in {timeout}s")
                self.ws.settimeout(left)
                try:  # control frames come back too, so the deadline is checked even while pinged
                    opcode, frame = self.ws.recv_data_frame(control_frame=True)
                except (websocket.WebSocketException, OSError) as e:
                    return CellResult(index, "timeout", time.monotonic() - t0, "".join(out), f"{type(e).__name__}: {e}")
                if opcode == websocket.ABNF.OPCODE_CLOSE:
                    return CellResult(index, "died", time.monotonic() - t0, "".join(out), "the server closed the channel")
                if opcode != websocket.ABNF.OPCODE_TEXT:
                    continue
                msg = json.loads(frame.data.decode() if isinstance(frame.data, bytes) else frame.data)
                kind, content = msg["header"]["msg_type"], msg.get("content", {})
                if kind == "status" and content.get("execution_state") in ("restarting", "dead"):
                    return CellResult(index, "died", time.monotonic() - t0, "".join(out), "the kernel died")
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                if kind == "stream":
                    out.append(content.get("text", ""))
                elif kind in ("execute_result", "display_data"):
                    out.append(content.get("data", {}).get("text/plain", ""))
                elif kind == "error":
                    err = f"{content.get('ename')}: {content.get('evalue')}"
                elif kind == "execute_reply":
                    status = content.get("status")
                elif kind == "status" and content.get("execution_state") == "idle":
                    idle = True
        finally:
            self.used = time.monotonic()
        ok = status == "ok" or (allow_error and status == "error")
        return CellResult(index, "ok" if ok else "error", time.monotonic() - t0, "".join(out), err)

    def close(self):
        try:
            self.ws.close()
        finally:
            try:
                self.hub.api("DELETE", f"/user/{self.user}/api/kernels/{self.kernel_id}")
            except DriverError:
                pass  # the server is already gone


def notebook_cells(path):
    """(index, source, allow_error) of the code cells of an .ipynb, honouring nbval's skip/raises tags."""
    nb = json.loads(Path(path).read_text())
    out = []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        tags = set(cell.get("metadata", {}).get("tags", []))
        if "nbval-skip" in tags or src.lstrip().startswith("# NBVAL_SKIP"):
            continue
        out.append((i, src, "raises-exception" in tags or "# NBVAL_RAISES_EXCEPTION" in src))
    return out


def run_cells(session, cells, timeout=180):
    """Execute *cells* in order in *session*; stops at the first failing cell. Returns CellResults."""
    results = []
    for index, src, allow_error in cells:
        r = session.execute(src, timeout=timeout, index=index, allow_error=allow_error)
        results.append(r)
        if r.status != "ok":
            break
    return results
