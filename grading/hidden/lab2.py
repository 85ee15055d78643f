"""Hidden tests of lab 2 (teacher only: not in the student release)."""

from ipclab import labkit
from ipclab.tooling.grading.labtests.lab2 import dinner


@labkit.test("two philosophers share both forks", points=1, timeout=60,
             hint="with n = 2 both philosophers need forks 0 and 1.")
def two_philosophers(lab, rng):
    dinner(lab, rng, 2, rng.randint(20, 40))


@labkit.test("a big table: 7-9 philosophers", points=2, timeout=90, hint="taking both forks must be one step: no philosopher ever holds one fork and waits.")
def big_table(lab, rng):
    dinner(lab, rng, rng.randint(7, 9), rng.randint(15, 25))
