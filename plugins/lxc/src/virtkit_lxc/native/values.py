"""Numbers in LXC settings: plain integers and sizes with a unit suffix, as libvirt reads them."""

from __future__ import annotations

import re

from virtkit.xml.units import bytes_per_unit

from virtkit_lxc.native.reader import Entry

_SIZE = re.compile(r"(?P<number>\d+)(?P<unit>\D*)")


def integer(entry: Entry, text: str | None = None, *, signed: bool = False) -> int:
    """``text`` (default: the entry's value) as a decimal integer; negative only if ``signed``."""
    value = entry.value if text is None else text
    pattern = r"-?\d+" if signed else r"\d+"
    if not re.fullmatch(pattern, value):
        kind = "an integer" if signed else "a non-negative integer"
        raise entry.invalid(f"expected {kind}, got {value!r}")
    return int(value)


def size_bytes(entry: Entry, text: str) -> int:
    """A size such as ``1073741824``, ``512M`` or ``2GiB`` in bytes (no suffix: bytes;
    ``K``/``KiB`` 1024, ``KB`` 1000, ...). A relative size (``50%``) cannot be converted."""
    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise entry.invalid(f"failed to convert size {text!r}")
    number, unit = int(match["number"]), match["unit"]
    if unit == "%":
        raise entry.invalid(f"cannot convert the relative size {text!r}")
    if not unit:
        return number
    try:
        return number * bytes_per_unit(unit)
    except ValueError as exc:
        raise entry.invalid(f"failed to convert size {text!r}: {exc}") from None
