"""Rank IPC mechanisms only as far as the measurement separates them.

Why: a ranking from one short run per mechanism changes from build to build; two
mechanisms whose measured ranges overlap have not been ordered by the measurement, and
printing "rank 3" and "rank 4" for them is a claim the data does not support. Here a
mechanism starts a new rank only when its *fastest* timed phase is slower than the
*slowest* timed phase of every mechanism ranked above it; otherwise it shares their rank.

Input: the throughput records of :func:`ipclab.bench.runner.run` (fields ``mechanism``,
``size``, ``gbps`` (median of the phases), ``gbps_min``, ``gbps_max``, ``repeats``).

Defined in :mod:`ipclab.experiments.ranking`; taught in ``notebooks/00_overview.ipynb``.
"""

__all__ = ["separated", "rank_label"]


def separated(records, size):
    """Rows for *size*, fastest median first, each with ``rank`` (first of its tie group) and ``tied``.

    A row is ``{mechanism, gbps, gbps_min, gbps_max, repeats, rank, group, tied}``; ``group``
    numbers the tie groups 1, 2, ...; ``tied`` is the number of mechanisms in its group.
    """
    rows = sorted(({k: r[k] for k in ("mechanism", "gbps", "gbps_min", "gbps_max")} | {"repeats": r.get("repeats", 1)}
                   for r in records
                   if r.get("kind") == "throughput" and not r.get("skipped") and r["size"] == size),
                  key=lambda r: -r["gbps"])
    group, floor = 0, None          # floor: the slowest phase of every mechanism above
    for position, row in enumerate(rows, 1):
        if floor is None or row["gbps_max"] < floor:
            group += 1
            row["rank"] = position
        else:
            row["rank"] = rows[position - 2]["rank"]
        row["group"] = group
        floor = row["gbps_min"] if floor is None else min(floor, row["gbps_min"])
    for row in rows:
        row["tied"] = sum(r["group"] == row["group"] for r in rows)
    return rows


def rank_label(row):
    """``"3"`` for a mechanism alone in its rank, ``"3-5"`` for one of three tied ones."""
    return str(row["rank"]) if row["tied"] == 1 else f"{row['rank']}-{row['rank'] + row['tied'] - 1}"
