"""libvirt's CPU-set syntax: ``0-3,^2,8`` <-> sets of integers; where a domain holds them."""

from __future__ import annotations

from collections.abc import Iterator

from lxml import etree

from virtkit.xml.search import find_all, has_element

#: (element path under <domain>, attribute) of the CPU and node sets in a definition
BITMAP_ATTRIBUTES = (
    ("vcpu", "cpuset"),
    ("cputune/vcpupin", "cpuset"),
    ("cputune/emulatorpin", "cpuset"),
    ("cputune/iothreadpin", "cpuset"),
    ("cputune/vcpusched", "vcpus"),
    ("cputune/iothreadsched", "iothreads"),
    ("numatune/memory", "nodeset"),
    ("numatune/memnode", "nodeset"),
    ("cpu/numa/cell", "cpus"),
)
_WITH_BITMAP = " | ".join(f"{path}[@{name}]" for path, name in BITMAP_ATTRIBUTES)
_BITMAP_ATTRIBUTE_BY_TAG = {path.rpartition("/")[2]: name for path, name in BITMAP_ATTRIBUTES}


def bitmap_attributes(root: etree._Element) -> Iterator[tuple[etree._Element, str]]:
    """Each element of ``<domain>`` ``root`` that has one of :data:`BITMAP_ATTRIBUTES`, with
    that attribute's name, in document order (one search, however many paths there are)."""
    vcpu = next(root.iterchildren("vcpu"), None)
    if not has_element(root, "cputune", "numatune", "numa") and (
        vcpu is None or vcpu.get("cpuset") is None
    ):
        return  # none of the paths can match: the search would cost more than this
    for el in find_all(root, _WITH_BITMAP):
        yield el, _BITMAP_ATTRIBUTE_BY_TAG[el.tag]


def parse_bitmap(text: str) -> frozenset[int]:
    """The numbers in ``text``; raises :class:`ValueError` on bad syntax."""
    chosen: set[int] = set()
    for part in text.replace(" ", "").split(","):
        if not part:
            raise ValueError(f"empty item in '{text}'")
        negate = part.startswith("^")
        first, _, last = part.lstrip("^").partition("-")
        low, high = int(first), int(last or first)
        if low < 0 or high < low:
            raise ValueError(f"bad range '{part}' in '{text}'")
        span = set(range(low, high + 1))
        if negate:
            chosen -= span
        else:
            chosen |= span
    return frozenset(chosen)


def format_bitmap(numbers: frozenset[int] | set[int]) -> str:
    """``{0, 1, 2, 5}`` -> ``'0-2,5'``."""
    parts = []
    ordered = sorted(numbers)
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(parts)
