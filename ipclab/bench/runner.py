"""Throughput and latency between two real processes, measured honestly, per mechanism.

Why: the chapter ranks IPC mechanisms by throughput ("shared memory ~10 GB/s ... TCP
~1 GB/s, indicative"). This module measures that ranking on the student's own machine:

* two real processes (:mod:`ipclab.core.procs`), a producer and a consumer, on real kernel
  objects (:mod:`ipclab.core.objects`: 0600, registered, removed in ``finally``);
* bytes really cross and the consumer checks them (every message's sequence number at
  head and tail; through a ring every payload byte, compared in place; through a stream or
  a queue the CRC-32 of one payload in 16): see :mod:`ipclab.bench.transports`;
* warm-up excluded, pages touched before timing, runs bounded in *time* (not in count,
  so slow machines finish), repeated: median and spread are reported;
* a ``memcpy`` on the same machine, so each rate is also a fraction of the machine's limit;
* kernel limits respected: a size a mechanism cannot carry is *skipped with the reason*.

Results are plain records (dicts); :mod:`ipclab.presentation.plots.bench` draws them; ``ipclab bench``
prints them as a table or JSON. A C twin of the same protocol lives in ``bench/``.

Defined in :mod:`ipclab.bench.runner`; taught in notebook 04 (19.4) and the overview (19.0).
"""

import contextlib
import os
import statistics
import time

from ipclab.bench import catalog
from ipclab.bench import transports as bt
from ipclab.core import limits as kernel_limits
from ipclab.core import procs
from ipclab.core.units import human, parse_size  # noqa: F401 (bench.human, bench.parse_size)
from ipclab.core.errors import BadArgument, LimitReached, NotSupported

__all__ = ["MECHANISMS", "LATENCY_MECHANISMS", "INDICATIVE_GBPS", "DEFAULT_SIZES", "RING_BYTES",
           "MAX_SLOTS", "NOISY_BELOW", "VM_NOTE", "limits", "skip_reason", "ring_shape", "throughput",
           "latency", "memcpy", "attach_memcpy", "run", "ring_depth", "ranking", "format_table",
           "add_arguments", "main"]

#: mechanism -> (family, label, row of the chapter's table it belongs to), from ipclab.bench.catalog
MECHANISMS = {m.name: (m.family, m.label, m.row) for m in catalog.THROUGHPUT}
#: ping-pong pairs: mechanism -> (family, label)
LATENCY_MECHANISMS = {m.name: (m.family, m.latency_label) for m in catalog.LATENCY}
#: The chapter's "Comparaison des débits" table (GB/s, "indicative"): a claim to test, not a result.
INDICATIVE_GBPS = {"shm": ("Shared Memory", 10), "mmap": ("mmap", 8), "unix": ("UNIX Domain Sockets", 5),
                   "mq": ("Message Queues", 2), "pipe": ("Pipes", 1), "tcp": ("TCP Sockets", 1)}
DEFAULT_SIZES = (64, 1024, 8192, 65536, 1 << 20)
RING_BYTES = 4 << 20       # default ring: about 4 MiB of slots (two per-core L2 caches here), at least 4 slots
MAX_SLOTS = 256
NOISY_BELOW = 0.2          # seconds: shorter timed phases are mostly noise
VM_NOTE = ("unpinned: a wake-up on the other CPU costs more than one on the same CPU (on a VM several "
           "microseconds more: the interrupt goes through the hypervisor), so unpinned round trips mix two "
           "populations (bench_plots.histogram shows them); pin='same' or pin='cross' measures one at a time")


# -- limits ----------------------------------------------------------------------------------
def limits():
    """The kernel limits that bound message sizes, read live from /proc (:mod:`ipclab.core.limits`)."""
    return {n: kernel_limits.sysctl(n) for n in ("mq_msgsize_max", "mq_msg_max", "msgmax", "msgmnb", "pipe_max_size")}


def skip_reason(mechanism, size, lim=None):
    """Why *mechanism* cannot carry *size*-byte messages here ('' if it can)."""
    lim = lim or limits()
    if size < bt.MIN_SIZE:
        return f"{size} B is below the {bt.MIN_SIZE} B the protocol needs (seq head + tail)"
    return catalog.size_limit(mechanism, size, lim) if mechanism in catalog.ALL else ""


def ring_shape(size, slots=None, batch=None):
    """(slots, batch) of a shared-memory ring: about RING_BYTES of slots, a handshake per quarter ring."""
    if slots is None:
        slots = max(4, min(MAX_SLOTS, 1 << max(0, (RING_BYTES // size).bit_length() - 1)))  # a power of 2
    if batch is None:
        batch = max(1, slots // 4)
    if not (isinstance(slots, int) and isinstance(batch, int) and slots >= 1 and batch >= 1
            and slots % batch == 0):
        raise BadArgument(f"a ring needs slots >= 1 and batch >= 1 dividing it, got slots={slots!r}, "
                          f"batch={batch!r}")
    return slots, batch


def _cpus(pin):
    """(cpu of producer/pinger, cpu of consumer/ponger, description) for *pin*."""
    allowed = sorted(os.sched_getaffinity(0))
    if pin in (None, "none"):
        return None, None, "unpinned"
    if pin == "same":
        return allowed[0], allowed[0], f"both on CPU {allowed[0]}"
    if pin == "cross":
        if len(allowed) < 2:
            raise BadArgument("pin='cross' needs two CPUs; this process may use only one")
        return allowed[0], allowed[1], f"CPU {allowed[0]} -> CPU {allowed[1]}"
    raise BadArgument(f"pin must be None, 'same' or 'cross', got {pin!r}")


# -- kernel objects for one measurement --------------------------------------------------------
@contextlib.contextmanager
def _objects(mech, create, *args, **fields):
    """The specs *mech*'s definition creates (``tp_objects`` or ``lat_objects``, removed on exit),
    each telling the child which mechanism it is and how to open its end; plus the parent's closers."""
    base = {"mechanism": mech.name, "transport": mech, **fields}
    with contextlib.ExitStack() as stack:
        a, b, after = create(stack, *args)
        yield dict(base, **a), dict(base, **b), after


def _run_pair(role_a, spec_a, role_b, spec_b, cfg, after, start_method, timeout):
    """Start the two ends as real processes, close the parent's copies, wait for both results."""
    group = procs.start(bt.run_role, [(role_a, spec_a, cfg), (role_b, spec_b, cfg)],
                        names=[f"bench-{role_a}", f"bench-{role_b}"],
                        start_method=start_method, timeout=timeout)
    with group:
        for close in after:
            close()
        return group.join()


def _base_record(kind, mech, table, size, pin, start_method):
    fam, label = table[mech][:2]
    return {"kind": kind, "mechanism": mech, "family": fam, "label": label, "size": size,
            "pin": _cpus(pin)[2], "start_method": start_method, "skipped": ""}


# -- measurements ----------------------------------------------------------------------------
def throughput(mechanism, size, *, max_seconds=1.0, repeats=3, start_method="fork", slots=None,
               batch=None, pin=None, pipe_bytes=None):
    """Producer -> consumer rate of *size*-byte messages through *mechanism*; one record.

    *max_seconds* bounds the whole measurement (10 % warm-up, then *repeats* equal phases);
    the record holds the median rate and its spread, or ``skipped`` with the reason.
    """
    if mechanism not in MECHANISMS:
        raise BadArgument(f"unknown mechanism {mechanism!r}; choose from {sorted(MECHANISMS)}")
    if not isinstance(size, int) or size <= 0:
        raise BadArgument(f"size must be a positive number of bytes, got {size!r}")
    rec = _base_record("throughput", mechanism, MECHANISMS, size, pin, start_method)
    rec["chapter_row"] = MECHANISMS[mechanism][2]
    reason = skip_reason(mechanism, size)
    if reason:
        rec["skipped"] = reason
        return rec
    mech = catalog.get(mechanism)
    slots, batch = ring_shape(size, slots, batch) if mech.ring else (None, None)
    warmup = max(0.02, 0.1 * max_seconds)
    phase = (max_seconds - warmup) / repeats
    cpu_tx, cpu_rx, _ = _cpus(pin)
    cfg = {"size": size, "warmup": warmup, "phase": phase, "repeats": repeats,
           "budget": max_seconds + 20, "cpu_tx": cpu_tx, "cpu_rx": cpu_rx}
    try:
        with _objects(mech, mech.tp_objects, size, slots, batch, pipe_bytes, slots=slots, batch=batch) \
                as (tx, rx, after):
            got, sent = _run_pair("consumer", rx, "producer", tx, cfg, after, start_method, max_seconds + 30)
    except (LimitReached, NotSupported) as e:  # e.g. RLIMIT_MSGQUEUE used up, no /dev/shm room
        rec["skipped"] = f"could not create the objects: {e}"
        return rec
    marks = got["marks"]
    runs = []
    for (t0, s0), (t1, s1) in zip(marks, marks[1:]):
        runs.append(((s1 - s0) * size / (t1 - t0), (s1 - s0) / (t1 - t0)))
    rates = sorted(r[0] for r in runs)
    rec.update({
        "gbps": statistics.median(rates) / 1e9, "gbps_min": rates[0] / 1e9, "gbps_max": rates[-1] / 1e9,
        "runs_gbps": [r[0] / 1e9 for r in runs],
        "msgs_per_s": statistics.median(r[1] for r in runs),
        "phase_s": phase, "repeats": repeats, "messages": got["received"],
        "crc_checked": got["crc_checked"], "integrity": "ok", "slots": slots, "batch": batch,
        "check": got.get("check", f"CRC-32 of one payload in {bt.SAMPLE}"),
        "pipe_bytes": pipe_bytes, "noisy": phase < NOISY_BELOW,
    })
    return rec


def latency(mechanism, *, max_seconds=1.0, pin=None, start_method="fork", max_samples=2_000_000):
    """Ping-pong round trips through *mechanism* (8-byte messages or bare semaphores); one record."""
    if mechanism not in LATENCY_MECHANISMS:
        raise BadArgument(f"unknown latency mechanism {mechanism!r}; choose from {sorted(LATENCY_MECHANISMS)}")
    rec = _base_record("latency", mechanism, LATENCY_MECHANISMS, 8, pin, start_method)
    cpu_tx, cpu_rx, pin_desc = _cpus(pin)
    warmup = max(0.02, 0.1 * max_seconds)
    cfg = {"warmup": warmup, "seconds": max_seconds - warmup, "max_samples": max_samples,
           "budget": max_seconds + 20, "cpu_tx": cpu_tx, "cpu_rx": cpu_rx}
    try:
        mech = catalog.get(mechanism)
        with _objects(mech, mech.lat_objects) as (ping, pong, after):
            summary, _ = _run_pair("pinger", ping, "ponger", pong, cfg, after, start_method, max_seconds + 30)
    except (LimitReached, NotSupported) as e:
        rec["skipped"] = f"could not create the objects: {e}"
        return rec
    rec.update(summary)
    rec["note"] = VM_NOTE if pin_desc == "unpinned" else ""
    rec["noisy"] = cfg["seconds"] < NOISY_BELOW
    rec["max_seconds"] = max_seconds
    return rec


def memcpy(size, *, max_seconds=0.3, repeats=3):
    """The machine's copy rate at *size* bytes (numpy copyto, one process, buffers touched); a record.

    Below 64 KiB a single Python call costs more than the copy, so blocks of 64 KiB are
    copied instead: the rate is the memory system's, not the interpreter's.
    """
    import numpy as np
    block = max(size, 65536)
    src = np.frombuffer(bt.pattern(block), dtype=np.uint8)
    dst = np.empty_like(src)
    dst[:] = 1                                               # touch
    copy, clock = np.copyto, time.perf_counter
    rates = []
    per = max_seconds / (repeats + 1)
    for r in range(repeats + 1):
        n, t0 = 0, clock()
        t1 = t0
        while t1 - t0 < per:
            for _ in range(8):
                copy(dst, src)                               # C: memcpy(dst, src, block)
            n += 8
            t1 = clock()
        if r:                                                # the first round is the warm-up
            rates.append(n * block / (t1 - t0))
    rates.sort()
    return {"kind": "memcpy", "mechanism": "memcpy", "family": "machine", "label": "memcpy (1 process)",
            "size": size, "block": block, "gbps": statistics.median(rates) / 1e9,
            "gbps_min": rates[0] / 1e9, "gbps_max": rates[-1] / 1e9, "skipped": ""}


def attach_memcpy(records, copies):
    """Add ``memcpy_gbps`` and ``frac_memcpy`` to every throughput record (copies: size -> record)."""
    for r in records:
        if r["kind"] == "throughput" and not r["skipped"] and r["size"] in copies:
            r["memcpy_gbps"] = copies[r["size"]]["gbps"]
            r["frac_memcpy"] = r["gbps"] / r["memcpy_gbps"]
    return records


def _progress(total, enabled):
    if not enabled:
        return contextlib.nullcontext(None)
    from tqdm.auto import tqdm
    return tqdm(total=total, desc="ipclab bench", unit="point", leave=False)


def run(mechanisms=None, sizes=DEFAULT_SIZES, *, max_seconds=0.5, repeats=3, latency_mechanisms=None,
        pin=None, start_method="fork", progress=True, pipe_bytes=None):
    """Measure every mechanism at every size (and the latency pairs); a list of records.

    ``mechanisms=[]`` or ``latency_mechanisms=[]`` leaves that part out. Each point takes
    about *max_seconds* plus process start-up; sizes a mechanism cannot carry are skipped
    (records with ``skipped`` set).
    """
    mechanisms = list(MECHANISMS) if mechanisms is None else list(mechanisms)
    latency_mechanisms = list(LATENCY_MECHANISMS) if latency_mechanisms is None else list(latency_mechanisms)
    sizes = list(sizes)
    points = [(m, s) for m in mechanisms for s in sizes]
    records, copies = [], {}
    with _progress(len(sizes) + len(points) + len(latency_mechanisms), progress) as bar:
        for s in sizes:
            copies[s] = memcpy(s, max_seconds=min(0.3, max_seconds))
            records.append(copies[s])
            bar and bar.update()
        for m, s in points:
            bar and bar.set_postfix_str(f"{m} {human(s)}")
            records.append(throughput(m, s, max_seconds=max_seconds, repeats=repeats, pin=pin,
                                      start_method=start_method,
                                      pipe_bytes=pipe_bytes if m in MECHANISMS and catalog.ALL[m].pipe_sized else None))
            bar and bar.update()
        for m in latency_mechanisms:
            bar and bar.set_postfix_str(f"{m} ping-pong")
            records.append(latency(m, max_seconds=max_seconds, pin=pin, start_method=start_method))
            bar and bar.update()
    return attach_memcpy(records, copies)


def ring_depth(size=64, depths=(1, 2, 4, 16, 64, 256), *, mechanism="posix_shm", max_seconds=0.5,
               repeats=3, start_method="fork", pin=None, progress=True):
    """Throughput of small messages through a shared-memory ring against its depth.

    For each depth two rings: one semaphore handshake per message (``batch=1``, the
    textbook ring) and one per quarter of the ring (``batch=depth//4``).
    """
    runs = [(d, b) for d in depths for b in sorted({1, max(1, d // 4)})]
    out = []
    with _progress(len(runs), progress) as bar:
        for d, b in runs:
            rec = throughput(mechanism, size, max_seconds=max_seconds, repeats=repeats, slots=d, batch=b,
                             start_method=start_method, pin=pin)
            rec["kind"] = "ring_depth"
            out.append(rec)
            bar and bar.update()
    return out


# -- presenting ------------------------------------------------------------------------------
def ranking(records):
    """Best throughput per mechanism (any size), fastest first, next to the chapter's figure."""
    best = {}
    for r in records:
        if r["kind"] == "throughput" and not r["skipped"]:
            if r["mechanism"] not in best or r["gbps"] > best[r["mechanism"]]["gbps"]:
                best[r["mechanism"]] = r
    rows = []
    for m, r in sorted(best.items(), key=lambda kv: -kv[1]["gbps"]):
        chapter_name, chapter = INDICATIVE_GBPS[r["chapter_row"]]
        rows.append({"mechanism": m, "gbps": r["gbps"], "at_size": r["size"],
                     "chapter_row": chapter_name, "chapter_gbps": chapter})
    return rows


def format_table(records):
    """Throughput, latency and skip lines as plain text."""
    lines = []
    thr = [r for r in records if r["kind"] in ("throughput", "ring_depth", "memcpy")]
    if thr:
        lines.append(f"{'mechanism':<11} {'size':>8} {'GB/s':>8} {'min-max':>15} {'msg/s':>10} "
                     f"{'% memcpy':>8}  {'slots/batch':>11}  checked")
        for r in thr:
            if r["skipped"]:
                lines.append(f"{r['mechanism']:<11} {human(r['size']):>8}  skipped: {r['skipped']}")
                continue
            frac = f"{100 * r['frac_memcpy']:7.2g}%" if "frac_memcpy" in r else f"{'':>8}"
            shape = (f"{r['slots']}/{r['batch']}" if r.get("slots") else
                     f"pipe {human(r['pipe_bytes'])}" if r.get("pipe_bytes") else "")
            msgs = f"{r['msgs_per_s']:10.3g}" if "msgs_per_s" in r else f"{'':>10}"
            checked = (f"{r['messages']} msgs, {r['crc_checked']} payloads" if "messages" in r else "")
            noisy = " (short run: noisy)" if r.get("noisy") else ""
            lines.append(f"{r['mechanism']:<11} {human(r['size']):>8} {r['gbps']:8.3f} "
                         f"{r['gbps_min']:7.3f}-{r['gbps_max']:<7.3f} {msgs} {frac}  {shape:>11}  {checked}{noisy}")
        if any("messages" in r for r in thr):
            lines.append("checked: messages received with both sequence numbers verified (nothing lost, reordered "
                         "or torn), and\n         payloads verified byte for byte: through a ring every one, "
                         f"in place; through a stream or a queue\n         the CRC-32 of one in {bt.SAMPLE}. "
                         "min-max: the slowest and fastest timed phase.")
    lat = [r for r in records if r["kind"] == "latency"]
    if lat:
        lines.append("")
        lines.append(f"{'ping-pong':<11} {'median us':>10} {'p99 us':>9} {'round trips':>12}  pinning")
        for r in lat:
            if r["skipped"]:
                lines.append(f"{r['mechanism']:<11}  skipped: {r['skipped']}")
                continue
            noisy = " (short run: noisy)" if r.get("noisy") else ""
            lines.append(f"{r['mechanism']:<11} {r['median_us']:10.1f} {r['p99_us']:9.1f} {r['count']:12d}  "
                         f"{r['pin']}{noisy}")
        if any(r.get("note") for r in lat):
            lines.append(f"note: {VM_NOTE}")
    return "\n".join(lines)


# -- the `ipclab bench` command ----------------------------------------------------------------
def add_arguments(parser):
    parser.add_argument("--mechanisms", default=",".join(MECHANISMS),
                        help=f"comma-separated, from {','.join(MECHANISMS)} ('' for none)")
    parser.add_argument("--sizes", default="64,1K,8K,64K,1M", help="message sizes, e.g. 64,8K,1M")
    parser.add_argument("--latency", default=",".join(LATENCY_MECHANISMS),
                        help=f"ping-pong pairs, from {','.join(LATENCY_MECHANISMS)} ('' for none)")
    parser.add_argument("--seconds", type=float, default=0.8,
                        help="time budget of each point (default 0.8: 10%% warm-up, then --repeats phases of "
                             f"at least {NOISY_BELOW} s)")
    parser.add_argument("--repeats", type=int, default=3, help="timed phases per point (median reported)")
    parser.add_argument("--pin", choices=("none", "same", "cross"), default="none", help="CPU pinning")
    parser.add_argument("--start-method", default="fork", choices=procs.START_METHODS)
    parser.add_argument("--pipe-bytes", type=parse_size, default=None,
                        help="enlarge the pipe (F_SETPIPE_SZ), e.g. 1M; at most /proc/sys/fs/pipe-max-size unless root")
    parser.add_argument("--depth", action="store_true", help="also run the ring-depth experiment (64 B)")
    parser.add_argument("--json", action="store_true", help="print the records as JSON")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _split(text):
    return [t.strip() for t in text.split(",") if t.strip()]


def main(args):
    import json
    import sys
    if args.seconds <= 0 or args.repeats < 1:
        raise BadArgument("--seconds must be > 0 and --repeats >= 1")
    pin = None if args.pin == "none" else args.pin
    records = run(_split(args.mechanisms), [parse_size(s) for s in _split(args.sizes)],
                  max_seconds=args.seconds, repeats=args.repeats, latency_mechanisms=_split(args.latency),
                  pin=pin, start_method=args.start_method, progress=not args.no_progress and sys.stderr.isatty(),
                  pipe_bytes=args.pipe_bytes)
    if args.depth:
        records += ring_depth(max_seconds=args.seconds, repeats=args.repeats, pin=pin,
                              start_method=args.start_method, progress=False)
    if args.json:
        print(json.dumps(records, indent=1))
    else:
        print(format_table(records))
        if any(r.get("noisy") for r in records):
            print(f"note: timed phases shorter than {NOISY_BELOW} s are mostly noise; "
                  "raise --seconds or lower --repeats")
    return 0
