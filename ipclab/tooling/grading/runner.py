"""One test in one box: the keeper process started by the grader for each test.

``python -m ipclab.tooling.grading.runner`` (configuration in ``IPCLAB_BOX_CONFIG``, see
:class:`ipclab.tooling.grading.sandbox.Supervisor`). The keeper loads the test (visible or
hidden) *before* building the box, builds it, then forks the trusted test process inside
the box's PID namespace (threads work there; the keeper itself may not start any once it
has unshared its PID namespace). The test process drives the student's code through
agents (:mod:`ipclab.tooling.grading.remote`) and writes its verdict to the keeper; the
keeper then counts the student's processes still alive and every IPC object left in the
box (all of them are leaks, whatever their names), reports, and kills the box.

Nothing here imports the student's module: it only ever runs inside agents.
"""

import json
import os
import random
import signal
import sys
import time

from ipclab.tooling.grading import labkit, sandbox

__all__ = ["main"]


def _trusted(cfg, box, fn, w):
    """The trusted test process: run *fn* against the student's module in agents; verdict to *w*."""
    result = {"status": "error", "summary": "the test process ended without a verdict", "lines": []}
    try:
        box.own_proc()
        labkit.enter_grading({"spec": box.guest_spec(), "module": cfg["module"], "out_fd": cfg["out_fd"],
                              "import_timeout": cfg.get("import_timeout", 20), "owner": os.getpid()})
        if fn is None:  # the import probe
            labkit.student()
            result = {"status": "passed", "summary": "", "lines": []}
        else:
            result = labkit.run_trusted(fn, int(cfg["seed"]))
    except BaseException as e:  # noqa: BLE001 - a verdict always goes back
        status, summary, lines = labkit.verdict_of(e)
        result = {"status": status, "summary": summary, "lines": lines}
    finally:
        try:
            labkit.close_agents()
        except BaseException:  # noqa: BLE001
            pass
        box.drop_own_state()
        data = json.dumps(result).encode()
        while data:
            data = data[os.write(w, data):]
        os._exit(0)


def main():
    cfg = json.loads(os.environ[sandbox.CONFIG_VAR])
    msg = os.fdopen(cfg["msg_fd"], "w", buffering=1)
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)  # stack dumps are for the student's processes

    def send(obj):
        msg.write(json.dumps(obj) + "\n")

    fn = None
    if not cfg.get("probe"):
        fn = getattr(labkit.load_test_module(cfg["test_spec"]), cfg["test_name"])
    box = sandbox.Box(cfg)
    try:
        init = box.enter()
    except (sandbox.SandboxError, OSError) as e:
        send({"error": f"cannot build the box ({cfg['mode']}): {e}"})
        return 1
    send({"init": init})
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        _trusted(cfg, box, fn, w)
    os.close(w)
    data = bytearray()
    while len(data) < 4 * 1024 * 1024:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        data += chunk
    os.close(r)
    _, status = os.waitpid(pid, 0)
    try:
        verdict = json.loads(data)
    except ValueError:
        verdict = {"status": "error", "summary": f"the test process died (wait status {status})", "lines": []}
    deadline = time.monotonic() + 1.0
    while box.guests() and time.monotonic() < deadline:  # agents die with their workers: a moment
        time.sleep(0.05)
    strays = len(box.guests())
    leaks = box.leaks()
    send({"verdict": verdict, "leaks": leaks, "strays": strays})
    box.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
