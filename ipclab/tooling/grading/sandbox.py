"""Run untrusted code as a child under another identity, in its own namespaces, with limits.

Why: a grader that imports a student's module into the process that writes the verdict
can be talked into any grade (issue 16). Here student code only ever runs in a *box*:

* its own IPC namespace (System V objects and POSIX message queues of the host and of
  other boxes are invisible; everything left in it is a leak, whatever its name, and
  disappears with it), its own mount namespace (a private tmpfs ``/dev/shm``, a fresh
  mqueue fs at ``/dev/mqueue``, a private ``/tmp``, and a root built from read-only
  binds of what Python needs: the course, hidden tests, solutions, results and other
  students' files are simply absent), its own PID namespace (killing its init kills
  every descendant, ``setsid`` and double fork included: pid_namespaces(7)), and its
  own network and UTS namespaces;
* another identity: as root a dedicated unprivileged uid/gid per concurrent box; as an
  ordinary user a user namespace whose uid 0 is the caller (the trusted side) and whose
  other ids are the caller's subordinate ids from ``/etc/subuid``, mapped with the
  setuid helpers ``newuidmap``/``newgidmap`` (newuidmap(1), user_namespaces(7));
* rlimits (address space, processes, file size, CPU seconds, no core files), a hard
  wall-clock timeout enforced from outside, output captured with a size cap.

Three processes are involved: the *supervisor* (trusted, outside: :class:`Supervisor`,
:func:`run`), the *keeper* (trusted, it creates the namespaces and stays in them:
:class:`Box`), and *guests*, started by :meth:`Box.spawn` through a small privileged
stage (``python sandbox.py --stage2``) that pivots into the box root, drops identity
and capabilities and then ``execve``\\ s the guest program.

Standard library only, so it runs before anything else is importable; Linux only.
``isolation_level()`` says what this machine allows: ``full``, ``partial`` or ``none``.
"""

import ctypes
import errno
import fcntl
import json
import os
import pwd
import resource
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field

# This interpreter, for every process the grader starts: absolute and without "..", because a
# box shows only some folders (a venv's python run as ../.venv/bin/python from labs/ goes
# through labs/, which a box does not have). Not realpath: that would leave the venv.
PYTHON = os.path.normpath(os.path.abspath(sys.executable))

__all__ = ["Limits", "Isolation", "isolation_level", "Box", "Channel", "ChannelError", "Capture",
           "Supervisor", "Outcome", "run", "RunResult", "SandboxError", "box_leaks"]

HERE = os.path.abspath(__file__)
UID_BASE = int(os.environ.get("IPCLAB_SANDBOX_UID_BASE", "1990000000"))  # root mode: box uid = base + slot
INNER_BASE = 1000        # user-namespace mode: box uid inside the namespace = 1000 + slot
SLOTS = 256
CONFIG_VAR = "IPCLAB_BOX_CONFIG"
WORK = "/submission"     # where the guest finds its files (read-only)

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MS_NOATIME, MS_NODIRATIME, MS_BIND, MS_REC, MS_PRIVATE = 1024, 2048, 4096, 16384, 1 << 18
MS_RELATIME = 1 << 21
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_SECUREBITS, PR_SET_NO_NEW_PRIVS = 1, 4, 24, 28, 38
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217}
SYS_CAPSET = {"x86_64": 126, "aarch64": 91, "riscv64": 91, "ppc64le": 184, "s390x": 185}


class SandboxError(RuntimeError):
    """The box could not be built or run; the message says which step and why."""


_libc = None


def _c():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def _check(ret, what):
    if ret != 0:
        e = ctypes.get_errno()
        raise SandboxError(f"{what}: {os.strerror(e)} (errno {e})")


def _unshare(flags, what="unshare"):
    _check(_c().unshare(ctypes.c_int(flags)), what)


def _mount(src, target, fstype, flags=0, data=None):
    enc = lambda s: None if s is None else str(s).encode()  # noqa: E731
    _check(_c().mount(enc(src), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)),
           f"mount {fstype or ''} {src or ''} on {target} (flags {flags:#x}, {data or ''})")


def _prctl(option, arg):
    return _c().prctl(ctypes.c_int(option), ctypes.c_ulong(arg), ctypes.c_ulong(0),
                      ctypes.c_ulong(0), ctypes.c_ulong(0))


# -- limits and what this machine allows ------------------------------------------------

@dataclass
class Limits:
    """Per-box limits. Memory is per process (RLIMIT_AS); tmpfs sizes cap /dev/shm and /tmp."""
    memory_mb: int = 1024       # address space of each process
    nproc: int = 64             # processes (and threads) of the box's uid
    fsize_mb: int = 64          # largest file a process may write
    cpu_s: int = 120            # CPU seconds per process
    nofile: int = 256           # open files per process
    shm_mb: int = 64            # size of the private /dev/shm
    tmp_mb: int = 64            # size of the private /tmp
    sysv_shm_mb: int = 64       # System V shared memory in the box's IPC namespace (shmall)
    output_bytes: int = 64 * 1024  # captured output kept (head + tail); the rest is counted
    timeout: float = 30.0       # wall clock, enforced from outside


@dataclass
class Isolation:
    """What the machine allows: *level* full | partial | none, the *mode* used, and why."""
    level: str
    mode: str                   # root | userns | userns-self | none
    reason: str
    details: dict = field(default_factory=dict)

    @property
    def tamper_proof(self):
        return self.level == "full"

    def __str__(self):
        return f"{self.level} ({self.mode}): {self.reason}"


def _subid_range(path, user, uid):
    """(start, count) of the first range of *user* (name or uid) in /etc/subuid or /etc/subgid."""
    try:
        with open(path) as f:
            for line in f:
                parts = line.strip().split(":")
                if len(parts) == 3 and parts[0] in (user, str(uid)) and int(parts[2]) >= 2:
                    return int(parts[1]), int(parts[2])
    except (OSError, ValueError):
        pass
    return None


def _userns_plan():
    """How an ordinary user maps ids: ('userns', subuid, subgid) or ('userns-self', reason)."""
    uid, gid = os.getuid(), os.getgid()
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = str(uid)
    helpers = [shutil.which(h) for h in ("newuidmap", "newgidmap")]
    if not all(helpers):
        return {"mode": "userns-self", "why": "newuidmap/newgidmap are not installed (Debian: apt install uidmap)"}
    sub_u = _subid_range("/etc/subuid", user, uid)
    sub_g = _subid_range("/etc/subgid", user, uid)
    if not (sub_u and sub_g):
        return {"mode": "userns-self", "why": f"user {user} has no range in /etc/subuid and /etc/subgid"}
    return {"mode": "userns", "subuid": sub_u, "subgid": sub_g, "uid": uid, "gid": gid,
            "newuidmap": helpers[0], "newgidmap": helpers[1]}


def _candidate_modes():
    forced = os.environ.get("IPCLAB_SANDBOX_MODE")
    if forced:
        return [forced]
    if os.geteuid() == 0:
        return ["root", "userns-self", "none"]
    plan = _userns_plan()
    return (["userns", "userns-self", "none"] if plan["mode"] == "userns" else ["userns-self", "none"])


_isolation = None
_iso_lock = threading.Lock()


def isolation_level(refresh=False):
    """Probe (once) the strongest mode that works here: an :class:`Isolation`."""
    global _isolation
    with _iso_lock:
        if _isolation is not None and not refresh:
            return _isolation
        if not sys.platform.startswith("linux"):
            _isolation = Isolation("none", "none", f"{sys.platform} has no Linux namespaces")
            return _isolation
        failures = []
        for mode in _candidate_modes():
            if mode == "none":
                break
            why = _probe(mode)
            if why is None:
                level = "full" if mode in ("root", "userns") else "partial"
                reason = {"root": "as root: a dedicated uid per box, IPC/mount/PID/net namespaces",
                          "userns": "user namespace with subordinate uids, IPC/mount/PID/net namespaces",
                          "userns-self": "namespaces work, but the box runs as your own uid (capabilities "
                                         "dropped): " + (_userns_plan().get("why") or "no subordinate ids")}[mode]
                _isolation = Isolation(level, mode, reason, {"tried": failures})
                return _isolation
            failures.append(f"{mode}: {why}")
        _isolation = Isolation("none", "none", "no namespaces available here (" + "; ".join(failures or ["forced"])
                               + "): student code runs as you, unconfined", {"tried": failures})
        return _isolation


def _probe(mode):
    """None if a box of *mode* can be built and run a guest here, else the reason."""
    try:
        res = run([PYTHON, "-I", "-S", "-c", "import os; print(os.getuid())"],
                  limits=Limits(timeout=20), mode=mode, probe=True)
    except (SandboxError, OSError) as e:
        return str(e)
    if res.returncode != 0 or res.error:
        return (res.error or res.output.strip()[-300:] or f"probe exited {res.returncode}")
    return None


# -- slots: one uid per concurrent box ----------------------------------------------------

def _slot_dir():
    base = os.environ.get("XDG_RUNTIME_DIR")
    if not base or not os.path.isdir(base):
        base = tempfile.gettempdir()
    path = os.path.join(base, f"ipclab-sandbox-slots-{os.geteuid()}")
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        st = os.lstat(path)
        if st.st_uid != os.geteuid() or not os.path.isdir(path) or os.path.islink(path) or st.st_mode & 0o077:
            raise SandboxError(f"{path} is not a private folder of yours: remove it and retry")
    return path


class Slot:
    """An exclusive slot number (0..255), held by a file lock until :meth:`release`."""

    def __init__(self):
        folder = _slot_dir()
        start = os.getpid() % SLOTS
        for i in range(SLOTS):
            n = (start + i) % SLOTS
            fd = os.open(os.path.join(folder, f"slot-{n}"), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            self.number, self._fd = n, fd
            return
        raise SandboxError(f"all {SLOTS} sandbox slots are busy")

    def release(self):
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


# -- captured output ---------------------------------------------------------------------

class Capture:
    """Read a pipe to its end in a thread, keeping the first and last bytes (bounded memory)."""

    def __init__(self, fd, limit):
        self.fd, self.head_max, self.tail_max = fd, limit // 4, limit - limit // 4
        self.head, self.tail, self.total = bytearray(), bytearray(), 0
        self.marks = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self):
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except InterruptedError:
                continue
            except OSError:
                break
            if not chunk:
                break
            with self._lock:
                self.total += len(chunk)
                room = self.head_max - len(self.head)
                if room > 0:
                    self.head += chunk[:room]
                    chunk = chunk[room:]
                if chunk:
                    self.tail += chunk
                    if len(self.tail) > self.tail_max:
                        del self.tail[:len(self.tail) - self.tail_max]
        os.close(self.fd)

    def mark(self):
        """The byte offset reached so far (to split off what comes after, e.g. stack dumps)."""
        with self._lock:
            return self.total

    def join(self, timeout):
        self._thread.join(timeout)

    @property
    def truncated(self):
        return self.total > len(self.head) + len(self.tail)

    def text(self, since=0):
        """The kept output (from byte *since* if still kept) with a note where bytes were dropped."""
        with self._lock:
            head, tail, total = bytes(self.head), bytes(self.tail), self.total
        tail_start = total - len(tail)
        if since >= tail_start:
            return tail[since - tail_start:].decode(errors="replace")
        if since >= len(head):
            return tail.decode(errors="replace")
        out = head[since:].decode(errors="replace")
        if tail_start > len(head):
            out += f"\n[... output truncated: {tail_start - len(head)} bytes not kept ...]\n"
        return out + tail.decode(errors="replace")


# -- the narrow channel ---------------------------------------------------------------------

class ChannelError(RuntimeError):
    """The other side closed, sent something that is not a frame, or went over the size cap."""


class Channel:
    """Length-prefixed JSON frames over a stream socket; nothing but JSON ever crosses it."""

    MAX = 16 * 1024 * 1024

    def __init__(self, sock, max_bytes=None):
        self.sock = sock
        self.max = max_bytes or self.MAX

    @classmethod
    def pair(cls):
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        return cls(a), cls(b)

    @classmethod
    def from_fd(cls, fd):
        return cls(socket.socket(fileno=fd))

    def fileno(self):
        return self.sock.fileno()

    def send(self, obj):
        data = json.dumps(obj, separators=(",", ":"), allow_nan=True).encode()
        if len(data) > self.max:
            raise ChannelError(f"a message of {len(data)} bytes is over the {self.max}-byte cap")
        self.sock.sendall(len(data).to_bytes(4, "big") + data)

    def _read(self, n, deadline):
        buf = bytearray()
        while len(buf) < n:
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([self.sock], [], [], left)[0]:
                    raise TimeoutError("no answer on the channel in time")
            chunk = self.sock.recv(min(n - len(buf), 1 << 20))
            if not chunk:
                raise ChannelError("the other side closed the channel")
            buf += chunk
        return bytes(buf)

    def recv(self, timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        n = int.from_bytes(self._read(4, deadline), "big")
        if n > self.max:
            raise ChannelError(f"a message of {n} bytes is over the {self.max}-byte cap")
        try:
            return json.loads(self._read(n, deadline))
        except ValueError as e:
            raise ChannelError(f"not JSON: {e}") from None

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# -- the keeper side: building and running the box ----------------------------------------------

def _statvfs_flags(path):
    f = os.statvfs(path).f_flag
    out = 0
    for st, ms in ((os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV), (os.ST_NOEXEC, MS_NOEXEC),
                   (os.ST_NOATIME, MS_NOATIME), (os.ST_NODIRATIME, MS_NODIRATIME),
                   (getattr(os, "ST_RELATIME", 4096), MS_RELATIME)):
        if f & st:
            out |= ms
    return out


def _bind_ro(src, dst):
    """Bind *src* on *dst* read-only (keeping the flags a user namespace may not clear)."""
    _mount(src, dst, None, MS_BIND | MS_REC)
    _mount(None, dst, None, MS_REMOUNT | MS_BIND | MS_RDONLY | _statvfs_flags(dst))


def _make_path(root, path, is_dir=True):
    """Create *path* (absolute, as seen from the box) under *root*, parents 0755; the host path."""
    target = os.path.join(root, path.lstrip("/"))
    if is_dir:
        os.makedirs(target, mode=0o755, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
        if not os.path.lexists(target):
            open(target, "w").close()
    return target


def default_binds():
    """What a Python guest needs, as (host path, path in the box): system dirs and Python's prefixes."""
    out = []
    for top in ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc"):
        out.append("/" + top)
    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    venv = os.path.dirname(os.path.dirname(PYTHON))
    if os.path.exists(os.path.join(venv, "pyvenv.cfg")):  # a keeper started with -S has no venv prefix
        prefixes.add(venv)
    for p in sorted(prefixes):
        out.append(os.path.realpath(p))
    return out


class Box:
    """The keeper's view of a box: build it (:meth:`enter`), start guests, look inside, close it.

    The keeper is trusted code. It calls :meth:`enter` once, early and single-threaded; from
    then on it (and any process it forks) lives in the box's IPC, mount and network
    namespaces, and every child it forks is in the box's PID namespace. Guests are started
    only through :meth:`spawn`, which drops identity before the guest program runs.
    """

    def __init__(self, config):
        self.config = config
        self.mode = config["mode"]
        self.limits = Limits(**config.get("limits", {}))
        self.base = config["base"]
        self.slot = int(config.get("slot", 0))
        self.init_pid = None
        self.pid_ns = None
        if self.mode == "root":
            self.uid = self.gid = UID_BASE + self.slot
        elif self.mode == "userns":
            self.uid = self.gid = INNER_BASE + self.slot
        else:
            self.uid, self.gid = os.getuid(), os.getgid()
        self.root = os.path.join(self.base, "root")
        self.shm = os.path.join(self.base, "shm")
        self.mq = os.path.join(self.base, "mq")
        self.tmp = os.path.join(self.base, "tmp")

    # building

    def enter(self):
        """Create the namespaces and the box's filesystem; start its init. Returns init's pid."""
        if self.mode == "none":
            return None
        if self.mode in ("userns", "userns-self"):
            self._enter_userns()
        flags = CLONE_NEWIPC | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS
        if self.config.get("net", True):
            flags |= CLONE_NEWNET
        _unshare(flags, "unshare(IPC, mount, PID, UTS, net namespaces)")
        _mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing we mount may propagate to the host
        if flags & CLONE_NEWNET:
            _loopback_up()
        self._build_fs()
        self._set_ipc_limits()
        self._start_init()
        return self.init_pid

    def _enter_userns(self):
        plan = _userns_plan() if self.mode == "userns" else None
        uid, gid = os.getuid(), os.getgid()
        go_r, go_w = os.pipe()
        res_r, res_w = os.pipe()
        me = os.getpid()
        helper = os.fork()
        if helper == 0:  # stays outside: writes our maps once we have unshared
            try:
                os.close(go_w)
                os.close(res_r)
                os.read(go_r, 1)
                su, sg = plan["subuid"], plan["subgid"]
                nu, ng = min(su[1], 65536), min(sg[1], 65536)
                msg = b"ok"
                for cmd in ([plan["newuidmap"], str(me), "0", str(uid), "1", "1", str(su[0]), str(nu)],
                            [plan["newgidmap"], str(me), "0", str(gid), "1", "1", str(sg[0]), str(ng)]):
                    p = subprocess.run(cmd, capture_output=True, timeout=10)
                    if p.returncode:
                        msg = (" ".join(cmd[:1]) + ": " + (p.stderr or p.stdout).decode(errors="replace")).encode()
                        break
                os.write(res_w, msg[:500])
            finally:
                os._exit(0)
        os.close(go_r)
        os.close(res_w)
        try:
            _unshare(CLONE_NEWUSER, "unshare(user namespace)")
        except SandboxError:
            os.close(go_w)
            os.waitpid(helper, 0)
            raise
        if plan is None:  # map only ourselves: uid 0 inside is us outside
            os.close(go_w)
            os.waitpid(helper, 0)
            with open("/proc/self/setgroups", "w") as f:
                f.write("deny")
            with open("/proc/self/uid_map", "w") as f:
                f.write(f"0 {uid} 1")
            with open("/proc/self/gid_map", "w") as f:
                f.write(f"0 {gid} 1")
        else:
            os.write(go_w, b"x")
            os.close(go_w)
            msg = os.read(res_r, 600)
            os.waitpid(helper, 0)
            if msg != b"ok":
                raise SandboxError(f"mapping subordinate ids failed: {msg.decode(errors='replace')}")
        os.close(res_r)

    def _build_fs(self):
        lim = self.limits
        _mount("ipclab-box", self.base, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m")
        for d in (self.root, self.shm, self.mq, self.tmp):
            os.mkdir(d, 0o755)
        _mount("ipclab-shm", self.shm, "tmpfs", MS_NOSUID | MS_NODEV, f"mode=1777,size={lim.shm_mb}m")
        _mount("ipclab-tmp", self.tmp, "tmpfs", MS_NOSUID | MS_NODEV, f"mode=1777,size={lim.tmp_mb}m")
        try:
            _mount("mqueue", self.mq, "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC)
            self.has_mqueue = True
        except SandboxError:
            self.has_mqueue = False
        _mount("ipclab-root", self.root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=4m")
        root = self.root
        # the private /tmp first: a bound course or Python that lives under /tmp (a release
        # written to /tmp, a venv there) is then bound inside it instead of hidden by it
        _mount(self.tmp, _make_path(root, "/tmp"), None, MS_BIND)
        seen = set()
        for src in list(self.config.get("binds") or default_binds()) + list(self.config.get("extra_binds", [])):
            src, dst = (src, src) if isinstance(src, str) else src
            if dst in seen or not os.path.lexists(src):
                continue
            seen.add(dst)
            if os.path.islink(src) and os.path.dirname(dst) == "/":
                os.symlink(os.readlink(src), os.path.join(root, dst.lstrip("/")))
                continue
            real = os.path.realpath(src)
            _bind_ro(real, _make_path(root, dst, os.path.isdir(real)))
        for hidden in self.config.get("hide", []):  # secrets that live inside a bound folder
            target = os.path.join(root, hidden.lstrip("/"))
            if os.path.isdir(target):
                _mount("ipclab-hidden", target, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, "mode=0555,size=4k")
            elif os.path.exists(target):
                _mount("/dev/null", target, None, MS_BIND)
        work = self.config.get("work")
        if work:
            _bind_ro(work, _make_path(root, WORK))
        else:
            _make_path(root, WORK)
        for dev in ("null", "zero", "full", "random", "urandom"):
            _mount(f"/dev/{dev}", _make_path(root, f"/dev/{dev}", is_dir=False), None, MS_BIND)
        _mount(self.shm, _make_path(root, "/dev/shm"), None, MS_BIND)
        _mount(self.mq if self.has_mqueue else self.tmp, _make_path(root, "/dev/mqueue"), None, MS_BIND)
        _make_path(root, "/proc")
        for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                             ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
            os.symlink(target, os.path.join(root, "dev", name))
        _mount(None, root, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, "mode=0755,size=4m")
        # the keeper's own view: the box's /dev/shm and /dev/mqueue (so trusted checks see them)
        _mount(self.shm, "/dev/shm", None, MS_BIND)
        if self.has_mqueue and os.path.isdir("/dev/mqueue"):
            _mount(self.mq, "/dev/mqueue", None, MS_BIND)

    def _set_ipc_limits(self):
        """Cap System V memory in this IPC namespace (its sysctls are per namespace)."""
        pages = self.limits.sysv_shm_mb * 1024 * 1024 // os.sysconf("SC_PAGE_SIZE")
        for path, value in (("/proc/sys/kernel/shmall", pages),
                            ("/proc/sys/kernel/shmmax", self.limits.sysv_shm_mb * 1024 * 1024),
                            ("/proc/sys/kernel/shmmni", 256), ("/proc/sys/kernel/msgmni", 256)):
            try:
                with open(path, "w") as f:
                    f.write(str(value))
            except OSError:
                pass

    def _start_init(self):
        keeper = os.getpid()
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            _init_main(keeper, w)
        os.close(w)
        ok = os.read(r, 1)
        os.close(r)
        if not ok:
            raise SandboxError("the box's init process died at start")
        self.init_pid = pid
        self.pid_ns = os.readlink(f"/proc/{pid}/ns/pid")

    # guests

    def own_proc(self):
        """In a process forked inside the box: a private mount namespace whose /proc shows the box's PIDs.

        The keeper's /proc is the host's; a trusted process inside the box's PID namespace
        knows its children by their box pids, so it needs a /proc of that namespace.
        """
        if self.mode == "none":
            return
        _unshare(CLONE_NEWNS, "unshare(mount namespace) for the test process")
        _mount(None, "/", None, MS_REC | MS_PRIVATE)
        _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        # A registry of its own: the host's (the grader's user's ~/.cache/ipclab) holds other
        # runs, whose owners this /proc cannot see; they must not be judged dead from here.
        # The caller removes it (:meth:`drop_own_state`) before it exits; it lives in the
        # folder Box.run made for the box's registries, which the supervisor removes even when
        # this process was killed at its deadline.
        self.trusted_state = tempfile.mkdtemp(prefix="ipclab-trusted-state-", dir=self.config.get("state_base"))
        os.environ["IPCLAB_STATE_DIR"] = self.trusted_state

    def drop_own_state(self):
        """Remove the registry folder :meth:`own_proc` made (the box's objects die with its namespace)."""
        state = getattr(self, "trusted_state", None)
        if state:
            shutil.rmtree(state, ignore_errors=True)

    def guest_spec(self, limits=None):
        """What :func:`spawn_guest` needs to start a guest in this box (JSON; also from workers)."""
        return {"root": self.root, "mode": self.mode, "uid": self.uid, "gid": self.gid,
                "limits": asdict(limits or self.limits), "work": self.config.get("work")}

    def spawn(self, argv, **kw):
        """Start *argv* as a guest (box uid, box root, rlimits); a :class:`subprocess.Popen`."""
        return spawn_guest(self.guest_spec(kw.pop("limits", None)), argv, **kw)

    # looking inside

    def census(self):
        """Host pids of the box's processes other than its init (for strays and the kill)."""
        if self.pid_ns is None:
            return []
        out = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == self.init_pid:
                continue
            try:
                if os.readlink(f"/proc/{entry}/ns/pid") != self.pid_ns:
                    continue
                with open(f"/proc/{entry}/stat", "rb") as f:
                    state = f.read().rsplit(b")", 1)[1].split()[0]
            except OSError:
                continue
            if state not in (b"Z", b"X"):
                out.append(int(entry))
        return out

    def guests(self):
        """Host pids of the box's processes running guest code (box uid; or no capabilities)."""
        out = []
        for pid in self.census():
            try:
                with open(f"/proc/{pid}/status") as f:
                    status = dict(line.split(":", 1) for line in f if ":" in line)
            except OSError:
                continue
            if self.mode == "userns-self":
                if int(status.get("CapEff", "1").strip(), 16) == 0:
                    out.append(pid)
            elif int(status["Uid"].split()[0]) == self.uid:  # /proc shows ids as our namespace sees them
                out.append(pid)
        return out

    def leaks(self):
        """Every IPC object in the box (none in mode none: the host's objects are not the box's)."""
        if self.mode == "none":
            return []
        return box_leaks(self.shm, self.mq if getattr(self, "has_mqueue", False) else None)

    def close(self):
        """Kill every process of the box (its init's death takes the PID namespace with it)."""
        if self.init_pid:
            try:
                os.kill(self.init_pid, signal.SIGKILL)
                os.waitpid(self.init_pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
            self.init_pid = None


def spawn_guest(spec, argv, *, env=None, cwd=None, stdin=None, stdout=None, stderr=None, pass_fds=()):
    """Start *argv* as a guest of the box described by *spec* (see :meth:`Box.guest_spec`).

    The privileged stage (``sandbox.py --stage2``) gives the guest its own mount namespace
    and /proc, pivots into the box root, drops to the box identity, sets the rlimits and
    PR_SET_PDEATHSIG, then execs *argv*. Descriptors in *pass_fds* become 3, 4, ...
    """
    env = guest_env(env)
    if spec["mode"] == "none" and spec.get("work"):
        # No box: /tmp is the machine's, shared by every user, so HOME=/tmp would put the guest's
        # ~/.cache/ipclab where another user's grading made it first (refused: not yours). The
        # submission's own work folder is private to this grading.
        env["HOME"] = spec["work"]
    spec = dict(spec, argv=list(argv), env=env, pass_fds=list(pass_fds),
                cwd=cwd or (WORK if spec["mode"] != "none" else spec.get("work") or "/"))
    return subprocess.Popen([PYTHON, "-I", "-S", HERE, "--stage2", json.dumps(spec)],
                            stdin=stdin if stdin is not None else subprocess.DEVNULL,
                            stdout=stdout, stderr=stderr, pass_fds=pass_fds, env={},
                            start_new_session=False)  # mode none: the keeper's process group is how they die


def _loopback_up():
    """Bring up ``lo`` in a new network namespace (it starts down): SIOCGIFFLAGS / SIOCSIFFLAGS."""
    import struct
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sH14s", b"lo", 0, b"")
        flags = struct.unpack("16sH14s", fcntl.ioctl(s, 0x8913, req))[1]
        fcntl.ioctl(s, 0x8914, struct.pack("16sH14s", b"lo", flags | 0x1, b""))


def box_leaks(shm_dir="/dev/shm", mq_dir="/dev/mqueue"):
    """Every IPC object in the current IPC namespace and in *shm_dir*/*mq_dir*: [(kind, name)]."""
    out = []
    for table, kind in (("shm", "sysv_shm"), ("sem", "sysv_sem"), ("msg", "sysv_msg")):
        try:
            with open(f"/proc/sysvipc/{table}") as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            rows = []
        for row in rows:
            cols = row.split()
            if len(cols) >= 2:
                out.append((kind, f"key {int(cols[0]) & 0xffffffff:#010x} id {cols[1]}"))
    for folder, kinds in ((shm_dir, ("posix_sem", "posix_shm")), (mq_dir, ("posix_mq", "posix_mq"))):
        if not folder:
            continue
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            names = []
        for n in names:
            if n.startswith("sem."):
                out.append((kinds[0], "/" + n[4:]))
            else:
                out.append((kinds[1], "/" + n))
    return out


def guest_env(extra=None):
    """A clean environment for guests: nothing of the grader's (tokens, paths) leaks in."""
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp", "TMPDIR": "/tmp", "LANG": "C.UTF-8",
           "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"}
    env.update(extra or {})
    return env


def _init_main(keeper, ready_w):
    """PID 1 of the box: reap orphans; on SIGUSR1 pass it to every process (stack dumps)."""
    try:
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # (getppid() is 0 here: the keeper is outside our PID namespace)
        devnull = os.open("/dev/null", os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.closerange(3, ready_w)
        os.closerange(ready_w + 1, 65536)
        signal.signal(signal.SIGUSR1, lambda *_: _kill_all(signal.SIGUSR1))
        signal.signal(signal.SIGCHLD, lambda *_: None)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_IGN)
        os.write(ready_w, b"1")
        os.close(ready_w)
        while True:
            try:
                os.waitpid(-1, 0)
            except ChildProcessError:
                time.sleep(0.05)
            except InterruptedError:
                pass
    finally:
        os._exit(0)


def _kill_all(sig):
    try:
        os.kill(-1, sig)
    except OSError:
        pass


# -- stage 2: become a guest ----------------------------------------------------------------

def _drop_caps():
    """Give up every capability for good (the user-namespace-as-yourself mode)."""
    libc = _c()
    arch = os.uname().machine
    for cap in range(64):
        if _prctl(PR_CAPBSET_DROP, cap) != 0 and ctypes.get_errno() == errno.EINVAL:
            break
    # SECBIT_NOROOT | _LOCKED | SECBIT_NO_SETUID_FIXUP | _LOCKED | SECBIT_KEEP_CAPS_LOCKED | NO_CAP_AMBIENT_RAISE(+LOCKED)
    _prctl(PR_SET_SECUREBITS, 0x01 | 0x02 | 0x04 | 0x08 | 0x20 | 0x40 | 0x80)

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]
    hdr, data = Header(0x20080522, 0), (Data * 2)()
    _check(libc.syscall(ctypes.c_long(SYS_CAPSET[arch]), ctypes.byref(hdr), ctypes.byref(data)), "capset")


def _stage2(spec):
    """Privileged: own mount namespace, /proc, pivot into the box root, drop identity, limits, exec."""
    mode, root = spec["mode"], spec["root"]
    lim = Limits(**spec["limits"])
    parent = os.getppid()
    if mode != "none":
        _unshare(CLONE_NEWNS, "unshare(mount namespace) for the guest")
        _mount(None, "/", None, MS_REC | MS_PRIVATE)
        _mount("proc", os.path.join(root, "proc"), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=2")
        os.chdir(root)
        arch = os.uname().machine
        if arch in SYS_PIVOT_ROOT:
            _check(_c().syscall(ctypes.c_long(SYS_PIVOT_ROOT[arch]), b".", b"."), "pivot_root")
            _check(_c().umount2(b".", MNT_DETACH), "umount old root")
        else:
            os.chroot(".")
        os.chdir("/")
        if mode == "userns-self":
            _drop_caps()
        else:
            if mode == "root" or mode == "userns":
                os.setgroups([])
            os.setresgid(spec["gid"], spec["gid"], spec["gid"])
            os.setresuid(spec["uid"], spec["uid"], spec["uid"])
    mb = 1024 * 1024
    for res, value in ((resource.RLIMIT_AS, lim.memory_mb * mb), (resource.RLIMIT_NPROC, lim.nproc),
                       (resource.RLIMIT_FSIZE, lim.fsize_mb * mb), (resource.RLIMIT_CPU, lim.cpu_s),
                       (resource.RLIMIT_CORE, 0), (resource.RLIMIT_NOFILE, lim.nofile),
                       (resource.RLIMIT_MSGQUEUE, 1 * mb)):
        try:
            resource.setrlimit(res, (value, value))
        except (ValueError, OSError):
            soft, hard = resource.getrlimit(res)
            if hard == resource.RLIM_INFINITY or value < hard:
                resource.setrlimit(res, (min(value, hard) if hard != resource.RLIM_INFINITY else value,) * 2)
    _prctl(PR_SET_NO_NEW_PRIVS, 1)
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # after the uid change, which clears it
    if os.getppid() != parent:
        os._exit(125)
    for sig in range(1, signal.NSIG):
        try:
            signal.signal(sig, signal.SIG_DFL)
        except (OSError, ValueError, RuntimeError):
            pass
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    try:
        os.chdir(spec["cwd"])
    except OSError:
        os.chdir("/")
    argv = spec["argv"]
    try:
        os.execvpe(argv[0], argv, spec["env"])
    except OSError as e:
        os.write(2, f"sandbox: cannot run {argv[0]}: {e}\n".encode())
        os._exit(127)


# -- the supervisor side ---------------------------------------------------------------------------

@dataclass
class Outcome:
    """What a supervised keeper produced: its messages, the captured output, how it ended."""
    messages: list
    output: str
    truncated: bool
    output_bytes: int
    stacks: str
    log: str
    timed_out: bool
    keeper_returncode: int
    seconds: float
    box_procs: int = 0      #: processes in the box's PID namespace when a timeout killed it


def count_in_pid_namespace(pid):
    """How many processes share *pid*'s PID namespace, *pid* included (0 if it is gone)."""
    try:
        ns = os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return 0
    n = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                n += os.readlink(f"/proc/{entry}/ns/pid") == ns
            except OSError:
                continue
    return n


class Supervisor:
    """Start a keeper process (trusted) that builds a box; enforce the wall clock from outside.

    The keeper gets its configuration in ``IPCLAB_BOX_CONFIG`` (JSON), the write end of the
    guests' output pipe (config ``out_fd``) and a message pipe (config ``msg_fd``) on which
    it sends JSON lines; ``{"init": pid}`` first, once the box exists. At the deadline the
    supervisor asks the box's init to pass SIGUSR1 to every process (guests dump their
    stacks with faulthandler), waits a moment, then SIGKILLs the keeper's process group and
    the init, which takes the whole PID namespace with it.
    """

    def __init__(self, argv, config, limits=None, env=None, stack_grace=1.0, pass_fds=()):
        self.argv, self.config = argv, dict(config)
        self.limits = limits or Limits()
        self.env, self.stack_grace, self.pass_fds = env, stack_grace, tuple(pass_fds)

    def run(self, timeout=None, on_message=None):
        timeout = self.limits.timeout if timeout is None else timeout
        out_r, out_w = os.pipe()
        log_r, log_w = os.pipe()
        msg_r, msg_w = os.pipe()
        base = tempfile.mkdtemp(prefix="ipclab-box-")
        os.chmod(base, 0o755)
        state_base = tempfile.mkdtemp(prefix="ipclab-box-state-")  # the trusted test processes' registries
        slot = Slot() if self.config.get("mode") != "none" else None
        cfg = dict(self.config, base=base, state_base=state_base, slot=slot.number if slot else 0,
                   out_fd=out_w, msg_fd=msg_w,
                   limits=asdict(self.limits))
        env = dict(self.env if self.env is not None else os.environ)
        env[CONFIG_VAR] = json.dumps(cfg)
        t0 = time.monotonic()
        out = Capture(out_r, self.limits.output_bytes)
        log = Capture(log_r, 64 * 1024)
        messages, init_pid, timed_out, stack_mark, box_procs = [], None, False, None, 0
        try:
            proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=log_w, stderr=log_w, env=env,
                                    pass_fds=(out_w, msg_w) + self.pass_fds, start_new_session=True)
        except BaseException:
            for fd in (out_w, log_w, msg_w, msg_r):
                os.close(fd)
            if slot:
                slot.release()
            os.rmdir(base)
            shutil.rmtree(state_base, ignore_errors=True)
            raise
        for fd in (out_w, log_w, msg_w):
            os.close(fd)
        buf = b""
        deadline = t0 + timeout
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    timed_out = True
                    break
                ready = select.select([msg_r], [], [], min(left, 0.5))[0]
                if not ready:
                    if proc.poll() is not None:
                        break
                    continue
                chunk = os.read(msg_r, 1 << 20)
                if not chunk:
                    break
                buf += chunk
                if len(buf) > 32 * 1024 * 1024:
                    raise SandboxError("the keeper sent more than 32 MiB of messages")
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    msg = json.loads(line)
                    if "init" in msg:
                        init_pid = msg["init"]
                    messages.append(msg)
                    if on_message:
                        on_message(msg)
            if timed_out and init_pid:
                box_procs = max(0, count_in_pid_namespace(init_pid) - 1)  # a fork loop shows here
                stack_mark = out.mark()
                try:
                    os.kill(init_pid, signal.SIGUSR1)
                except OSError:
                    pass
                time.sleep(self.stack_grace)
        finally:
            for pid in (init_pid,):
                if pid:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
            proc.wait()
            os.close(msg_r)
            out.join(5)
            log.join(5)
            if slot:
                slot.release()
            try:
                os.rmdir(base)
            except OSError:
                pass
            shutil.rmtree(state_base, ignore_errors=True)  # plain files: nothing is ever mounted here
        stacks = out.text(stack_mark) if stack_mark is not None else ""
        text = out.text() if stack_mark is None else out.text()[:max(0, len(out.text()) - len(stacks))]
        return Outcome(messages, text, out.truncated, out.total, stacks, log.text(), timed_out,
                       proc.returncode, round(time.monotonic() - t0, 3), box_procs)


# -- one command in a box (phase-1 API and the probe) -------------------------------------------------

@dataclass
class RunResult:
    """One command run in a box."""
    returncode: int
    output: str
    truncated: bool
    output_bytes: int
    timed_out: bool
    stacks: str
    leaks: list
    strays: int
    messages: list
    isolation: str
    error: str = ""
    seconds: float = 0.0


def run(argv, *, limits=None, files=None, env=None, mode=None, probe=False, timeout=None, hide=(), binds=None):
    """Run *argv* in a fresh box and return a :class:`RunResult`; *files* {name: bytes} go to ``/submission``.

    The guest may send JSON lines (64 KiB each, at most 100) on fd 3: they come back as
    ``messages``. Everything the guest started is dead when this returns.
    """
    limits = limits or Limits()
    if mode is None:
        iso = isolation_level()
        mode = iso.mode
    work = tempfile.mkdtemp(prefix="ipclab-work-")
    os.chmod(work, 0o755)
    try:
        for name, data in (files or {}).items():
            path = os.path.join(work, os.path.basename(name))
            with open(path, "wb") as f:
                f.write(data if isinstance(data, bytes) else data.encode())
            os.chmod(path, 0o644)
        config = {"mode": mode, "argv": list(argv), "env": env or {}, "work": work, "hide": list(hide),
                  "binds": list(binds if binds is not None else default_binds())}
        sup = Supervisor([PYTHON, "-I", "-S", HERE, "--keep-one"], config, limits, stack_grace=0.5)
        oc = sup.run(timeout)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    final = next((m for m in reversed(oc.messages) if "result" in m), None)
    res = final["result"] if final else {}
    err = res.get("error") or ("" if final or oc.timed_out else
                              f"the keeper failed (exit {oc.keeper_returncode}): {oc.log.strip()[-500:]}")
    return RunResult(res.get("returncode", -9 if oc.timed_out else -1), oc.output, oc.truncated, oc.output_bytes,
                     oc.timed_out, oc.stacks, [tuple(x) for x in res.get("leaks", [])], res.get("strays", 0),
                     res.get("messages", []), mode, err, oc.seconds)


def _keep_one():
    """Keeper for :func:`run`: build the box, run the command, report, close the box."""
    cfg = json.loads(os.environ[CONFIG_VAR])
    msg = os.fdopen(cfg["msg_fd"], "w", buffering=1)
    out_fd = cfg["out_fd"]
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    box = Box(cfg)
    try:
        init = box.enter()
    except (SandboxError, OSError) as e:
        msg.write(json.dumps({"result": {"error": f"cannot build the box ({cfg['mode']}): {e}"}}) + "\n")
        return 1
    msg.write(json.dumps({"init": init}) + "\n")
    ch_r, ch_w = os.pipe()
    os.set_inheritable(ch_w, True)
    # the guest's fd 3 is the write end of its message pipe
    argv = cfg["argv"]
    proc = box.spawn(argv, env=cfg.get("env"), stdout=out_fd, stderr=out_fd, pass_fds=(ch_w,))
    os.close(ch_w)
    guest_msgs, raw = [], bytearray()
    rc = None
    while rc is None:  # no threads here: after unshare(CLONE_NEWPID) the keeper cannot start any
        if select.select([ch_r], [], [], 0.05)[0]:
            chunk = os.read(ch_r, 65536)
            if chunk and len(raw) < 100 * 65536:
                raw.extend(chunk)
            elif not chunk:
                rc = proc.wait()
        rc = proc.poll() if rc is None else rc
    while select.select([ch_r], [], [], 0.05)[0]:
        chunk = os.read(ch_r, 65536)
        if not chunk or len(raw) >= 100 * 65536:
            break
        raw.extend(chunk)
    for line in bytes(raw).split(b"\n")[:100]:
        if line.strip():
            try:
                guest_msgs.append(json.loads(line[:65536]))
            except ValueError:
                guest_msgs.append({"unparsed": line[:200].decode(errors="replace")})
    strays = len(box.census())
    leaks = box.leaks()
    box.close()
    msg.write(json.dumps({"result": {"returncode": rc, "leaks": leaks, "strays": strays,
                                     "messages": guest_msgs}}) + "\n")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--stage2"]:
        spec = json.loads(sys.argv[2])
        fds = spec.get("pass_fds", [])  # the guest sees its channels from fd 3 on
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 200) for fd in fds]
        for fd in fds:
            os.close(fd)
        for i, fd in enumerate(high):
            os.dup2(fd, 3 + i)
            os.close(fd)
        try:
            _stage2(spec)
        except Exception as e:  # noqa: BLE001 - report any failure of the privileged stage plainly
            os.write(2, f"sandbox: cannot start the guest: {e}\n".encode())
            os._exit(126)
    elif sys.argv[1:2] == ["--keep-one"]:
        sys.exit(_keep_one())
