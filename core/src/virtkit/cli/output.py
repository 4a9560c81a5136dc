"""Text layouts shared by the commands, drawn the way virsh draws them.

Kept free of heavy imports: the ``list`` command's cold start depends on it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

STATE_NAMES = (
    "no state",
    "running",
    "idle",
    "paused",
    "in shutdown",
    "shut off",
    "crashed",
    "pmsuspended",
)
"""virsh's word for each :class:`virtkit.constants.DomainState` value, by number."""

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


def state_name(state: int) -> str:
    return STATE_NAMES[state] if 0 <= state < len(STATE_NAMES) else "no state"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """virsh's table: one leading space, columns three spaces apart, the last one unpadded,
    a dashed rule under the header, and a blank line after the last row."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(cells: Sequence[str]) -> str:
        padded = [c.ljust(w) for c, w in zip(cells[:-1], widths, strict=False)]
        return " " + "   ".join([*padded, cells[-1]])

    rule = "-" * (1 + sum(widths) + 3 * (len(widths) - 1) + 2)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)]) + "\n\n"


def fields(pairs: Sequence[tuple[str, str]], width: int) -> str:
    """``Label:`` padded to ``width`` then the value, one pair a line (virsh's ``%-15s %s``)."""
    return "".join(f"{label:<{width}} {value}\n" for label, value in pairs)


def tree(roots: Sequence[str], children: Callable[[str], Sequence[str]]) -> str:
    """virsh's ASCII tree (``snapshot-list --tree``): each name under its parent after a
    ``|`` line, ``+- `` before every child, and an indented empty line closing each branch."""
    out: list[str] = []

    def walk(name: str, indent: str, is_root: bool, is_last: bool) -> None:
        out.append(f"{indent}{'' if is_root else '+- '}{name}")
        if not is_root:
            indent += (" " if is_last else "|") + " "
        kids = children(name)
        if kids:
            out.append(f"{indent}  |")
        for i, kid in enumerate(kids):
            walk(kid, indent + "  ", False, i == len(kids) - 1)
        if not kids and is_last:
            out.append(indent)

    for root in roots:
        walk(root, "", True, True)
    return "\n".join(out) + "\n\n"


def capacity(value: int) -> str:
    """Bytes scaled to the largest binary unit under 1024, three decimals (``1.500 MiB``)."""
    amount = float(value)
    unit = 0
    while amount >= 1024 and unit < len(_UNITS) - 1:
        amount /= 1024
        unit += 1
    return f"{amount:.3f} {_UNITS[unit]}"
