"""The ``ipclab`` command: ``doctor``, ``ls``, ``clean``, and the commands other modules add.

Each subcommand lives in the module that does its job; that module offers
``add_arguments(parser)`` and ``main(args) -> exit code``. Modules listed in
:data:`PLUGINS` are imported only when their command runs.
"""

import argparse
import json
import os
import sys

from ipclab.core.errors import IpclabError

__all__ = ["PLUGINS", "build_parser", "main"]

#: subcommand -> (module, one-line help). A module that is not there yet is simply not offered.
PLUGINS = {
    "bench": ("ipclab.bench.runner", "measure throughput and latency between two processes"),
    "grade": ("ipclab.tooling.grading.grading", "grade a lab (or all labs) and print the results table"),
    "release": ("ipclab.tooling.release", "write the student edition of the course to a directory"),
    "notebooks": ("ipclab.tooling.notebooks", "rebuild the executed notebooks from notebooks/py/*.py"),
    "site": ("ipclab.tooling.book", "build the course as a book (Sphinx): pages, search, launch buttons"),
}


def _doctor(args):
    from ipclab.core import doctor
    if args.class_size is not None:  # does this machine hold a class? (exit 1 if not)
        rows, text = doctor.class_report(args.class_size)
        print(json.dumps([r.as_dict() for r in rows], indent=2) if args.json else text)
        return 0 if all(r.ok for r in rows) else 1
    items = doctor.checks()
    if args.json:
        print(json.dumps([c.__dict__ for c in items], indent=2, default=str))
    else:
        print(doctor.format_report(items))
    return 0


def _ls(args):
    from ipclab.core import inventory
    rows = inventory.list_objects(mine_only=not args.all)
    if args.ours:
        rows = [r for r in rows if r["ours"]]
    print(json.dumps(rows, indent=2) if args.json else inventory.format_rows(rows))
    return 0


def _clean(args):
    from ipclab.core import inventory, registry
    removed = registry.sweep_dead_runs()
    if args.live:  # also live runs of this user (e.g. a stuck kernel), never other users'
        for run in registry.runs():
            if run.id != os.environ.get(registry.ENV_RUN):
                removed += registry.remove_run(run)
    known = {r.id for r in registry.runs()}
    # course-named objects whose run has no record here (another state dir, a lost record):
    # their owner may be alive, so only --live removes them
    unknown = [r for r in inventory.course_objects() if r["run"] not in known]
    if args.live:
        removed += inventory.remove_rows(unknown)
    for e in removed:
        print(f"removed {e['kind']} {e.get('name') or e.get('path') or e.get('id')}")
    kept = inventory.course_objects()
    print(f"{len(removed)} object(s) removed; {len(kept)} course object(s) kept"
          + (" (of live or unrecorded runs: `ipclab ls --ours` shows them, --live removes them)" if kept else ""))
    return 0


def _plugin(name, module):
    """Import a plugin's module; a missing dependency is said plainly, never hidden as 'invalid choice'."""
    import importlib
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise SystemExit(f"ipclab {name}: cannot import {module}: {e}. "
                         "Install the course with its dependencies (./course lab, or pip install -e .).") from e


def build_parser(command=None):
    parser = argparse.ArgumentParser(prog="ipclab", description="Helpers for the ipclab IPC course.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = sub.add_parser("doctor", help="what this machine supports, its limits, and advice")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--class", dest="class_size", type=int, metavar="N",
                   help="do the kernel limits hold N students running the course at once?")
    p.set_defaults(func=_doctor)
    p = sub.add_parser("ls", help="list the IPC objects that exist now (yours by default)")
    p.add_argument("--all", action="store_true", help="every user's objects, not just yours")
    p.add_argument("--ours", action="store_true", help="only objects the course created")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_ls)
    p = sub.add_parser("clean", help="remove what the course left behind (yours only)")
    p.add_argument("--live", action="store_true",
                   help="also your runs that are still alive (a stuck kernel: stop it first)")
    p.add_argument("--all", dest="live", action="store_true", help=argparse.SUPPRESS)  # the old name
    p.set_defaults(func=_clean)
    for name, (module, help_) in PLUGINS.items():
        p = sub.add_parser(name, help=help_)
        if name == command:  # only the command that runs is imported (and may fail loudly)
            mod = _plugin(name, module)
            mod.add_arguments(p)
            p.set_defaults(func=mod.main)
    return parser


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(command)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args) or 0
    except IpclabError as e:
        print(f"ipclab {args.command}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
