"""Hidden tests of lab 7 (teacher only: not in the student release)."""

from ipclab import labkit
from ipclab.tooling.grading.labkit import expect_raises
from ipclab.tooling.grading.labtests.lab7 import (NAMES, check_counts, check_per_source, read_log, records_for, service,
                                  sources_through_logger, stop)


@labkit.test("8 sources x 25 records of every level through a queue of 3", points=2, timeout=60,
             hint="a full queue makes log() wait (with its timeout): that is fine, nothing is lost.")
def load(lab, rng):
    sent = {labkit.random_tag(rng, 5): records_for(rng, 25, NAMES) for _ in range(8)}
    sources_through_logger(lab, sent, capacity=3, timeout=40)


@labkit.test("spawn logger, non-ASCII text intact; log() refuses an unknown level", points=1, timeout=40,
             hint="the logger opens the queue by name (it inherits nothing under spawn); open the file "
                  "with encoding='utf-8'; check the level before sending.")
def spawn_and_levels(lab, rng):
    name = labkit.random_tag(rng, 6)
    recs = [("INFO", "café " + labkit.random_tag(rng)), ("ERROR", "Ωmega " + labkit.random_tag(rng)),
            ("DEBUG", "naïve ü " + labkit.random_tag(rng))]
    with service(lab, start_method="spawn") as (logger, path):
        src = lab.Source.attach(logger.handle, name)
        try:
            expect_raises(ValueError, src.log, "log('LOUD', ...)", "LOUD", "x", timeout=1)
            for level, text in recs:
                src.log(level, text, timeout=5)
        finally:
            src.close()
        counts = stop(logger)
        got = read_log(path)
    check_per_source(got, {name: recs}, "records in the log")
    check_counts({name: 3}, counts)
