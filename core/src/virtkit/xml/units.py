"""libvirt's scaled integers: ``<memory unit='MiB'>`` and friends, normalised to KiB."""

from __future__ import annotations

_POWERS = {"": 1, "k": 1, "m": 2, "g": 3, "t": 4, "p": 5, "e": 6}


def bytes_per_unit(unit: str | None, default: str = "KiB") -> int:
    """Bytes in one ``unit``: ``b``/``bytes``, ``K``/``KiB`` (1024), ``KB`` (1000), ...

    Raises :class:`ValueError` for an unknown unit.
    """
    unit = (unit or default).strip()
    lowered = unit.lower()
    if lowered in ("b", "bytes"):
        return 1
    if lowered[:1] not in _POWERS or not lowered:
        raise ValueError(f"unknown unit '{unit}'")
    power = _POWERS[lowered[0]]
    suffix = lowered[1:]
    if suffix in ("", "ib"):
        return int(1024**power)
    if suffix == "b":
        return int(1000**power)
    raise ValueError(f"unknown unit '{unit}'")


def to_kib(value: int, unit: str | None, default: str = "KiB") -> int:
    """``value`` ``unit`` in KiB, rounded up as libvirt does."""
    total = value * bytes_per_unit(unit, default)
    return -(-total // 1024)
