"""ipclab.core.asuser: a child that really is another user to the kernel, or a clear reason why not.

As root the other user is ``nobody`` (setuid); as an ordinary user with a range in
/etc/subuid it is a subordinate uid in a user namespace (newuidmap). CI runs this file in
both identities (.ci/run), so each way is proved on every run.
"""

import os

import posix_ipc
import pytest
import sysv_ipc

import workers_asuser as workers
from ipclab.core import asuser, objects
from ipclab.core.errors import ChildError, NotSupported

try:
    OTHER = asuser.other_user()
    WHY = ""
except NotSupported as exc:
    OTHER, WHY = None, str(exc)

needs_other = pytest.mark.skipif(OTHER is None, reason=f"no other user here: {WHY}")


def test_the_method_matches_who_we_are():
    if os.geteuid() == 0:
        assert OTHER is not None and OTHER.method == "setuid" and OTHER.uid != 0
    elif OTHER is None:
        assert "not root" in WHY and len(WHY) > 60  # a reason a student can act on
    else:
        assert OTHER.method == "userns" and OTHER.uid != os.getuid()


@needs_other
def test_the_child_has_other_credentials():
    uid, gid, groups = asuser.run_as_other(workers.credentials)
    assert (uid, groups) != (os.getuid(), os.getgroups())
    assert groups == []
    assert gid != os.getgid()
    assert asuser.run_as_other(workers.credentials, same_group=True)[1] != gid


@needs_other
@pytest.mark.parametrize("mode, allowed", [(0o600, False), (0o666, True)])
def test_posix_shm_mode_decides(mode, allowed):
    with objects.posix_shm(64, tag="asuser", mode=mode) as shm:
        os.fchmod(shm.fd, mode)  # the umask cut the mode at creation
        wrote = asuser.run_as_other(workers.write_posix_shm, (shm.name, b"other"))
        assert wrote is allowed
        with open(f"/dev/shm{shm.name}", "rb") as f:
            assert (f.read(5) == b"other") is allowed


@needs_other
@pytest.mark.parametrize("mode, allowed", [(0o600, False), (0o666, True)])
def test_sysv_queue_mode_decides(mode, allowed):
    with objects.sysv_msg(mode=mode) as q:
        assert asuser.run_as_other(workers.send_sysv, (q.key, b"hello")) is allowed
        assert q.current_messages == (1 if allowed else 0)
        if allowed:
            assert q.receive(block=False)[0] == b"hello"


@needs_other
def test_group_bits_apply_to_the_same_group_only():
    with objects.posix_shm(64, tag="asuser", mode=0o660) as shm:
        os.fchmod(shm.fd, 0o660)
        assert asuser.run_as_other(workers.write_posix_shm, (shm.name, b"g"), same_group=True) is True
        assert asuser.run_as_other(workers.write_posix_shm, (shm.name, b"o")) is False


def test_no_subordinate_range_says_what_to_do(tmp_path):
    empty = tmp_path / "subuid"
    empty.write_text("someoneelse:100000:65536\n")
    assert asuser.subid_range(str(empty), "ipclab-nobody-here", 424242) is None
    assert asuser.subid_range(str(empty), "someoneelse", 1) == (100000, 65536)
    tools = tmp_path / "bin"  # newuidmap/newgidmap present (never run here), so the range is what is missing
    tools.mkdir()
    for name in ("newuidmap", "newgidmap"):
        (tools / name).write_text("#!/bin/sh\nexit 1\n")
        (tools / name).chmod(0o755)
    with pytest.raises(NotSupported, match="usermod --add-subuids"):
        asuser.userns_plan(subuid=str(empty), subgid=str(empty), path=str(tools))


def test_no_uidmap_helpers_says_what_to_install(tmp_path):
    with pytest.raises(NotSupported, match="apt-get install uidmap"):
        asuser.userns_plan(path=str(tmp_path))  # an empty directory: no newuidmap in it


@needs_other
def test_a_worker_error_comes_back_as_an_ipclab_error():
    with pytest.raises(ChildError, match="ExistentialError"):
        asuser.run_as_other(workers.write_posix_shm, ("/ipclab-no-such-object", b"x"))
