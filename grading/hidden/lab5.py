"""Hidden tests of lab 5 (teacher only: not in the student release)."""

from ipclab import labkit
from ipclab.tooling.grading.labtests.lab5 import many_processes, run_model


@labkit.test("edge sizes: capacity 1, then full-length keys and values with zero bytes", points=1, timeout=40,
             hint="store each key's and value's length; with capacity 1 head and tail are the same slot.")
def edge_sizes(lab, rng):
    run_model(lab, rng, 1, rng.randint(2, 6), rng.randint(4, 12), 120, 3, binary=True)
    run_model(lab, rng, rng.randint(2, 5), 3, rng.randint(1, 4), 200, 12, binary=True)


@labkit.test("6 processes started with spawn on a small cache", points=2, timeout=60,
             hint="each process attaches by handle (names and ids): nothing is inherited under spawn.")
def spawn_load(lab, rng):
    many_processes(lab, rng, 6, rng.randint(2, 4), 8, 120, "spawn")
