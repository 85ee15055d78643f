"""Hidden tests of lab 10 (teacher only: not in the student release)."""

from ipclab import labkit
from ipclab.tooling.grading.labtests.lab10 import cpus, finish_under_load


@labkit.test("spawn: more processes than CPUs finish jobs while others call last() and audit(): nothing lost, "
             "nothing torn, no deadlock", points=2, timeout=90,
             hint="spawned processes inherit nothing: they attach by the handle; every reader and writer follows "
                  "the same protocol (COUNT before the read of done, LAST around every copy, one lock order).")
def spawn_everything_at_once(lab, rng):
    n = cpus() + 1
    finish_under_load(lab, rng, n, 3, 2, "spawn", f"{n} spawned finishers and 2 readers on {cpus()} CPUs")
