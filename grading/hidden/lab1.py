"""Hidden tests of lab 1 (teacher only: not in the student release)."""

from ipclab import labkit
from ipclab.tooling.grading.labkit import expect_list
from ipclab.tooling.grading.labtests.lab1 import mpmc, round_trip


@labkit.test("maximal contention: capacity 1, 3 producers, 3 consumers", points=2, timeout=60,
             hint="with one slot every put waits for a get: check the order of your waits.")
def capacity_one(lab, rng):
    mpmc(lab, rng, 3, 3, 1, rng.randint(15, 25))


@labkit.test("records of every length 1..item_size round-trip", points=1, timeout=20,
             hint="store each record's length in its slot; never pad or strip.")
def every_length(lab, rng):
    item_size = rng.randint(5, 20)
    sent = [bytes(rng.randrange(256) for _ in range(n)) for n in range(1, item_size + 1)]
    got = round_trip(lab, len(sent), item_size, sent)
    expect_list(sent, got, "records of lengths 1..item_size (including zero bytes inside)")
