"""Memory-ordering litmus tests, run by two real processes over POSIX shared memory.

Why: shared memory is correct only when its loads and stores are *ordered*, and the
order a program writes is not the order another core sees. A litmus test is a few
instructions per process whose outcomes tell which reorderings this machine performs
(Alglave, Maranget et al., "herd/litmus7"; Preshing, "Memory reordering caught in the act").

Two tests, five ways of writing their accesses (compiled from ``ipclab/c/litmus/*.c``):

=========  =====================================  ============================
test       processes                              forbidden by seq. consistency
=========  =====================================  ============================
``SB``     P0: x=1; r0=y   P1: y=1; r1=x          r0=0, r1=0  ("00")
``MP``     P0: data=1; flag=1   P1: r0=flag; r1=data   r0=1, r1=0  ("10")
=========  =====================================  ============================

variants: ``plain`` (volatile ints: the compiler keeps every access, nothing orders them),
``relaxed``, ``acq_rel`` (release stores, acquire loads), ``seq_cst`` (C11 atomics) and
``fence`` (relaxed accesses with ``atomic_thread_fence(memory_order_seq_cst)`` between).

Results are plain counts (:class:`LitmusResult`); :mod:`ipclab.presentation.plots.litmus`
draws them. Without gcc, :func:`run_or_recorded` returns a labelled recorded run instead.
Defined in :mod:`ipclab.experiments.litmus`; taught in notebook 07.
"""

import json
import platform
import time
from dataclasses import asdict, dataclass, field

from ipclab.core import cbuild, cprocs, objects
from ipclab.core.paths import DATA_DIR
from ipclab.core.errors import BadArgument, IpclabError

__all__ = ["TESTS", "VARIANTS", "LitmusResult", "run", "run_all", "c11_allows", "x86_allows",
           "shm_size", "assembly", "recorded", "run_or_recorded", "DEFAULT_ITERATIONS", "run_for"]

TESTS = {
    "SB": {"source": "litmus/sb.c", "forbidden": "00", "title": "store buffering",
           "labels": {"00": "r0=0 r1=0", "01": "r0=0 r1=1", "10": "r0=1 r1=0", "11": "r0=1 r1=1"}},
    "MP": {"source": "litmus/mp.c", "forbidden": "10", "title": "message passing",
           "labels": {"00": "flag=0 data=0", "01": "flag=0 data=1", "10": "flag=1 data=0", "11": "flag=1 data=1"}},
}
VARIANTS = ("plain", "relaxed", "acq_rel", "seq_cst", "fence")
_DEFINE = {"plain": "V_PLAIN", "relaxed": "V_RELAXED", "acq_rel": "V_ACQREL", "seq_cst": "V_SEQCST",
           "fence": "V_FENCE"}
DEFAULT_ITERATIONS = 2_000_000
BATCH = 10_000
LINE, HEADER = 64, 4096
RECORDED = DATA_DIR / "litmus" / "recorded.json"


@dataclass
class LitmusResult:
    """One test x variant run: how many iterations ended in each outcome ("00".."11")."""
    test: str
    variant: str
    iterations: int
    counts: dict
    seconds: float = 0.0
    machine: str = field(default_factory=platform.machine)
    source: str = "live"  # "live", or where a recorded run comes from

    @property
    def forbidden(self):
        """The outcome sequential consistency forbids for this test."""
        return TESTS[self.test]["forbidden"]

    @property
    def forbidden_count(self):
        return self.counts.get(self.forbidden, 0)

    def label(self, outcome):
        """What *outcome* ("00".."11") means in this test, e.g. ``"r0=0 r1=0"``."""
        return TESTS[self.test]["labels"][outcome]

    @property
    def title(self):
        return TESTS[self.test]["title"]


def c11_allows(test, variant):
    """Does C11 allow the forbidden outcome? (plain accesses race: undefined; we say 'allowed')."""
    _check(test, variant)
    if test == "SB":
        return variant in ("plain", "relaxed", "acq_rel")
    return variant in ("plain", "relaxed")


def x86_allows(test, variant):
    """Can x86-64 hardware show it, given the instructions gcc emits (x86-TSO)? Only SB without a full barrier."""
    _check(test, variant)
    return test == "SB" and variant in ("plain", "relaxed", "acq_rel")


def _check(test, variant):
    if test not in TESTS:
        raise BadArgument(f"litmus test {test!r} is not one of {sorted(TESTS)}")
    if variant not in VARIANTS:
        raise BadArgument(f"variant {variant!r} is not one of {VARIANTS}")


def shm_size(batch=BATCH):
    """Bytes of shared memory a batch needs (mirrors ``litmus_size`` in litmus.h)."""
    return HEADER + 2 * batch * LINE + 2 * batch


def build(test, variant):
    """Compile one test x variant (cached); the executable's path."""
    _check(test, variant)
    return cbuild.build_file(TESTS[test]["source"], name=f"litmus_{test.lower()}_{variant}",
                             defines={_DEFINE[variant]: None})


def run(test, variant, iterations=DEFAULT_ITERATIONS, batch=BATCH, timeout=120.0):
    """Run *test* in *variant* for *iterations*; returns a :class:`LitmusResult`.

    Two processes (roles 0 and 1) run the compiled test on one fresh POSIX shared memory
    object, meeting at a spin barrier before every iteration; both are killed at *timeout*.
    """
    if not isinstance(iterations, int) or iterations <= 0:
        raise BadArgument(f"iterations must be a positive int, got {iterations!r}")
    if not isinstance(batch, int) or batch <= 0:
        raise BadArgument(f"batch must be a positive int, got {batch!r}")
    exe = build(test, variant)
    with objects.posix_shm(shm_size(batch), tag="litmus") as shm:
        start = time.monotonic()
        results = cprocs.run_programs([[exe, role, shm.name, iterations, batch] for role in (0, 1)],
                                      timeout=timeout, names=["P0", "P1"], relay=False)
        seconds = time.monotonic() - start
    bad = [r for r in results if not r.ok]
    if bad:
        r = bad[0]
        raise IpclabError(f"litmus {test}/{variant}: process {r.name} {r.status()}; its stderr: "
                          f"{r.stderr.strip()[-500:]!r}. On a very busy machine raise timeout= or lower iterations=.")
    data = json.loads(results[0].stdout.strip().splitlines()[-1])
    counts = {k: int(data[k]) for k in ("00", "01", "10", "11")}
    if sum(counts.values()) != iterations:
        raise IpclabError(f"litmus {test}/{variant}: counts {counts} do not add up to {iterations}")
    return LitmusResult(test, variant, iterations, counts, round(seconds, 3))


def run_for(test, variant, iterations=DEFAULT_ITERATIONS, seconds=12.0, chunk=200_000, **options):
    """Up to *iterations* of *test*/*variant*, in runs of *chunk*, stopping after *seconds*.

    Why: the two processes meet at a spin barrier before every iteration, so they need two
    CPUs at once. On an idle machine 2,000,000 iterations take a fraction of a second; on a
    loaded one each meeting can wait a time slice for the partner, and the same count takes
    minutes. The result's ``iterations`` says how many ran, and the counts add up to it.
    """
    if not isinstance(chunk, int) or chunk <= 0:
        raise BadArgument(f"chunk must be a positive int, got {chunk!r}")
    deadline = time.monotonic() + seconds
    done, counts, spent = 0, dict.fromkeys(("00", "01", "10", "11"), 0), 0.0
    while done < iterations and (done == 0 or time.monotonic() < deadline):
        r = run(test, variant, min(chunk, iterations - done), **options)
        done += r.iterations
        spent += r.seconds
        counts = {k: counts[k] + r.counts[k] for k in counts}
    return LitmusResult(test, variant, done, counts, round(spent, 3))


def run_all(tests=("SB", "MP"), variants=VARIANTS, iterations=DEFAULT_ITERATIONS, seconds=None, **options):
    """Every test x variant; a list of :class:`LitmusResult` in order.

    With *seconds*, each variant stops after that long (see :func:`run_for`); else each runs
    all *iterations* in one run."""
    if seconds is None:
        return [run(t, v, iterations, **options) for t in tests for v in variants]
    return [run_for(t, v, iterations, seconds, **options) for t in tests for v in variants]


def recorded():
    """The recorded run shipped with the course (for machines without gcc), labelled as such."""
    data = json.loads(RECORDED.read_text())
    return [LitmusResult(**{**r, "source": data["source"]}) for r in data["results"]]


def run_or_recorded(iterations=DEFAULT_ITERATIONS, seconds=None, **options):
    """Live results where gcc exists; else the recorded ones (each result's ``source`` says which)."""
    if cbuild.have_gcc():
        return run_all(iterations=iterations, seconds=seconds, **options)
    return recorded()


def save_recorded(results, path=RECORDED):
    """Write *results* as the recorded run (maintainers: ``python -m ipclab.experiments.litmus``)."""
    import datetime
    source = (f"recorded on {platform.machine()} ({_cpu_model()}, "
              f"{cbuild.gcc_version()}) on {datetime.date.today().isoformat()}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"source": source, "results": [
        {k: v for k, v in asdict(r).items() if k != "source"} for r in results]}, indent=1) + "\n")


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "cpu unknown"


def assembly(test, variant, function="body"):
    """The x86-64/arm64 instructions gcc -O2 emits for the test's *function* (the loads and stores)."""
    _check(test, variant)
    return cbuild.assembly(cbuild.C_DIR / TESTS[test]["source"], function, defines={_DEFINE[variant]: None})


if __name__ == "__main__":  # pragma: no cover - maintainers refresh the recorded run
    save_recorded(run_all())
    print(f"wrote {RECORDED}")
