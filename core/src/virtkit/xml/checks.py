"""Checks libvirt makes while parsing a domain: well-formed XML that still makes no sense.

Each check takes the parsed lxml root and raises :class:`~virtkit.errors.XMLError` naming the
element and line. :data:`DOMAIN_CHECKS` is the list :func:`check_domain` runs.
"""

from __future__ import annotations

from collections.abc import Callable

from lxml import etree

from virtkit.xml.bitmap import bitmap_attributes, parse_bitmap
from virtkit.xml.node import fail
from virtkit.xml.search import find_all

#: device elements whose ``type`` attribute selects a character device backend
CHARDEV_TAGS = ("serial", "parallel", "console", "channel")


#: the device tags that hold a character device source, themselves or in a child (``<rng>``)
_CHARDEV_DEVICES = (*CHARDEV_TAGS, "redirdev", "smartcard", "rng")
#: the order :func:`chardev_elements` lists them in, by tag
_CHARDEV_HOLDER_RANK = {
    tag: rank for rank, tag in enumerate((*CHARDEV_TAGS, "redirdev", "smartcard", "backend"))
}


def chardev_elements(root: etree._Element) -> list[etree._Element]:
    """Every element of ``root`` that holds a character device source (with its ``type``):
    the character devices by kind, redirected devices, passthrough smartcards, EGD backends
    of random number generators (one pass over the devices, in C)."""
    found: list[etree._Element] = []
    for devices in root.iterchildren("devices"):
        for dev in devices.iterchildren(*_CHARDEV_DEVICES):
            tag = dev.tag
            if tag == "rng":
                found += (b for b in dev.iterchildren("backend") if b.get("model") == "egd")
            elif tag != "smartcard" or dev.get("mode") == "passthrough":
                found.append(dev)
    found.sort(key=lambda el: _CHARDEV_HOLDER_RANK[el.tag])
    return found


def check_chardev_sources(root: etree._Element) -> None:
    for dev in chardev_elements(root):
        kind = dev.get("type")
        sources = list(dev.iterchildren("source"))
        modes = [s.get("mode", "connect") for s in sources]
        if kind == "tcp":
            if len(sources) > 1:
                raise fail(sources[1], "a tcp character device takes a single <source>")
            for src in sources:
                if not src.get("host"):
                    raise fail(src, "missing source host attribute for char device")
                if not src.get("service"):
                    raise fail(src, "missing source service attribute for char device")
        elif kind == "udp":
            if len(sources) > 2 or len(set(modes)) != len(modes):
                raise fail(
                    sources[-1], "a udp character device takes one connect and one bind <source>"
                )
            connect = [s for s, m in zip(sources, modes, strict=True) if m == "connect"]
            if not connect or not connect[0].get("service"):
                where_el = connect[0] if connect else dev
                raise fail(where_el, "missing source service attribute for char device")
        elif kind == "unix":
            has_path = any(s.get("path") for s in sources)
            if not has_path and dev.tag != "channel":
                raise fail(
                    sources[0] if sources else dev, "missing source path attribute for char device"
                )
        for src, mode in zip(sources, modes, strict=True):
            if mode not in ("connect", "bind"):
                raise fail(src, f"unknown source mode '{mode}'")
            reconnect = next(src.iterchildren("reconnect"), None)
            if reconnect is None or reconnect.get("enabled") != "yes":
                continue
            if mode != "connect":
                raise fail(reconnect, "reconnect is only supported for mode='connect'")
            if not reconnect.get("timeout"):
                raise fail(reconnect, "missing timeout for chardev with reconnect enabled")


def check_graphics_listens(root: etree._Element) -> None:
    for graphics in find_all(root, "devices/graphics"):
        listens = list(graphics.iterchildren("listen"))
        first = listens[0] if listens else None
        attr = graphics.get("listen")
        for listen in listens:
            if listen.get("type") == "network" and not listen.get("network"):
                raise fail(listen, "listen type 'network' needs a 'network' attribute")
        if attr and first is not None and first.get("type") in ("address", "network"):
            address = first.get("address")
            if address and address != attr:
                raise fail(
                    graphics,
                    f"graphics 'listen' attribute '{attr}' must match 'address' attribute "
                    f"of first listen element (found '{address}')",
                )
        socket = graphics.get("socket")
        listen_socket = first.get("socket") if first is not None else None
        is_socket = first is not None and first.get("type") == "socket"
        if socket and is_socket and listen_socket and listen_socket != socket:
            raise fail(
                graphics,
                f"graphics 'socket' attribute '{socket}' must match 'socket' attribute "
                f"of first listen element (found '{listen_socket}')",
            )


def check_numbers(root: etree._Element) -> None:
    """CPU and node sets are valid and not empty; counts are numbers."""
    for el, name in bitmap_attributes(root):
        value = el.get(name, "")
        try:
            if not parse_bitmap(value):
                raise ValueError("empty set")
        except ValueError as exc:
            raise fail(el, f"invalid value of '{name}': '{value}' ({exc})") from None
    for el in find_all(root, "iothreads | cpu/numa/cell[@memory]"):
        text = el.get("memory") if el.tag == "cell" else el.text
        if text is not None and not text.strip().isdigit():
            raise fail(el, f"expected a number, found '{text.strip()}'")


def _vcpus(el: etree._Element) -> frozenset[int]:
    try:
        return parse_bitmap(el.get("vcpus", ""))
    except ValueError as exc:
        raise fail(el, f"invalid vcpus '{el.get('vcpus')}': {exc}") from None


def check_resctrl(root: etree._Element) -> None:
    """Cache and memory bandwidth allocations: no vCPU in two of them, no duplicate ids."""
    if next(root.iterchildren("cputune"), None) is None:
        return
    cachetunes = [(el, _vcpus(el)) for el in root.iterfind("cputune/cachetune")]
    seen: set[int] = set()
    for el, vcpus in cachetunes:
        if vcpus & seen:
            raise fail(el, "overlapping vcpus in cachetunes")
        seen |= vcpus
        types: dict[tuple[str | None, str | None], list[str | None]] = {}
        for cache in el.iterfind("cache"):
            kinds = types.setdefault((cache.get("id"), cache.get("level")), [])
            kind = cache.get("type")
            if kind in kinds or (kinds and "both" in (*kinds, kind)):
                raise fail(cache, "colliding cache allocations for one cache id and level")
            kinds.append(kind)
        for monitor in el.iterfind("monitor"):
            if not _vcpus(monitor) <= vcpus:
                raise fail(monitor, "monitor vcpus must be a subset of the cachetune's vcpus")
    memory_seen: set[int] = set()
    for el in root.iterfind("cputune/memorytune"):
        vcpus = _vcpus(el)
        if vcpus & memory_seen:
            raise fail(el, "overlapping vcpus in memorytunes")
        memory_seen |= vcpus
        if any(vcpus & other and vcpus != other for _, other in cachetunes):
            raise fail(
                el, "memorytune vcpus must match those of a cachetune exactly or not overlap"
            )
        ids = [node.get("id") for node in el.iterfind("node")]
        if len(ids) != len(set(ids)):
            raise fail(el, "duplicate memory bandwidth allocation for one node")
        for monitor in el.iterfind("monitor"):
            if not _vcpus(monitor) <= vcpus:
                raise fail(monitor, "monitor vcpus must be a subset of the memorytune's vcpus")


DOMAIN_CHECKS: list[Callable[[etree._Element], None]] = [
    check_numbers,
    check_chardev_sources,
    check_graphics_listens,
    check_resctrl,
]


def check_domain(root: etree._Element) -> None:
    """Run every check of :data:`DOMAIN_CHECKS` on a parsed ``<domain>``."""
    for check in DOMAIN_CHECKS:
        check(root)
