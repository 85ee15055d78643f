"""Hidden tests of lab 3 (teacher only: not in the student release)."""

from ipclab import labkit, procs
from ipclab.tooling.grading.labkit import expect, expect_equal
from ipclab.tooling.grading.labtests.lab3 import WORKER_TIMEOUT, clients_and_server, server


@labkit.test("an unknown op or a failing handler gets an error reply; the server goes on", points=1,
             timeout=40, hint="catch the handler's exception in serve_one() and reply {'error': ...}.")
def error_replies(lab, rng):
    svc = lab.Service.create()
    try:
        bad_op = "no_such_" + labkit.random_tag(rng, 4)
        r1 = svc.send_request(bad_op, "x", timeout=5)
        r2 = svc.send_request("fail", "y", timeout=5)
        word = labkit.random_tag(rng, 8)
        r3 = svc.send_request("upper", word, timeout=5)
        procs.run(server, [(svc.key, 3)], start_method=labkit.start_method(), timeout=WORKER_TIMEOUT, relay=False)
        for rid in (r1, r2):
            try:
                svc.wait_reply(rid, timeout=5)
            except RuntimeError:
                continue
            expect(False, f"request {rid} should have raised RuntimeError (error reply)")
        expect_equal(word.upper(), svc.wait_reply(r3, timeout=5), "reply after two errors")
    finally:
        svc.destroy()


@labkit.test("8 clients x 10 requests", points=2, timeout=90, hint="replies by pid, stash the others.")
def many_clients_load(lab, rng):
    clients_and_server(lab, rng, 8, 10)


