"""A class under load: N real Unix users run the course's notebooks at once through a real hub.

    sudo python bench/classroom.py --users 40               # the full class
    sudo python bench/classroom.py --users 8 --notebooks 01,02,03
    sudo python bench/classroom.py --users 1 --record       # store the per-student peak (doctor --class)

It starts JupyterHub with deploy/jupyterhub_config.py and its proxy, creates the users, starts
every server through the REST API, then each user runs the notebooks cell by cell in a kernel
over websockets (as JupyterLab does), all users at once. It reports:

* per-cell latency percentiles, and the slowdown of each cell against its fastest run;
* hub, proxy, and per-user server + kernel memory (RSS), at peak;
* peak kernel objects per student and for the whole class at once, against the limits;
* what broke first (the first failing cell, or the limit closest to running out).

Needs root, jupyterhub, jupyterhub-idle-culler and configurable-http-proxy (DEPLOY.md).
Users are removed afterwards, even on Ctrl-C.
"""

import argparse
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "deploy"))
sys.path.insert(0, str(ROOT))

import hubdriver as hd  # noqa: E402
from ipclab.core import capacity  # noqa: E402


def course_copy(dest):
    """What each student gets in ~/ipclab: the executed notebooks and the lab stubs and briefs."""
    dest = Path(dest)
    (dest / "notebooks").mkdir(parents=True)
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        shutil.copy2(nb, dest / "notebooks" / nb.name)
    shutil.copytree(ROOT / "labs", dest / "labs", ignore=shutil.ignore_patterns("py", "__pycache__", ".ipynb_checkpoints"))
    for root, dirs, files in os.walk(dest):
        os.chmod(root, 0o755)
        for f in files:
            os.chmod(os.path.join(root, f), 0o644)
    return dest


def pick_notebooks(spec):
    all_nbs = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    if not spec or spec == "all":
        return all_nbs
    want = [s.strip() for s in spec.split(",")]
    unmatched = [w for w in want if not any(n.startswith(w) for n in all_nbs)]
    if unmatched:
        raise SystemExit(f"--notebooks {spec}: no notebook starts with {', '.join(unmatched)}; "
                         f"have {', '.join(all_nbs)}")
    return [n for n in all_nbs if any(n.startswith(w) for w in want)]


class MemorySampler:
    """Every *interval* s: memory of the hub, the proxy, and per user of their server and the rest.

    Per process it takes PSS (proportional set size, /proc/PID/smaps_rollup): pages shared by a
    kernel and its forked workers are split between them, so sums are real (RSS sums count a
    shared page once per process and overstate). The machine's own view, MemTotal - MemAvailable,
    is kept too: it includes everything else running here.
    """

    def __init__(self, hub, users, interval=2.0):
        import psutil
        self.psutil, self.hub, self.interval = psutil, hub, interval
        self.uids = {hd_uid(u): u for u in users}
        self.peak = {"hub": 0, "proxy": 0, "servers": 0, "kernels_and_workers": 0, "per_user_max": 0,
                     "total": 0, "machine_used": 0}
        self.machine_before = self.machine_used()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def machine_used(self):
        vm = self.psutil.virtual_memory()
        return vm.total - vm.available

    def _pss(self, proc):
        try:
            return proc.memory_full_info().pss
        except (self.psutil.Error, AttributeError):
            try:
                return proc.memory_info().rss
            except self.psutil.Error:
                return 0

    def once(self):
        pids = self.hub.pids()
        now = {"servers": 0, "kernels_and_workers": 0}
        for what in ("hub", "proxy"):
            try:
                now[what] = self._pss(self.psutil.Process(pids.get(what)))
            except (self.psutil.Error, TypeError, ValueError):
                now[what] = 0
        per_user = {}
        for p in self.psutil.process_iter(["uids", "cmdline"]):
            try:
                uid = p.info["uids"].real
                if uid not in self.uids:
                    continue
                cmd = " ".join(p.info["cmdline"] or [])
            except (self.psutil.Error, AttributeError, TypeError):
                continue
            mem = self._pss(p)
            now["servers" if "jupyterhub.singleuser" in cmd else "kernels_and_workers"] += mem
            per_user[uid] = per_user.get(uid, 0) + mem
        now["per_user_max"] = max(per_user.values(), default=0)
        now["total"] = now["hub"] + now["proxy"] + now["servers"] + now["kernels_and_workers"]
        now["machine_used"] = self.machine_used()
        for k, v in now.items():
            self.peak[k] = max(self.peak[k], v)
        return now

    def _loop(self):
        while not self._stop.is_set():
            self.once()
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(10)


def hd_uid(name):
    import pwd
    return pwd.getpwnam(name).pw_uid


def run_user(hub, user, notebooks, cell_timeout, results, recorder=None, on_notebook=None):
    """One student: each notebook in a fresh kernel, cell by cell; results[user] = list of dicts."""
    out = results.setdefault(user, [])
    for nb in notebooks:
        cells = hd.notebook_cells(ROOT / "notebooks" / nb)
        t0 = time.monotonic()
        try:
            k = hub.kernel(user, "notebooks")
        except Exception as e:  # noqa: BLE001 - a refused kernel is a result, not a crash of the bench
            out.append({"notebook": nb, "status": "no kernel", "error": str(e)[:300], "cells": [],
                        "seconds": time.monotonic() - t0, "at": time.time()})
            continue
        try:
            rs = hd.run_cells(k, cells, timeout=cell_timeout)
        finally:
            k.close()
        bad = [r for r in rs if r.status != "ok"]
        out.append({"notebook": nb, "status": "ok" if not bad and len(rs) == len(cells) else "failed",
                    "error": f"cell {bad[0].index}: {bad[0].status} {bad[0].error}" if bad else "",
                    "cells": [(r.index, round(r.seconds, 4), r.status) for r in rs],
                    "seconds": time.monotonic() - t0, "at": time.time()})
        if on_notebook:
            on_notebook(nb)


def percentiles(values):
    if not values:
        return {}
    v = sorted(values)
    q = lambda p: v[min(len(v) - 1, int(p / 100 * len(v)))]  # noqa: E731
    return {"n": len(v), "p50": q(50), "p90": q(90), "p99": q(99), "max": v[-1], "mean": statistics.fmean(v)}


def commit():
    try:
        return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=10).stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--users", type=int, default=40)
    ap.add_argument("--notebooks", default="all", help="comma-separated prefixes (e.g. 01,02) or 'all'")
    ap.add_argument("--cell-timeout", type=float, default=300)
    ap.add_argument("--record", action="store_true",
                    help="store the per-student peak for `ipclab doctor --class` (use with --users 1, all notebooks)")
    ap.add_argument("--json", help="write the full results here")
    ap.add_argument("--keep", action="store_true", help="keep the work folder (hub log) for inspection")
    args = ap.parse_args(argv)
    reason = hd.why_not()
    if reason:
        print(f"classroom bench cannot run here: {reason}")
        return 2
    if args.record and not any(line.split()[2:3] == ["mqueue"] for line in open("/proc/mounts")):
        print("--record needs /dev/mqueue mounted (mkdir -p /dev/mqueue && mount -t mqueue none /dev/mqueue): "
              "without it every student's POSIX queues would be recorded as none")
        return 2
    notebooks = pick_notebooks(args.notebooks)
    work = Path(tempfile.mkdtemp(prefix="ipclab-class-", dir=hd.WORK_BASE))
    os.chmod(work, 0o755)
    tag = secrets.token_hex(2)
    users = [f"ipc{tag}s{i:02d}" for i in range(args.users)]
    report = {"users": args.users, "notebooks": notebooks, "cpus": os.cpu_count(), "commit": commit(),
              "date": time.strftime("%Y-%m-%d %H:%M:%S")}
    try:
        hd.add_unix_users(users)
        uids = [hd_uid(u) for u in users]
        course = course_copy(work / "course")
        import psutil
        vm = psutil.virtual_memory()
        report["machine_used_before_hub"] = vm.total - vm.available
        report["machine_total"] = vm.total
        with hd.Hub(work / "run", course_source=course) as hub:
            hub.add_users(users)
            t0 = time.monotonic()
            spawn = {}
            for u in users:
                hub.start_server(u)
            for u in users:
                hub.wait_ready(u, timeout=300)
                spawn[u] = time.monotonic() - t0
            report["spawn_seconds"] = percentiles(list(spawn.values()))
            print(f"{len(users)} servers ready in {max(spawn.values()):.1f}s", flush=True)
            results, per_nb = {}, {}
            with MemorySampler(hub, users) as mem, capacity.PeakRecorder(uids) as rec:
                idle = mem.once()

                def on_nb(nb, rec=rec):  # only meaningful with one user: per-notebook peaks
                    if args.users == 1:
                        per_nb[nb] = rec.peak
                        rec.reset(together=False)
                threads = [threading.Thread(target=run_user, args=(hub, u, notebooks, args.cell_timeout,
                                                                   results, rec, on_nb)) for u in users]
                t1 = time.monotonic()
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                report["run_seconds"] = time.monotonic() - t1
                per_student = rec.peak if args.users > 1 else Demand_max(per_nb.values())
                together = rec.together
                if rec.errors:
                    raise SystemExit(f"the object sampler failed {len(rec.errors)} time(s): {rec.errors[0]}")
            report["memory_idle_servers"] = idle
            report["memory_peak"] = mem.peak
            report["peak_per_student"] = asdict(per_student)
            report["peak_class_at_once"] = asdict(together)
            report["load_average"] = os.getloadavg()
            fill(report, results, uids)
            if args.record:
                record(per_student, per_nb, notebooks, sorted({f["notebook"] for f in report["failures"]}))
    finally:
        hd.remove_unix_users(users)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"work folder kept: {work}")
    print_report(report)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=str))
    return 0 if not report["failures"] else 1


def Demand_max(demands):
    out = capacity.Demand()
    for d in demands:
        out = out.peak(d)
    return out


def fill(report, results, uids):
    lat, by_cell, failures = [], {}, []
    for user, nbs in results.items():
        for nb in nbs:
            for index, secs, status in nb["cells"]:
                if status == "ok":
                    lat.append(secs)
                    by_cell.setdefault((nb["notebook"], index), []).append(secs)
            if nb["status"] != "ok":
                failures.append({"user": user, "notebook": nb["notebook"], "error": nb["error"], "at": nb["at"]})
    report["cell_latency"] = percentiles(lat)
    slow = [s / min(v) for v in by_cell.values() if min(v) > 0.05 for s in v]
    report["cell_slowdown_vs_fastest"] = percentiles(slow)
    report["notebook_seconds"] = {nb: percentiles([x["seconds"] for u in results.values() for x in u
                                                   if x["notebook"] == nb]) for nb in report["notebooks"]}
    report["failures"] = sorted(failures, key=lambda f: f["at"])
    n = report["users"]
    lim = capacity.limits()
    peak = capacity.Demand(**report["peak_class_at_once"])
    rows = capacity.plan(n, {"peak": capacity.Demand(**report["peak_per_student"])}, lim,
                         in_use=capacity.Demand())
    report["limits"] = [r.as_dict() for r in rows]
    report["class_at_once_vs_limits"] = {
        "sem_sets/SEMMNI": (peak.sem_sets, lim["semmni"]), "sems/SEMMNS": (peak.sems, lim["semmns"]),
        "msg_queues/MSGMNI": (peak.msg_queues, lim["msgmni"]), "posix_mqs/queues_max": (peak.posix_mqs, lim["queues_max"]),
        "devshm_bytes//dev/shm": (peak.devshm_bytes, lim["devshm_size"]), "tasks/pid_max": (peak.tasks, lim["pid_max"])}
    ratios = {k: a / b for k, (a, b) in report["class_at_once_vs_limits"].items() if b}
    closest = max(ratios, key=ratios.get) if ratios else None
    if failures:
        f = failures[0]
        first = f"a cell failed first: {f['user']} {f['notebook']} {f['error']}"
    else:
        first = "nothing failed"
    report["what_breaks_first"] = (f"{first}; limit closest to its end at this size: {closest} at "
                                   f"{ratios.get(closest, 0):.1%}" if closest else first)


def record(per_student, per_nb, notebooks, incomplete):
    """Store the per-student peak; notebooks that failed part-way are listed (their peak is a floor)."""
    path = capacity.RECORD
    path.parent.mkdir(parents=True, exist_ok=True)
    rec = capacity.new_record(per_student, per_nb, commit(), users=1,
                              note=f"bench/classroom.py --users 1 --record over {', '.join(notebooks)}")
    rec["incomplete"] = incomplete
    path.write_text(json.dumps(rec, indent=2) + "\n")
    print(f"recorded the per-student peak in {path.relative_to(ROOT)}")


def print_report(r):
    mib = lambda b: f"{b / 2**20:.0f} MiB"  # noqa: E731
    print(f"\nclass of {r['users']} on {r['cpus']} CPUs, notebooks {', '.join(r['notebooks'])}, commit {r['commit'][:10]}")
    if "spawn_seconds" in r:
        s = r["spawn_seconds"]
        print(f"servers ready: p50 {s['p50']:.1f}s, last {s['max']:.1f}s after the first request")
    if "cell_latency" in r:
        c = r["cell_latency"]
        if c:
            print(f"cell latency (s): p50 {c['p50']:.3f}  p90 {c['p90']:.3f}  p99 {c['p99']:.3f}  max {c['max']:.3f}  (n={c['n']})")
        s = r.get("cell_slowdown_vs_fastest") or {}
        if s:
            print(f"slowdown of a cell vs its fastest run (cells > 50 ms): p50 x{s['p50']:.2f}  p90 x{s['p90']:.2f}  max x{s['max']:.2f}")
        for nb, p in r["notebook_seconds"].items():
            if p:
                print(f"  {nb}: p50 {p['p50']:.1f}s  max {p['max']:.1f}s")
        print(f"run took {r['run_seconds']:.0f}s; load average {', '.join(f'{x:.1f}' for x in r['load_average'])}")
        m, i = r["memory_peak"], r["memory_idle_servers"]
        print(f"memory at peak (PSS): hub {mib(m['hub'])}, proxy {mib(m['proxy'])}, servers {mib(m['servers'])} "
              f"(idle {mib(i['servers'])}), kernels+workers {mib(m['kernels_and_workers'])}, "
              f"largest user {mib(m['per_user_max'])}, all {mib(m['total'])}")
        print(f"machine memory in use: {mib(r['machine_used_before_hub'])} before the hub, "
              f"{mib(m['machine_used'])} at peak, of {mib(r['machine_total'])}")
        print(f"peak per student: {r['peak_per_student']}")
        print(f"peak of the class at once: {r['peak_class_at_once']}")
        for k, (a, b) in r["class_at_once_vs_limits"].items():
            print(f"  {k}: {a} of {b}")
        print(f"failures: {len(r['failures'])}")
        for f in r["failures"][:10]:
            print(f"  {f['user']} {f['notebook']}: {f['error'][:200]}")
        print(f"what breaks first: {r['what_breaks_first']}")


if __name__ == "__main__":
    sys.exit(main())
