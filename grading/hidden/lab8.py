"""Hidden tests of lab 8 (teacher only: not in the student release)."""

from ipclab import labkit, procs
from ipclab.tooling.grading.labkit import expect
from ipclab.tooling.grading.labtests.lab8 import check_stats, client, requests_for, server_of, watch_stats


@labkit.test("4 workers, 8 clients x 8 requests: statistics add up", points=2, timeout=60,
             hint="every answered request is counted exactly once, by the worker that answered it.")
def load(lab, rng):
    with server_of(lab, 4) as srv:
        reqs = [requests_for(rng, 8, (0, 5)) for _ in range(8)]
        replies = procs.run(client, [(srv.address, r) for r in reqs], start_method="fork", timeout=45, relay=False)
        flat = [x for r in replies for x in r]
        bad = [x for x in flat if not isinstance(x, tuple)]
        expect(not bad, f"{len(bad)} of {len(flat)} requests got no proper reply", *[f"BAD      {x}" for x in bad[:5]])
        check_stats(srv, flat, "after 64 requests")
        srv.stop()


@labkit.test("another process reading the statistics never sees total != sum(served)", points=1, timeout=45,
             hint="count() updates total and served[i] under the STATS lock, and stats() reads both under it.")
def consistent_snapshots(lab, rng):
    with server_of(lab, 3) as srv:
        reqs = [requests_for(rng, 10, (0, 3)) for _ in range(4)]
        watcher = procs.start(watch_stats, [(srv.shared.handle, 2.0)], start_method="fork", timeout=30, relay=False)
        procs.run(client, [(srv.address, r) for r in reqs], start_method="fork", timeout=30, relay=False)
        n, bad = watcher.join()[0]
        expect(not bad, f"{len(bad)} of {n} snapshots had total != sum(served)",
               *[f"BAD      total {t}, served {s}" for t, s in bad])
        srv.stop()
