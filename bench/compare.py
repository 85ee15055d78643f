"""Python (ipclab.bench.runner) against its C twin (bench/ipcbench.c): the same exchanges, alternated.

    python bench/compare.py              # about 3 minutes; --seconds 1.5 (~6) for steadier numbers
    python bench/compare.py --tiny       # what CI runs: does everything still work?

Builds ipcbench.c with gcc into a temporary directory, then measures each point with
Python and with C alternately, ``--rounds`` times (so both see the same machine load, and a
burst of load on a shared 2-CPU machine hits both about equally), and prints the median of
each side, the ratio of the medians with its spread over the rounds, and the targets of
issue 7. A benchmark, not a test: nothing here fails on a ratio.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ipclab import bench  # noqa: E402
from ipclab.bench import catalog  # noqa: E402

HERE = Path(__file__).resolve().parent
KIB, MIB = 1 << 10, 1 << 20

#: (what, mechanism, size, ring (slots, batch) or None, target text, check(py, c, memcpy) -> bool)
THROUGHPUT = [
    ("shm 1 MiB", "posix_shm", MIB, None, ">= 0.8 C and >= 60% memcpy",
     lambda p, c, m: p["gbps"] >= 0.8 * c["gbps"] and p["gbps"] >= 0.6 * m),
    ("mp_shm 1 MiB", "mp_shm", MIB, None, ">= 50% memcpy", lambda p, c, m: p["gbps"] >= 0.5 * m),
    ("sysv_shm 1 MiB", "sysv_shm", MIB, None, "(no target)", None),
    ("mmap_file 1 MiB", "mmap_file", MIB, None, "(no target)", None),
    ("64 B ring 256/64", "posix_shm", 64, (256, 64), ">= 500k msg/s and >= 0.3 C",
     lambda p, c, m: p["msgs_per_s"] >= 5e5 and p["msgs_per_s"] >= 0.3 * c["msgs_per_s"]),
    ("64 B ring 4/1", "posix_shm", 64, (4, 1), "(the textbook ring)", None),
] + [
    (f"{mech} {bench.human(size)}", mech, size, None, ">= 0.8 C" if size >= 64 * KIB else ">= 0.4 C",
     (lambda p, c, m, k=(0.8 if size >= 64 * KIB else 0.4): p["gbps"] >= k * c["gbps"]))
    for mech in ("pipe", "fifo", "unix", "tcp") for size in (64, 64 * KIB, MIB)
] + [
    ("pipe 1 MiB, 1 MiB pipe", "pipe", MIB, "pipe1m", ">= 0.8 C", lambda p, c, m: p["gbps"] >= 0.8 * c["gbps"]),
] + [
    (f"{mech} {bench.human(size)}", mech, size, None, ">= 0.7 C", lambda p, c, m: p["gbps"] >= 0.7 * c["gbps"])
    for mech in ("posix_mq", "sysv_mq") for size in (4 * KIB, 8 * KIB)
]
LATENCY = [(m.name, pin) for m in catalog.LATENCY for pin in ("same", "cross")]


def build(tmp):
    """Compile ipcbench.c (ipclab.core.cbuild: -O2, warnings as errors, cached), copied into *tmp*;
    with zlib when it links, else with the built-in CRC."""
    from ipclab.core import cbuild
    if not cbuild.have_gcc():
        sys.exit("compare.py needs gcc (apt-get install gcc)")
    try:
        built = cbuild.build([HERE / "ipcbench.c"], "ipcbench", libs=["-lz"])
    except cbuild.CompileError:
        built = cbuild.build([HERE / "ipcbench.c"], "ipcbench", defines={"NO_ZLIB": None})
    exe = os.path.join(tmp, "ipcbench")
    shutil.copy2(built, exe)
    return exe


def c_run(exe, *args, timeout=120):
    out = subprocess.run([exe, *map(str, args)], capture_output=True, text=True, timeout=timeout)
    if out.returncode:
        raise RuntimeError(f"ipcbench {' '.join(map(str, args))} failed: {out.stderr.strip()}")
    return json.loads(out.stdout)


def median_record(records, key):
    """The record whose *key* is the median (the lower middle one for an even count): a real run."""
    return sorted(records, key=lambda r: r[key])[(len(records) - 1) // 2]


def spread(pys, cs, key):
    """'lo-hi' of the per-round Python/C ratios (rounds alternate, so round i's pair shared a moment)."""
    ratios = [p[key] / c[key] for p, c in zip(pys, cs)]
    return f"{min(ratios):.2f}-{max(ratios):.2f}" if len(ratios) > 1 else ""


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=0.8,
                    help="time per point, each side (default 0.8: timed phases of 0.24 s with 3 repeats)")
    ap.add_argument("--repeats", type=int, default=3, help="timed phases per throughput run")
    ap.add_argument("--rounds", type=int, default=3,
                    help="Python and C measured alternately this many times per point; medians reported")
    ap.add_argument("--tiny", action="store_true", help="a few points, 0.05 s each (CI)")
    ap.add_argument("--json", help="also write all results to this file")
    ap.add_argument("--only", metavar="TEXT", action="append",
                    help="measure only the points whose name contains TEXT (repeatable), e.g. --only mq")
    args = ap.parse_args(argv)
    seconds, repeats = (0.05, 1) if args.tiny else (args.seconds, args.repeats)
    rounds = 1 if args.tiny else max(1, args.rounds)
    points = THROUGHPUT[:1] + THROUGHPUT[4:5] + THROUGHPUT[6:7] if args.tiny else THROUGHPUT
    lat_points = LATENCY[:1] if args.tiny else LATENCY
    if args.only:
        points = [p for p in points if any(t in p[0] for t in args.only)]
        lat_points = [p for p in lat_points if any(t in f"{p[0]} {p[1]}" for t in args.only)]
    load = os.getloadavg()[0]
    results = {"throughput": [], "latency": [], "loadavg": load, "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="ipclab-cbench-") as tmp:
        exe = build(tmp)
        print(f"ipcbench built in a temporary directory; load average {load:.2f} on {os.cpu_count()} CPUs"
              + ("  (the machine is busy: ratios are noisy)" if load > (os.cpu_count() or 1) * 0.5 else ""))
        copies = {}
        no_verdict = rounds < 3
        print(f"\n{'throughput':<22} {'Python':>10} {'C':>10} {'Py/C':>6} {'(rounds)':>11} {'Py/memcpy':>9} "
              f"{'C/memcpy':>8}  target  (rates: Py/C below 1 = Python slower)")
        for what, mech, size, ring, target, check in points:
            if size not in copies:                     # the reference moves too: a median of `rounds`
                copies[size] = statistics.median(c_run(exe, "memcpy", size, min(seconds, 0.3))["gbps"]
                                                 for _ in range(rounds))
            reason = bench.skip_reason(mech, size)
            if reason:
                print(f"{what:<22} skipped: {reason}")
                continue
            pipe_bytes = MIB if ring == "pipe1m" else None
            ring = None if ring == "pipe1m" else ring
            slots, batch = ring or (bench.ring_shape(size) if mech in catalog.RINGS else (None, None))
            c_mech = catalog.get(mech).c_twin
            small = size < 4 * KIB
            key = "msgs_per_s" if small else "gbps"
            pys, cs = [], []
            for _ in range(rounds):                    # alternate, so load bursts hit both sides
                pys.append(bench.throughput(mech, size, max_seconds=seconds, repeats=repeats, slots=slots,
                                            batch=batch, pipe_bytes=pipe_bytes))
                cs.append(c_run(exe, "tp", c_mech, size, seconds, repeats, slots or 8, batch or 2, pipe_bytes or 0))
            py, c = median_record(pys, key), median_record(cs, key)
            m = copies[size]
            unit = "msg/s" if small else "GB/s"
            pv, cv = py[key], c[key]
            verdict = ("" if check is None else "  (noisy: no verdict)" if no_verdict or py.get("noisy")
                       else "  met" if check(py, c, m) else "  NOT met")
            fmt = (lambda v: f"{v / 1e6:8.3f}M ") if small else (lambda v: f"{v:8.3f}  ")
            fracs = f"{'-':>9} {'-':>8}" if small else f"{py['gbps'] / m:9.2f} {c['gbps'] / m:8.2f}"
            print(f"{what:<22} {fmt(pv)}{fmt(cv)}{pv / cv:6.2f} {spread(pys, cs, key):>11} {fracs}  "
                  f"{target} [{unit}]{verdict}")
            results["throughput"].append({"point": what, "python": py, "c": c, "memcpy_gbps": m,
                                          "python_rounds": pys, "c_rounds": cs,
                                          "target": target, "verdict": verdict.strip(),
                                          "met": None if check is None else check(py, c, m)})
        print(f"\n{'ping-pong':<22} {'Py med':>8} {'C med':>8} {'Py/C':>6} {'(rounds)':>11} {'Py p99':>8} "
              f"{'C p99':>8}  target <= 1.5  (times: Py/C above 1 = Python slower)")
        for mech, pin in lat_points:
            pys, cs = [], []
            for _ in range(rounds):
                pys.append(bench.latency(mech, max_seconds=seconds, pin=pin))
                cs.append(c_run(exe, "lat", mech, seconds, pin))
            py, c = median_record(pys, "median_us"), median_record(cs, "median_us")
            ratio = py["median_us"] / c["median_us"]
            verdict = ("(noisy: no verdict)" if no_verdict or py.get("noisy")
                       else "met" if ratio <= 1.5 else "NOT met")
            print(f"{mech + ' ' + pin:<22} {py['median_us']:8.1f} {c['median_us']:8.1f} {ratio:6.3f} "
                  f"{spread(pys, cs, 'median_us'):>11} {py['p99_us']:8.1f} {c['p99_us']:8.1f}  "
                  f"{verdict}  ({py['pin']})")
            results["latency"].append({"mechanism": mech, "pin": pin, "python": py, "c": c, "ratio": ratio,
                                       "python_rounds": pys, "c_rounds": cs, "verdict": verdict,
                                       "met": ratio <= 1.5})
    print("\nunits: GB/s = 10^9 bytes/s received and checked; small messages in millions of messages/s."
          f"\nPython and C: the median of {rounds} alternating round(s); (rounds): the lowest and highest"
          " Python/C ratio of a single round; no verdict from fewer than 3 rounds or phases under 0.2 s."
          "\nC/memcpy: how much of memcpy (the same size, hot, in one process) the C twin itself reaches."
          "\nthroughput runs are unpinned; ping-pongs are pinned: both on one CPU (same) or one on each (cross).")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
