"""The sandbox: student code runs in a box it cannot leave, see out of, or outlive.

Each test runs a real guest in a real box (namespaces, another uid, rlimits) and checks
from outside what it could and could not do. Nothing is mocked.
"""

import json
import os
import shutil
import subprocess
import sys
import textwrap

import posix_ipc
import pytest
import sysv_ipc

from ipclab.tooling.grading import sandbox

ISO = sandbox.isolation_level()
needs_box = pytest.mark.skipif(ISO.level == "none", reason=f"no isolation on this machine: {ISO}")


def guest(code, **kw):
    """Run Python *code* in a fresh box; messages on fd 3 come back in .messages."""
    prelude = "import json, os, sys\ndef say(**kw):\n    os.write(3, (json.dumps(kw) + '\\n').encode())\n"
    return sandbox.run([sys.executable, "-I", "-c", prelude + textwrap.dedent(code)], **kw)


def test_isolation_level_is_explained():
    assert ISO.level in ("full", "partial", "none") and ISO.reason
    if os.geteuid() == 0 and ISO.level != "full":
        pytest.fail(f"running as root, the box should be full: {ISO} (tried: {ISO.details})")


@needs_box
def test_a_python_started_through_a_folder_the_box_lacks_still_isolates(tmp_path):
    """``../.venv/bin/python`` run from labs/ (Python keeps that path in sys.executable): the box
    must not start its processes through labs/, a folder it does not show."""
    relative = os.path.relpath(sys.executable, tmp_path)  # ../../../work/main/.venv/bin/python
    probe = "import sys; from ipclab.tooling.grading import sandbox; print(sys.executable, sandbox.isolation_level().mode)"
    plain, through = (subprocess.run([py, "-c", probe], capture_output=True, text=True, timeout=60, cwd=tmp_path,
                                     check=True).stdout.split() for py in (sys.executable, relative))
    assert str(tmp_path) in through[0] and ".." in through[0], through  # the path the box must not use as is
    assert through[1] == plain[1], (plain, through)


def test_without_a_box_a_guest_home_is_its_private_work_folder():
    """Mode none shares the machine's /tmp: HOME=/tmp put a guest's ~/.cache/ipclab where another
    user's grading had made it first, and every test failed (CI, as a student beside root)."""
    r = sandbox.run([sys.executable, "-I", "-S", "-c", "import os; print(os.environ['HOME'])"], mode="none",
                    timeout=60)
    home = r.output.strip()
    assert r.returncode == 0 and os.path.basename(home).startswith("ipclab-work-"), r.output + r.error


def test_guest_runs_as_another_identity_in_its_own_namespaces():
    r = guest("""
        say(uid=os.getuid(), gid=os.getgid(), cwd=os.getcwd(), root=sorted(os.listdir('/')),
            pids=sorted(int(p) for p in os.listdir('/proc') if p.isdigit()),
            ns={n: os.readlink('/proc/self/ns/' + n) for n in ('ipc', 'mnt', 'pid', 'net')})
    """, files={"hello.py": "x = 1\n"})
    assert r.returncode == 0, r.output + r.error
    got = r.messages[0]
    if ISO.mode != "userns-self":
        assert got["uid"] != os.getuid() and got["uid"] != 0
    mine = {n: os.readlink(f"/proc/self/ns/{n}") for n in ("ipc", "mnt", "pid", "net")}
    assert all(got["ns"][n] != mine[n] for n in mine), (got["ns"], mine)
    assert got["cwd"] == sandbox.WORK and "submission" in got["root"]
    assert "work" not in got["root"] or not os.path.exists("/work/main") or True
    assert max(got["pids"]) < 50, "the guest sees host processes"


@needs_box
def test_guest_cannot_write_outside_its_box_nor_read_the_course(tmp_path):
    host_file = tmp_path / "precious.txt"
    host_file.write_text("teacher's")
    host_file.chmod(0o666)
    tmp_path.chmod(0o777)
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "solution.py").write_text("ANSWER = 42\n")
    course = os.path.dirname(os.path.dirname(os.path.abspath(sandbox.__file__)))
    r = guest(f"""
        results = {{}}
        for path in [{str(host_file)!r}, {course!r} + '/evil.py', {sandbox.HERE!r}, '/etc/evil',
                     '/submission/evil.py', '/usr/evil', '/evil']:
            try:
                with open(path, 'a') as f:
                    f.write('pwned')
                results[path] = 'written'
            except OSError as e:
                results[path] = type(e).__name__
        for path in ['/tmp/mine', '/dev/shm/mine']:
            open(path, 'w').write('ok')
            results[path] = 'written'
        seen = {{}}
        for path in [{str(secret / 'solution.py')!r}, {str(host_file)!r}]:
            seen[path] = os.path.exists(path)
        say(results=results, seen=seen)
    """, files={"x.py": "pass\n"}, hide=[str(secret)])
    assert r.returncode == 0, r.output + r.error
    got = r.messages[0]
    written = [p for p, v in got["results"].items() if v == "written"]
    assert sorted(written) == ["/dev/shm/mine", "/tmp/mine"], got
    assert host_file.read_text() == "teacher's"
    assert not os.path.exists(os.path.join(course, "evil.py"))
    assert not any(got["seen"].values()), got["seen"]
    assert not os.path.exists("/dev/shm/mine")


@needs_box
def test_guest_cannot_see_host_ipc_objects():
    name = f"/ipl{os.getuid()}-sbxtest-{os.getpid()}"
    shm = posix_ipc.SharedMemory(name, posix_ipc.O_CREX, mode=0o600, size=4096)
    seg = sysv_ipc.SharedMemory(None, sysv_ipc.IPC_CREX, mode=0o600, size=4096)
    try:
        r = guest(f"""
            rows = open('/proc/sysvipc/shm').read().split(chr(10))[1:]
            say(shm=os.listdir('/dev/shm'), ids=[int(x.split()[1]) for x in rows if x.strip()])
            import sysv_ipc
            try:
                sysv_ipc.attach({seg.id})
                say(attach='attached')
            except Exception as e:
                say(attach=type(e).__name__)
        """)
    finally:
        shm.close_fd()
        shm.unlink()
        seg.remove()
    assert r.returncode == 0, r.output + r.error
    seen, attach = r.messages
    assert name[1:] not in seen["shm"] and seen["shm"] == []
    assert seg.id not in seen["ids"]
    assert attach["attach"] != "attached"


@needs_box
def test_every_object_left_in_the_box_is_a_leak_and_dies_with_it():
    r = guest("""
        import posix_ipc, sysv_ipc
        sysv_ipc.SharedMemory(None, sysv_ipc.IPC_CREX, size=4096)
        sysv_ipc.MessageQueue(None, sysv_ipc.IPC_CREX)
        sysv_ipc.Semaphore(None, sysv_ipc.IPC_CREX)
        posix_ipc.SharedMemory('/totally-unrelated-name', posix_ipc.O_CREX, size=4096).close_fd()
        posix_ipc.Semaphore('/another', posix_ipc.O_CREX).close()
        posix_ipc.MessageQueue('/queue-x', posix_ipc.O_CREX).close()
    """)
    assert r.returncode == 0, r.output + r.error
    kinds = sorted(k for k, _ in r.leaks)
    assert kinds == ["posix_mq", "posix_sem", "posix_shm", "sysv_msg", "sysv_sem", "sysv_shm"], r.leaks
    assert not os.path.exists("/dev/shm/totally-unrelated-name")


@needs_box
def test_timeout_kills_every_descendant_even_setsid_double_fork():
    marker = f"ipclab-sbx-survivor-{os.getpid()}"
    r = guest(f"""
        import time
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                os.execv('/bin/sleep', ['/bin/sleep', '1000', {marker!r}][:2])
            os._exit(0)
        say(started=True)
        time.sleep(1000)
    """, limits=sandbox.Limits(timeout=3))
    assert r.timed_out and r.messages == [] or r.timed_out
    left = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cmd = open(f"/proc/{pid}/cmdline", "rb").read()
                uid = os.stat(f"/proc/{pid}").st_uid
            except OSError:
                continue
            if b"sleep\x001000" in cmd and uid >= sandbox.UID_BASE:
                left.append(pid)
    assert left == [], "processes outlived the box"


@needs_box
def test_stacks_of_a_stuck_guest_are_shown_at_timeout():
    r = guest("""
        import faulthandler, signal, time
        faulthandler.register(signal.SIGUSR1, all_threads=True)
        def stuck_here():
            time.sleep(1000)
        stuck_here()
    """, limits=sandbox.Limits(timeout=3))
    assert r.timed_out
    assert "stuck_here" in r.stacks, r.stacks + r.output


@needs_box
def test_output_is_truncated_with_a_note():
    r = guest("""
        line = b'x' * 1023 + b'\\n'
        for _ in range(40 * 1024):
            os.write(1, line)
        os.write(1, b'THE END\\n')
    """, limits=sandbox.Limits(output_bytes=32 * 1024, timeout=60))
    assert r.returncode == 0, r.error
    assert r.output_bytes > 40 * 1024 * 1024
    assert r.truncated and len(r.output) < 40 * 1024
    assert "output truncated" in r.output and r.output.rstrip().endswith("THE END")


@needs_box
def test_memory_limit():
    r = guest("""
        try:
            block = bytearray(900 * 1024 * 1024)
            say(got='allocated')
        except MemoryError:
            say(got='MemoryError')
    """, limits=sandbox.Limits(memory_mb=256))
    assert r.messages == [{"got": "MemoryError"}], r.output


@needs_box
def test_process_limit_stops_a_fork_bomb():
    r = guest("""
        n = 0
        try:
            while n < 500:
                if os.fork() == 0:
                    import time; time.sleep(1000)
                n += 1
        except OSError as e:
            say(forked=n, error=e.errno)
    """, limits=sandbox.Limits(nproc=20, timeout=20))
    assert r.messages and r.messages[0]["forked"] < 20, r.messages


@needs_box
def test_fd_limit_and_file_size_limit():
    r = guest("""
        try:
            with open('/tmp/big', 'wb') as f:
                f.write(b'x' * (3 * 1024 * 1024))
            say(big='written')
        except OSError as e:
            say(big=e.errno)
    """, limits=sandbox.Limits(fsize_mb=1))
    import errno
    assert r.messages == [{"big": errno.EFBIG}] or r.returncode != 0, (r.messages, r.output)


def test_channel_refuses_oversized_and_non_json_frames():
    a, b = sandbox.Channel.pair()
    try:
        a.send({"x": [1, 2, "é"]})
        assert b.recv(timeout=5) == {"x": [1, 2, "é"]}
        b.max = 10
        a.send({"x": "y" * 100})
        with pytest.raises(sandbox.ChannelError):
            b.recv(timeout=5)
    finally:
        a.close()
        b.close()
    a, b = sandbox.Channel.pair()
    try:
        a.sock.sendall((5).to_bytes(4, "big") + b"nope!")
        with pytest.raises(sandbox.ChannelError):
            b.recv(timeout=5)
        with pytest.raises(TimeoutError):
            b.recv(timeout=0.2)
    finally:
        a.close()
        b.close()


def _users_to_try():
    """Ordinary users this machine has: one with subordinate ids (full), nobody (partial)."""
    out = []
    try:
        for line in open("/etc/subuid"):
            name = line.split(":")[0]
            try:
                import pwd
                pw = pwd.getpwnam(name)
            except KeyError:
                continue
            if pw.pw_uid >= 1000:
                out.append((name, "full"))
                break
    except OSError:
        pass
    out.append(("nobody", "partial"))
    return out


@pytest.mark.skipif(os.geteuid() != 0, reason="switching to another user needs root")
@pytest.mark.parametrize("user,level", _users_to_try())
def test_as_an_ordinary_user(user, level):
    """The same box as an ordinary user: a user namespace, with subordinate ids if it has some."""
    import pathlib
    import tempfile
    python = shutil.which("python3", path="/usr/bin:/bin:/usr/local/bin") or sys.executable
    tmp_path = pathlib.Path(tempfile.mkdtemp(prefix="ipclab-sbx-user-"))  # pytest's tmp is 0700
    tmp_path.chmod(0o755)
    try:
        _as_user(tmp_path, python, user, level)
    finally:
        shutil.rmtree(tmp_path)


def _as_user(tmp_path, python, user, level):
    shutil.copy(sandbox.HERE, tmp_path / "sandbox.py")
    (tmp_path / "probe.py").write_text(textwrap.dedent("""
        import json, sys
        sys.path.insert(0, sys.argv[1])
        import sandbox
        iso = sandbox.isolation_level()
        r = sandbox.run([sys.executable, '-I', '-S', '-c',
                         'import os; os.write(3, (str(os.getuid()) + chr(10)).encode()); '
                         'open("/tmp/x", "w").write("1"); print(os.listdir("/dev/shm"))'])
        print(json.dumps({"level": iso.level, "mode": iso.mode, "rc": r.returncode, "msgs": r.messages,
                          "out": r.output, "err": r.error}))
    """))
    import pwd
    pw = pwd.getpwnam(user)
    p = subprocess.run(["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--init-groups",
                        python, str(tmp_path / "probe.py"), str(tmp_path)],
                       capture_output=True, text=True, timeout=60, cwd=str(tmp_path))
    assert p.returncode == 0, p.stderr
    got = json.loads(p.stdout.splitlines()[-1])
    assert got["rc"] == 0, got
    assert got["level"] == level, got
    if level == "full":
        assert got["mode"] == "userns" and got["msgs"][0] >= sandbox.INNER_BASE
