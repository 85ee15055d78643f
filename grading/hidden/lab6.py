"""Hidden tests of lab 6 (teacher only: not in the student release)."""

from ipclab import labkit
from ipclab.tooling.grading.labkit import expect, expect_list, expect_raises
from ipclab.tooling.grading.labtests.lab6 import pool_of, run_map, shutdown


@labkit.test("spawn workers (nothing inherited), 30 tasks through small queues", points=2, timeout=60,
             hint="the worker must open the queues by name (posix_ipc.MessageQueue(name)): under spawn "
                  "it inherits nothing from the master.")
def spawn_workers(lab, rng):
    xs = [rng.randint(-999, 999) for _ in range(30)]
    with pool_of(lab, n_workers=2, capacity=3, start_method="spawn") as pool:
        expect_list([x * x for x in xs], run_map(pool, "square", xs, 30, "30 tasks, spawn"), "map() outcomes")
        shutdown(pool, 2)


@labkit.test("an unknown op is an error result; next_result() on an idle pool times out", points=1,
             timeout=30, hint="handlers[op] raises KeyError for an unknown op: catch it in the worker too; "
                              "next_result(timeout) raises TimeoutError when nothing comes.")
def unknown_op_and_timeout(lab, rng):
    with pool_of(lab, n_workers=2, capacity=4) as pool:
        expect_raises(TimeoutError, pool.next_result, "next_result(timeout=0.2) with no task", timeout=0.2)
        op = "no_such_" + labkit.random_tag(rng, 4)
        out = run_map(pool, op, [1, 2], 10, "unknown op")
        expect(all(isinstance(o, lab.TaskError) for o in out), f"map({op!r}, ...) should give TaskErrors",
               f"BAD  (got) {out!r}")
        expect_list([49], run_map(pool, "square", [7], 10, "after the errors"), "map() after the errors")
        shutdown(pool, 2)
