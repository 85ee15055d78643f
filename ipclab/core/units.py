"""Sizes in bytes, written and read the one way the course prints them (``64 KiB``, ``8K``)."""

from ipclab.core.errors import BadArgument

__all__ = ["human", "parse_size"]


def human(n):
    """64 -> '64 B', 65536 -> '64 KiB', 1048576 -> '1 MiB' (exact binary units only; else bytes)."""
    for unit, k in (("MiB", 20), ("KiB", 10)):
        if n >= 1 << k and n % (1 << k) == 0:
            return f"{n >> k} {unit}"
    return f"{n} B"


def parse_size(text):
    """'64', '8K', '64KiB', '1M' -> bytes; BadArgument saying how to write one otherwise."""
    t = text.strip().upper().replace("IB", "").replace("B", "")
    mult = {"K": 1 << 10, "M": 1 << 20}.get(t[-1:], 1)
    try:
        return int(t.rstrip("KM")) * mult
    except ValueError:
        raise BadArgument(f"size {text!r}: write e.g. 64, 8K or 1M") from None
