"""Visible tests of lab 7: a centralised logging service over one POSIX message queue."""

import contextlib
import os
import signal
import time
from collections import defaultdict

from ipclab.tooling.grading import labkit
from ipclab.core import objects, procs
from ipclab.tooling.grading.labkit import expect, expect_equal, expect_list, expect_same_items, student

LAB = "lab7"
TITLE = "a logging service: many sources, one logger, priorities"
MODULE = "lab7_logger"
HIDDEN = 2
LIFETIME = 40
NAMES = ("DEBUG", "INFO", "WARNING", "ERROR")
RANK = {n: i + 1 for i, n in enumerate(NAMES)}  # the levels' priorities, as the brief gives them


# -- source processes (module level: importable under every start method) -----------------

def source(handle, name, records, pause=0.0):
    """Log each (level, text) of *records* as source *name*; return the seqs log() returned."""
    src = student().Source.attach(handle, name)
    try:
        seqs = []
        for level, text in records:
            seqs.append(src.log(level, text, timeout=10))
            if pause:
                time.sleep(pause)
        return seqs
    finally:
        src.close()


def source_then_die(handle, name, records):
    """Log *records*, then be killed (SIGKILL) without closing anything."""
    src = student().Source.attach(handle, name)
    for level, text in records:
        src.log(level, text, timeout=10)
    labkit.kill_student()  # the source's own process dies (and is reaped) first
    os.kill(os.getpid(), signal.SIGKILL)


# -- helpers -------------------------------------------------------------------------------

def words(rng, n):
    return [" ".join(labkit.random_tag(rng, rng.randint(2, 7)) for _ in range(rng.randint(1, 4))) for _ in range(n)]


def records_for(rng, n, levels=NAMES):
    return [(rng.choice(levels), text) for text in words(rng, n)]


def read_log(path):
    """The file's records as (level, src, seq, text); a line that does not parse fails the test."""
    out = []
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f):
            parts = line.rstrip("\n").split(" ", 3)
            ok = len(parts) == 4 and parts[0] in RANK and parts[2].isdigit()
            expect(ok, f"line {i + 1} of the log is not 'LEVEL src seq text'", f"BAD      {line!r}",
                   "         write format_line(record) for each record")
            out.append((parts[0], parts[1], int(parts[2]), parts[3]))
    return out


@contextlib.contextmanager
def service(lab, capacity=8, start=True, start_method="fork"):
    """(logger, path) for one test; on a failure the logger is killed and the queue removed."""
    with labkit.shared_file(tag="log") as path:
        logger = lab.Logger.create(path, capacity=capacity)
        expect(logger is not None, "Logger.create() returned None: return cls(...)")
        try:
            if start:
                logger.start(start_method=start_method, lifetime=LIFETIME)
            yield logger, path
        except BaseException:
            with contextlib.suppress(Exception):
                logger.group.kill()
            with contextlib.suppress(Exception):
                objects.remove_posix_mq(logger.mq)
            raise


def stop(logger):
    """stop() the logger; what it returned (checked later, after the log: its lines explain more)."""
    return logger.stop(timeout=10)


def check_counts(want, counts):
    expect_equal(dict(sorted(want.items())), dict(sorted((counts or {}).items())),
                 "what stop() returned (records written per source)")


def check_per_source(got, sent, what):
    """Every record exactly once, and each source's records of one level in the order sent."""
    expected = [(lvl, src, seq, text) for src, recs in sent.items() for seq, (lvl, text) in enumerate(recs)]
    expect_same_items(expected, got, what)
    by = defaultdict(list)
    for lvl, src, seq, _ in got:
        by[src, lvl].append(seq)
    for (src, lvl), seqs in sorted(by.items()):
        expect_list(sorted(seqs), seqs, f"order of source {src}'s {lvl} records in the log (by seq)")


def backlog_then_serve(lab, rng, n_sources=2, per_source=5):
    """Queue a backlog of mixed levels from source processes, then start the logger: the log."""
    with service(lab, capacity=n_sources * per_source, start=False) as (logger, path):
        sent = {labkit.random_tag(rng, 5): records_for(rng, per_source) for _ in range(n_sources)}
        procs.run(source, [(logger.handle, s, r) for s, r in sent.items()], start_method="fork",
                  timeout=20, relay=False)
        logger.start(start_method="fork", lifetime=LIFETIME)
        counts = stop(logger)
        got = read_log(path)
    check_per_source(got, sent, "records in the log")
    check_counts({s: len(r) for s, r in sent.items()}, counts)
    return sent, got


def demo(lab, seed=7):
    """The brief's picture: the levels of a backlog of 10 records, in the order they were written."""
    import random
    labkit.use_student(lab)
    return backlog_then_serve(lab, random.Random(seed))[1]


# -- the tests -----------------------------------------------------------------------------

@labkit.test("one source, one logger process: every record in the file, in order", points=1, timeout=30,
             hint="Source.log sends JSON {'src','seq','level','text'}; serve() writes format_line(record) "
                  "for each record until it receives STOP, then closes the file.")
def one_source(lab, rng):
    name = labkit.random_tag(rng, 6)
    recs = records_for(rng, rng.randint(4, 8), ("INFO",))
    with service(lab) as (logger, path):
        seqs = source(logger.handle, name, recs)
        expect_list(list(range(len(recs))), seqs, "seqs returned by log()")
        counts = stop(logger)
        got = read_log(path)
    expect_list([("INFO", name, i, t) for i, (_, t) in enumerate(recs)], got, "lines of the log")
    check_counts({name: len(recs)}, counts)


@labkit.test("4-6 source processes: every record exactly once, each source in order", points=3, timeout=40,
             hint="one queue, one reader: the logger receives everything; each source numbers its own "
                  "records (self.seq), starting at 0.")
def many_sources(lab, rng):
    n = rng.randint(4, 6)
    sent = {labkit.random_tag(rng, 5): records_for(rng, rng.randint(8, 15), ("INFO",)) for _ in range(n)}
    seqs = sources_through_logger(lab, sent, capacity=4, timeout=30)
    for (s, r), q in zip(sent.items(), seqs):
        expect_list(list(range(len(r))), q, f"seqs returned to source {s}")


def sources_through_logger(lab, sent, capacity, timeout):
    """One forked source per entry of *sent* logs its records; check the log and the counts.

    Returns what each source returned (its seqs), for the caller's own checks.
    """
    with service(lab, capacity=capacity) as (logger, path):
        seqs = procs.run(source, [(logger.handle, s, r) for s, r in sent.items()], start_method="fork",
                         timeout=timeout, relay=False)
        counts = stop(logger)
        got = read_log(path)
    check_per_source(got, sent, "records in the log")
    check_counts({s: len(r) for s, r in sent.items()}, counts)
    return seqs


@labkit.test("a backlog of mixed levels: higher levels are written first", points=2, timeout=40,
             hint="send each record with priority=LEVELS[level]: mq_receive always returns the highest "
                  "priority waiting (and FIFO within one priority).")
def priorities(lab, rng):
    sent, got = backlog_then_serve(lab, rng)
    levels = [lvl for lvl, *_ in got]
    expect_list(sorted(levels, key=lambda x: -RANK[x]), levels,
                "levels in the order written (10 records queued before the logger started)")


@labkit.test("a source killed mid-stream does not stop the logger", points=2, timeout=40,
             hint="the logger stops only on STOP: never wait for a source's goodbye, and never stop on "
                  "a quiet spell; a record is one message, so a killed source leaves no half record.")
def killed_source(lab, rng):
    names = [labkit.random_tag(rng, 5) for _ in range(3)]
    sent = {s: records_for(rng, rng.randint(6, 12), ("INFO", "WARNING")) for s in names}
    with service(lab, capacity=6) as (logger, path):
        jobs = [(source_then_die, (logger.handle, names[0], sent[names[0]]))] + \
               [(source, (logger.handle, s, sent[s], 0.005)) for s in names[1:]]
        groups = [procs.start(f, [a], start_method="fork", timeout=30, relay=False) for f, a in jobs]
        outcomes = [g.join(fail_fast=False, raise_errors=False)[0] for g in groups]
        expect(outcomes[0] == ("killed", "SIGKILL"), f"the source should have been killed: {outcomes[0]}")
        late = labkit.random_tag(rng, 5)
        sent[late] = records_for(rng, 3, ("ERROR",))
        source(logger.handle, late, sent[late])
        expect(logger.group.children[0].process.is_alive(), "the logger process exited before stop()")
        counts = stop(logger)
        got = read_log(path)
    check_per_source(got, sent, "records in the log (the killed source's included)")
    check_counts({s: len(r) for s, r in sent.items()}, counts)


@labkit.test("stop() flushes: records still queued when it is called are all written", points=1,
             timeout=30, hint="STOP goes at STOP_PRIORITY (0, the lowest): every queued record is received "
                              "before it. Close the file before returning, so its buffer is written.")
def stop_flushes(lab, rng):
    name = labkit.random_tag(rng, 6)
    recs = records_for(rng, 8, ("DEBUG", "INFO"))
    with service(lab, capacity=10, start=False) as (logger, path):
        source(logger.handle, name, recs)
        logger.start(start_method="fork", lifetime=LIFETIME)
        counts = stop(logger)
        got = read_log(path)
        alive = logger.group.children[0].process.exitcode
    check_per_source(got, {name: recs}, "records in the log right after stop()")
    expect_equal(0, alive, "exit code of the logger process after stop()")
    check_counts({name: len(recs)}, counts)


@labkit.test("a quiet spell (1.5 s with no record) does not stop the logger", points=1, timeout=30,
             hint="receive with the time left until the lifetime deadline, not a short timeout that ends "
                  "the loop: only STOP ends the logger.")
def quiet_spell(lab, rng):
    name = labkit.random_tag(rng, 6)
    first, second = records_for(rng, 3), records_for(rng, 3)
    with service(lab) as (logger, path):
        src = lab.Source.attach(logger.handle, name)
        try:
            for level, text in first:
                src.log(level, text, timeout=5)
            time.sleep(1.5)
            for level, text in second:
                src.log(level, text, timeout=5)
        finally:
            src.close()
        counts = stop(logger)
        got = read_log(path)
    check_per_source(got, {name: first + second}, "records in the log")
    check_counts({name: 6}, counts)
