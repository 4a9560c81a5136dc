"""Canonical steps for ``<devices>``: implicit controllers and inputs, addresses, character
device sources, graphics listens, video, and libvirt's device order."""

from __future__ import annotations

import re

from lxml import etree

from virtkit.xml.canonical.context import Context
from virtkit.xml.canonical.order import DEVICES_ORDER, insert_child, set_attrs_first, sort_children
from virtkit.xml.checks import chardev_elements

#: disk bus -> (controller type, units per bus, buses per controller)
_DRIVE_BUSES = {"ide": ("ide", 2, 2), "fdc": ("fdc", 2, 1), "scsi": ("scsi", 7, 1), "sata": ("sata", 6, 1)}


def _devices(root: etree._Element) -> etree._Element | None:
    return root.find("devices")


def _disk_index(dev: str) -> int | None:
    """``hda`` -> 0, ``sdb`` -> 1, ``sdaa`` -> 26 (libvirt's virDiskNameToIndex)."""
    match = re.fullmatch(r"(?:fd|hd|sd|vd|xvd|ubd)([a-z]+)\d*", dev)
    if not match:
        return None
    index = 0
    for ch in match.group(1):
        index = index * 26 + (ord(ch) - ord("a") + 1)
    return index - 1


def assign_drive_addresses(root: etree._Element, ctx: Context) -> None:
    """Disks on IDE, floppy, SCSI and SATA buses get a drive address from their target name."""
    devices = _devices(root)
    if devices is None:
        return
    for disk in devices.iterfind("disk"):
        target = disk.find("target")
        if target is None or disk.find("address") is not None:
            continue
        bus = target.get("bus")
        index = _disk_index(target.get("dev", ""))
        if bus not in _DRIVE_BUSES or index is None:
            continue
        _, units, buses = _DRIVE_BUSES[bus]
        per_controller = units * buses
        etree.SubElement(
            disk,
            "address",
            {
                "type": "drive",
                "controller": str(index // per_controller),
                "bus": str((index % per_controller) // units),
                "target": "0",
                "unit": str(index % units),
            },
        )


def _add_controller(devices: etree._Element, kind: str, index: int) -> None:
    """Append a controller after the existing ones, as libvirt inserts implicit controllers."""
    insert_child(devices, "controller", DEVICES_ORDER, {"type": kind, "index": str(index)})


def _needs(devices: etree._Element, kind: str, index: int) -> bool:
    return not any(
        c.get("type") == kind and int(c.get("index", "0")) == index for c in devices.iterfind("controller")
    )


def implicit_controllers(root: etree._Element, ctx: Context) -> None:
    """The controllers devices need but the input left out (libvirt adds them while parsing)."""
    devices = _devices(root)
    if devices is None:
        return
    for disk in devices.iterfind("disk"):
        address = disk.find("address[@type='drive']")
        bus = disk.find("target")
        if address is None or bus is None or bus.get("bus") not in _DRIVE_BUSES:
            continue
        kind = _DRIVE_BUSES[bus.get("bus", "")][0]
        for index in range(int(address.get("controller", "0")) + 1):
            if _needs(devices, kind, index):
                _add_controller(devices, kind, index)
    virtio_serial = devices.find("channel/target[@type='virtio']") is not None or (
        devices.find("console/target[@type='virtio']") is not None
    )
    if virtio_serial and _needs(devices, "virtio-serial", 0):
        _add_controller(devices, "virtio-serial", 0)
    if devices.find("smartcard") is not None and _needs(devices, "ccid", 0):
        _add_controller(devices, "ccid", 0)


def controller_indexes(root: etree._Element, ctx: Context) -> None:
    """A controller without ``index`` takes the lowest free index of its type."""
    devices = _devices(root)
    if devices is None:
        return
    used: dict[str | None, set[int]] = {}
    for ctrl in devices.iterfind("controller"):
        if ctrl.get("index") is not None:
            used.setdefault(ctrl.get("type"), set()).add(int(ctrl.get("index", "0")))
    for ctrl in devices.iterfind("controller"):
        if ctrl.get("index") is None:
            taken = used.setdefault(ctrl.get("type"), set())
            index = next(i for i in range(len(taken) + 1) if i not in taken)
            taken.add(index)
            set_attrs_first(ctrl, {"type": ctrl.get("type", ""), "index": str(index)})


def smartcard_addresses(root: etree._Element, ctx: Context) -> None:
    """Each smartcard gets a CCID slot on controller 0."""
    devices = _devices(root)
    if devices is None:
        return
    slot = 0
    for card in devices.iterfind("smartcard"):
        if card.find("address") is None:
            etree.SubElement(card, "address", {"type": "ccid", "controller": "0", "slot": str(slot)})
        slot += 1


def chardev_sources(root: etree._Element, ctx: Context) -> None:
    """Sources carry their mode (connect by default); UDP lists bind before connect; TCP states
    its protocol; a UNIX source without a path says nothing and is dropped."""
    for dev in chardev_elements(root):
        kind = dev.get("type")
        sources = dev.findall("source")
        if kind in ("tcp", "udp", "unix"):
            for src in sources:
                set_attrs_first(src, {"mode": src.get("mode", "connect")})
        if kind == "unix":
            for src in sources:
                if not src.get("path") and len(src) == 0:
                    dev.remove(src)
        if kind == "udp" and len(sources) == 2 and sources[0].get("mode") == "connect":
            sources[0].addprevious(sources[1])
        if kind == "tcp" and dev.find("protocol") is None and sources:
            protocol = etree.Element("protocol", {"type": "raw"})
            dev.findall("source")[-1].addnext(protocol)


def graphics_listens(root: etree._Element, ctx: Context) -> None:
    """VNC and SPICE consoles: ports, ``autoport`` and ``<listen>`` as libvirt fills them in."""
    devices = _devices(root)
    if devices is None:
        return
    for graphics in devices.iterfind("graphics"):
        kind = graphics.get("type")
        if kind not in ("vnc", "spice", "rdp"):
            continue
        listens = graphics.findall("listen")
        socket = graphics.get("socket") if kind == "vnc" else None
        if socket:
            if listens:
                graphics.remove(listens[0])
            listen = etree.Element("listen", {"type": "socket", "socket": socket})
            graphics.insert(0, listen)
            listens = graphics.findall("listen")
        elif not listens:
            attrib = {"type": "address"}
            if graphics.get("listen"):
                attrib["address"] = graphics.get("listen", "")
            graphics.insert(0, etree.Element("listen", attrib))
            listens = graphics.findall("listen")
        first = listens[0]
        address = first.get("address") if first.get("type") == "address" else None
        if not socket:
            _ports(graphics, ctx)
        order = {"type": kind}
        if socket:
            order["socket"] = socket
        for name in ("port", "tlsPort", "autoport", "websocket"):
            if graphics.get(name) is not None:
                order[name] = graphics.get(name, "")
        if address:
            order["listen"] = address
        elif "listen" in graphics.attrib:
            del graphics.attrib["listen"]
        set_attrs_first(graphics, order)


def _ports(graphics: etree._Element, ctx: Context) -> None:
    port = graphics.get("port")
    autoport = graphics.get("autoport") == "yes" or port is None or port == "-1"
    if graphics.get("type") == "spice" and port is None and graphics.get("tlsPort") is not None:
        autoport = graphics.get("autoport") == "yes"
    if autoport:
        graphics.set("autoport", "yes")
        if ctx.inactive:
            graphics.attrib.pop("port", None)
        else:
            graphics.set("port", "-1")
            if graphics.get("tlsPort") is not None:
                graphics.set("tlsPort", "-1")


def graphics_inputs(root: etree._Element, ctx: Context) -> None:
    """An x86 guest with a graphical console gets a PS/2 (Xen: Xen bus) mouse and keyboard."""
    devices = _devices(root)
    os_type = root.find("os/type")
    arch = os_type.get("arch") if os_type is not None else None
    if devices is None or devices.find("graphics") is None:
        return
    if arch not in (None, "i686", "x86_64"):
        return
    hvm = os_type is not None and (os_type.text or "").strip() == "hvm"
    bus = "ps2" if hvm else "xen"
    for kind in ("mouse", "keyboard"):
        if devices.find(f"input[@type='{kind}'][@bus='{bus}']") is None:
            insert_child(devices, "input", DEVICES_ORDER, {"type": kind, "bus": bus})


def primary_video(root: etree._Element, ctx: Context) -> None:
    """The first video device is the primary one."""
    model = root.find("devices/video/model")
    if model is not None and model.get("type") != "none" and model.get("primary") is None:
        model.set("primary", "yes")


def order_devices(root: etree._Element, ctx: Context) -> None:
    """Devices in libvirt's order (by kind; same kinds keep their order)."""
    devices = _devices(root)
    if devices is not None:
        sort_children(devices, DEVICES_ORDER)
