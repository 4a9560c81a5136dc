"""Canonical steps for ``<cputune>``: per-vCPU scheduler entries and resource allocations
limited to the vCPUs that exist."""

from __future__ import annotations

from lxml import etree

from virtkit.xml.bitmap import format_bitmap, parse_bitmap
from virtkit.xml.canonical.census import acts_on, creates
from virtkit.xml.canonical.context import Context
from virtkit.xml.canonical.order import CPUTUNE_ORDER, first_child, sort_children
from virtkit.xml.units import bytes_per_unit


def _max_vcpus(root: etree._Element) -> int:
    vcpu = first_child(root, "vcpu")
    return int((vcpu.text or "1").strip()) if vcpu is not None else 1


@acts_on("cputune")
@creates()
def expand_scheduler(root: etree._Element, ctx: Context) -> None:
    """``<vcpusched vcpus='0-1'>`` becomes one entry per vCPU (likewise ``iothreadsched``),
    sorted by id, as libvirt stores a scheduler per thread."""
    cputune = first_child(root, "cputune")
    if cputune is None:
        return
    for tag, attr in (("vcpusched", "vcpus"), ("iothreadsched", "iothreads")):
        entries = cputune.findall(tag)
        if not entries:
            continue
        expanded: dict[int, etree._Element] = {}
        for entry in entries:
            for number in parse_bitmap(entry.get(attr, "")):
                copy = etree.Element(tag, {attr: str(number)})
                copy.attrib.update({k: v for k, v in entry.attrib.items() if k != attr})
                expanded[number] = copy
        anchor = entries[0]
        for number in sorted(expanded):
            anchor.addprevious(expanded[number])
        for entry in entries:
            cputune.remove(entry)


def _pretty_size(size: int) -> tuple[int, str]:
    """The largest binary unit that expresses ``size`` bytes exactly."""
    unit = "B"
    for name in ("KiB", "MiB", "GiB", "TiB"):
        if size % 1024:
            break
        size //= 1024
        unit = name
    return size, unit


@acts_on("cputune")
@creates()
def limit_resctrl(root: etree._Element, ctx: Context) -> None:
    """Cache and memory-bandwidth allocations keep only vCPUs the domain has (an allocation
    left with none is dropped); allocations come before monitors; cache sizes in the largest
    exact unit."""
    cputune = first_child(root, "cputune")
    if cputune is None:
        return
    existing = set(range(_max_vcpus(root)))
    for tag, first in (("cachetune", "cache"), ("memorytune", "node")):
        for tune in cputune.findall(tag):
            vcpus = parse_bitmap(tune.get("vcpus", "")) & existing
            if not vcpus:
                cputune.remove(tune)
                continue
            tune.set("vcpus", format_bitmap(vcpus))
            sort_children(tune, (first, "monitor"))
            for cache in tune.iterchildren("cache"):
                size = int(cache.get("size", "0")) * bytes_per_unit(cache.get("unit"), "B")
                value, unit = _pretty_size(size)
                cache.set("size", str(value))
                cache.set("unit", unit)


@acts_on("cputune")
@creates()
def order_cputune(root: etree._Element, ctx: Context) -> None:
    cputune = first_child(root, "cputune")
    if cputune is not None:
        sort_children(cputune, CPUTUNE_ORDER)
