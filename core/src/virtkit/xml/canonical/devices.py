"""Canonical steps for ``<devices>``: implicit controllers and inputs, addresses, character
device sources, graphics listens, video, and libvirt's device order."""

from __future__ import annotations

import itertools
import re
import secrets
from collections.abc import Sequence

from lxml import etree

from virtkit.xml.canonical.census import acts_on, creates
from virtkit.xml.canonical.context import Context
from virtkit.xml.canonical.order import (
    BACKING_STORE_ORDER,
    CHARDEV_ORDER,
    DEVICES_ORDER,
    DISK_ORDER,
    HOSTDEV_INTERFACE_ORDER,
    INTERFACE_ORDER,
    MEMBALLOON_ORDER,
    VDAGENT_SOURCE_ORDER,
    device_children,
    first_child,
    first_child_with,
    insert_child,
    set_attrs_first,
    sort_children,
)
from virtkit.xml.checks import chardev_elements
from virtkit.xml.search import find_all, find_first
from virtkit.xml.units import to_kib

#: disk bus -> (controller type, units per bus, buses per controller)
_DRIVE_BUSES = {
    "ide": ("ide", 2, 2),
    "fdc": ("fdc", 2, 1),
    "scsi": ("scsi", 7, 1),
    "sata": ("sata", 6, 1),
}


#: a file or folder mode libvirt accepts (at most 0777)
_OCTAL_MODE = re.compile(r"0*[0-7]{1,3}")

_DISK_NAME = re.compile(r"(?:fd|hd|sd|vd|xvd|ubd)([a-z]+)\d*")


def _disk_index(dev: str) -> int | None:
    """``hda`` -> 0, ``sdb`` -> 1, ``sdaa`` -> 26 (libvirt's virDiskNameToIndex)."""
    match = _DISK_NAME.fullmatch(dev)
    if not match:
        return None
    index = 0
    for ch in match.group(1):
        index = index * 26 + (ord(ch) - ord("a") + 1)
    return index - 1


@acts_on("disk")
@creates()
def order_disks(root: etree._Element, ctx: Context) -> None:
    """Disks on one bus (as written: a missing bus matches only other missing ones) are kept
    in the order of their target names, the way libvirt inserts each disk it parses."""
    devices = first_child(root, "devices")
    disks = list(devices.iterchildren("disk")) if devices is not None else []
    if devices is None or len(disks) < 2:
        return
    placed: list[etree._Element] = []
    for disk in disks:
        at = -1
        for pos in range(len(placed) - 1, -1, -1):
            if _bus(placed[pos]) != _bus(disk):
                continue
            if _target_index(placed[pos]) > _target_index(disk):
                at = pos
            elif at == -1:
                at = pos + 1
        placed.insert(len(placed) if at == -1 else at, disk)
    start = devices.index(disks[0])
    for disk in disks:
        devices.remove(disk)
    for offset, disk in enumerate(placed):
        devices.insert(start + offset, disk)


def _bus(disk: etree._Element) -> str | None:
    target = first_child(disk, "target")
    return target.get("bus") if target is not None else None


def _target_index(disk: etree._Element) -> int:
    target = first_child(disk, "target")
    index = _disk_index(target.get("dev", "")) if target is not None else None
    return -1 if index is None else index


#: target name prefix -> the bus libvirt assumes when ``<target bus>`` is missing
_PREFIX_BUSES = (("hd", "ide"), ("sd", "scsi"), ("vd", "virtio"), ("xvd", "xen"), ("ubd", "uml"))


@acts_on("disk")
@creates()
def disk_defaults(root: etree._Element, ctx: Context) -> None:
    """Disks are ``device='disk'`` unless said otherwise; a target without a bus gets the one
    its name implies (``fd`` floppy, ``hd`` IDE, ``sd`` SCSI, ``vd`` virtio, ``xvd`` Xen);
    the attributes libvirt writes first come first (type and device; a volume's pool and
    volume; the target's dev and bus). An empty CD-ROM or floppy drive (no source) of a
    network or volume type is a file drive."""
    for disk in device_children(root, "disk"):
        kind, device = disk.get("type", "file"), disk.get("device", "disk")
        source = first_child(disk, "source")
        if source is None and kind in ("network", "volume") and device in ("cdrom", "floppy"):
            kind = "file"
        set_attrs_first(disk, {"type": kind, "device": device})
        if source is not None and source.get("pool") is not None:
            set_attrs_first(source, _present(source, ("pool", "volume")))
        target = first_child(disk, "target")
        if target is None:
            continue
        dev = target.get("dev", "")
        bus = target.get("bus") or ("fdc" if disk.get("device") == "floppy" else None)
        bus = bus or next((b for prefix, b in _PREFIX_BUSES if dev.startswith(prefix)), None)
        if bus:
            target.set("bus", bus)
        set_attrs_first(target, _present(target, ("dev", "bus")))


def _present(el: etree._Element, names: Sequence[str]) -> dict[str, str]:
    """Those of the attributes ``names`` that ``el`` has, in that order, with their values."""
    return {name: value for name in names if (value := el.get(name)) is not None}


@acts_on("disk")
@creates("address")
def assign_drive_addresses(root: etree._Element, ctx: Context) -> None:
    """Disks on IDE, floppy, SCSI and SATA buses get a drive address from their target name."""
    devices = first_child(root, "devices")
    if devices is None:
        return
    for disk in devices.iterchildren("disk"):
        target = first_child(disk, "target")
        if target is None:
            continue
        drive_bus = _DRIVE_BUSES.get(target.get("bus", ""))
        if drive_bus is None or first_child(disk, "address") is not None:
            continue
        index = _disk_index(target.get("dev", ""))
        if index is None:
            continue
        _, units, buses = drive_bus
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


#: the units of one SCSI controller a host device is given (libvirt's narrow bus)
_SCSI_UNITS = 7


@acts_on("hostdev")
@creates("address")
def scsi_hostdev_addresses(root: etree._Element, ctx: Context) -> None:
    """A SCSI host device without an address takes the first free unit (of 7) on the first
    SCSI controller that has one, counting the units its SCSI disks and host devices use."""
    devices = first_child(root, "devices")
    if devices is None:
        return
    hostdevs = [h for h in devices.iterchildren("hostdev") if h.get("type") == "scsi"]
    if all(first_child(h, "address") is not None for h in hostdevs):
        return
    used = {
        (int(a.get("controller", "0")), int(a.get("unit", "0")))
        for device in (*devices.iterchildren("disk"), *hostdevs)
        if device.tag == "hostdev" or _bus(device) == "scsi"
        for a in device.iterchildren("address")
        if a.get("type") == "drive" and a.get("bus", "0") == "0" and a.get("target", "0") == "0"
    }
    for hostdev in hostdevs:
        if first_child(hostdev, "address") is not None:
            continue
        controller = 0
        while (unit := _free_unit(used, controller)) is None:
            controller += 1
        used.add((controller, unit))
        etree.SubElement(
            hostdev,
            "address",
            {
                "type": "drive",
                "controller": str(controller),
                "bus": "0",
                "target": "0",
                "unit": str(unit),
            },
        )


def _free_unit(used: set[tuple[int, int]], controller: int) -> int | None:
    return next((u for u in range(_SCSI_UNITS) if (controller, u) not in used), None)


def append_controller(
    devices: etree._Element, kind: str, index: int, model: str | None = None
) -> None:
    """Append a controller after the existing ones, as libvirt inserts implicit controllers."""
    attrib = {"type": kind, "index": str(index)}
    if model is not None:
        attrib["model"] = model
    insert_child(devices, "controller", DEVICES_ORDER, attrib)


def _needs(devices: etree._Element, kind: str, index: int) -> bool:
    return not any(
        c.get("type") == kind and int(c.get("index", "0")) == index
        for c in devices.iterchildren("controller")
    )


@acts_on("disk", "channel", "console", "smartcard", "hostdev")
@creates("controller")
def implicit_controllers(root: etree._Element, ctx: Context) -> None:
    """The controllers devices need but the input left out (libvirt adds them while parsing)."""
    devices = first_child(root, "devices")
    if devices is None:
        return
    drives = []  # (bus, drive address) of the disks that have one
    for disk in devices.iterchildren("disk"):
        address = first_child_with(disk, "address", "type", "drive")
        if address is not None:
            drives.append((_bus(disk), address))
    for bus in ("scsi", "fdc", "ide", "sata"):  # libvirt's order
        highest = -1
        for disk_bus, address in drives:
            if disk_bus == bus:
                highest = max(highest, int(address.get("controller", "0")))
        kind = _DRIVE_BUSES[bus][0]
        for index in range(highest + 1):
            if _needs(devices, kind, index):
                append_controller(devices, kind, index)
    for dev in (*devices.iterchildren("channel"), *devices.iterchildren("console")):
        if first_child_with(dev, "target", "type", "virtio") is None:
            continue
        address = first_child_with(dev, "address", "type", "virtio-serial")
        index = int(address.get("controller", "0")) if address is not None else 0
        if _needs(devices, "virtio-serial", index):
            append_controller(devices, "virtio-serial", index)
    if first_child(devices, "smartcard") is not None and _needs(devices, "ccid", 0):
        append_controller(devices, "ccid", 0)
    _scsi_hostdev_controllers(devices)


def _scsi_hostdev_controllers(devices: etree._Element) -> None:
    """SCSI controllers up to the highest one a SCSI host device names, of the model of the
    last existing controller such a device was found on."""
    highest, model = -1, None
    for hostdev in devices.iterchildren("hostdev"):
        address = first_child_with(hostdev, "address", "type", "drive")
        if hostdev.get("type") != "scsi" or address is None:
            continue
        controller = int(address.get("controller", "0"))
        if controller > highest:
            highest = controller
            existing = next(
                (
                    c.get("model")
                    for c in devices.iterchildren("controller")
                    if c.get("type") == "scsi" and c.get("index") == str(controller)
                ),
                None,
            )
            model = existing or model
    for index in range(highest + 1):
        if _needs(devices, "scsi", index):
            append_controller(devices, "scsi", index, model)


@acts_on("controller")
@creates()
def controller_indexes(root: etree._Element, ctx: Context) -> None:
    """A controller without ``index`` takes the lowest free index of its type; an ICH9 USB2
    controller (EHCI or a UHCI companion) joins the set of the USB controller before it when
    that one is of the family too and its set lacks this model."""
    devices = first_child(root, "devices")
    if devices is None:
        return
    used: dict[str | None, set[int]] = {}
    for ctrl in devices.iterchildren("controller"):
        if ctrl.get("index") is not None:
            used.setdefault(ctrl.get("type"), set()).add(int(ctrl.get("index", "0")))
    usb2_sets: dict[str, set[str]] = {}  # index -> the USB2 models it has
    previous_usb: etree._Element | None = None
    for ctrl in devices.iterchildren("controller"):
        kind, model = ctrl.get("type"), ctrl.get("model") or ""
        if ctrl.get("index") is None:
            if previous_usb is not None and _joins_usb2_set(model, previous_usb, usb2_sets):
                index = int(previous_usb.get("index", "0"))
            else:
                taken = used.setdefault(kind, set())
                index = next(i for i in range(len(taken) + 1) if i not in taken)
                taken.add(index)
            ctrl.set("index", str(index))
        if ctrl.keys()[:3] != _CONTROLLER_FIRST:  # (the common case: already so)
            set_attrs_first(ctrl, _present(ctrl, _CONTROLLER_FIRST))
        if kind == "usb":
            if model in USB2_FAMILY:
                usb2_sets.setdefault(ctrl.get("index", ""), set()).add(model)
            previous_usb = ctrl


@acts_on("controller")
@creates()
def order_controllers(root: etree._Element, ctx: Context) -> None:
    """The controllers written in the definition where libvirt's parser inserts each: among
    those of its type, before the first with a higher index and before the USB companions
    of its own index when it is not one (see :func:`_companion`); one without an index after
    the last of its type. Other controllers keep their order. (The controllers the later
    steps add are appended, as libvirt adds them.)"""
    controllers = [c for d in root.iterchildren("devices") for c in d.iterchildren("controller")]
    if controllers:
        _insertion_order(controllers)


def _insertion_order(controllers: list[etree._Element]) -> None:
    """Reorder ``controllers`` (in document order) as :func:`order_controllers` says."""

    def index(ctrl: etree._Element) -> int:
        text = ctrl.get("index")
        return int(text) if text is not None and text.isdigit() else -1

    placed: list[etree._Element] = []
    for new in controllers:
        at = None
        for pos in range(len(placed) - 1, -1, -1):
            old = placed[pos]
            if old.get("type") != new.get("type"):
                continue
            if new.get("index") is None:
                at = pos + 1
                break
            if index(old) > index(new) or (
                index(old) == index(new) and not _companion(new) and _companion(old)
            ):
                at = pos
            elif at is None:
                at = pos + 1
        placed.insert(len(placed) if at is None else at, new)
    if placed == controllers:
        return
    if placed[0] is not controllers[0]:
        controllers[0].addprevious(placed[0])
    for before, after in itertools.pairwise(placed):
        before.addnext(after)


def _companion(ctrl: etree._Element) -> bool:
    """Whether ``ctrl`` is a USB1 companion of a USB2 controller (libvirt counts the ICH9
    UHCI models as such before it adds their ``<master>``)."""
    return first_child(ctrl, "master") is not None or (ctrl.get("model") or "").startswith(
        "ich9-uhci"
    )


#: the attributes libvirt writes first on a controller
_CONTROLLER_FIRST = ["type", "index", "model"]

#: the ICH9 USB2 controller and its USB1 companions, which share a bus number
USB2_FAMILY = ("ich9-ehci1", "ich9-uhci1", "ich9-uhci2", "ich9-uhci3")


def _joins_usb2_set(model: str, previous: etree._Element, sets: dict[str, set[str]]) -> bool:
    """Whether a USB controller of ``model`` without an index takes ``previous``'s."""
    return (
        model in USB2_FAMILY
        and previous.get("model") in USB2_FAMILY
        and model not in sets.get(previous.get("index", ""), set())
    )


@acts_on("interface")
@creates("mac")
def generate_macs(root: etree._Element, ctx: Context) -> None:
    """An interface without a MAC address gets a random one in QEMU/KVM's 52:54:00 prefix."""
    for interface in device_children(root, "interface"):
        if first_child(interface, "mac") is None:
            tail = ":".join(f"{b:02x}" for b in secrets.token_bytes(3))
            interface.insert(0, etree.Element("mac", {"address": f"52:54:00:{tail}"}))


@acts_on("interface")
@creates()
def interface_virtio_options(root: etree._Element, ctx: Context) -> None:
    """libvirt reads an interface's ``<driver>`` options and vhost backend only for a virtio
    model (or a host device's driver), and a queue count only above 1: the rest is left out."""
    for interface in device_children(root, "interface"):
        if interface.get("type") == "hostdev":
            continue
        model = first_child(interface, "model")
        if model is None or not (model.get("type") or "").startswith("virtio"):
            for driver in list(interface.iterchildren("driver")):
                interface.remove(driver)
            for backend in list(interface.iterchildren("backend")):
                backend.attrib.pop("vhost", None)
                if not backend.attrib and len(backend) == 0:
                    interface.remove(backend)
            continue
        for driver in interface.iterchildren("driver"):
            if driver.get("queues") == "1":
                del driver.attrib["queues"]


@acts_on("coalesce")
@creates()
def interface_coalesce(root: etree._Element, ctx: Context) -> None:
    """An interface's coalescing that sets no received-frames maximum above 0 says nothing,
    and libvirt leaves it out."""
    for interface in device_children(root, "interface"):
        for coalesce in list(interface.iterchildren("coalesce")):
            frames = coalesce.find("rx/frames")
            limit = frames.get("max", "0") if frames is not None else "0"
            if limit.isdigit() and int(limit) == 0:
                interface.remove(coalesce)


@acts_on("hostdev", "watchdog", "rng")
@creates()
def device_defaults(root: etree._Element, ctx: Context) -> None:
    """Host devices are not managed unless said; a watchdog resets the guest; a random number
    generator reads ``/dev/random``."""
    for hostdev in find_all(root, "devices/hostdev[@mode='subsystem']"):
        if hostdev.get("managed") is None:
            hostdev.set("managed", "no")
    for watchdog in device_children(root, "watchdog"):
        if watchdog.get("action") is None:
            watchdog.set("action", "reset")
    for backend in find_all(root, "devices/rng/backend[@model='random']"):
        if not (backend.text or "").strip():
            backend.text = "/dev/random"


@acts_on("input")
@creates()
def input_buses(root: etree._Element, ctx: Context) -> None:
    """A mouse or keyboard without a bus sits on PS/2 in an x86 HVM guest, on the Xen bus in a
    paravirtual one, and on USB elsewhere; tablets are USB."""
    unplaced = [device for device in device_children(root, "input") if device.get("bus") is None]
    if not unplaced:
        return
    os_type = find_first(root, "os/type")
    hvm = os_type is not None and (os_type.text or "").strip() == "hvm"
    x86 = os_type is None or os_type.get("arch", ctx.arch) in ("i686", "x86_64")
    for device in unplaced:
        if device.get("type") in ("mouse", "keyboard"):
            device.set("bus", ("ps2" if x86 else "usb") if hvm else "xen")
        elif device.get("type") == "tablet":
            device.set("bus", "usb")


@acts_on("filesystem")
@creates()
def filesystems(root: etree._Element, ctx: Context) -> None:
    """Filesystems pass through the host's permissions unless told otherwise (a vhost-user
    one, served from a socket, has no access mode); file and folder modes in four octal
    digits; RAM filesystem sizes in KiB."""
    for fs in device_children(root, "filesystem"):
        if fs.get("accessmode") is None and fs.find("source[@socket]") is None:
            set_attrs_first(fs, {"type": fs.get("type", "mount"), "accessmode": "passthrough"})
        for name in ("fmode", "dmode"):
            mode = fs.get(name)
            if mode is not None and _OCTAL_MODE.fullmatch(mode):
                fs.set(name, f"{int(mode, 8):04o}")
        source = fs.find("source[@usage]")
        if fs.get("type") == "ram" and source is not None:
            usage = to_kib(int(source.get("usage", "0")), source.get("units"))
            source.set("usage", str(usage))
            source.set("units", "KiB")


@acts_on("usbdev")
@creates()
def redirfilter_usbdevs(root: etree._Element, ctx: Context) -> None:
    """USB redirection filter rules in libvirt's spelling: ``-1`` (any) is left out, the class
    has two upper-case hex digits and vendor and product four, the version is ``M.mm`` (a
    one-digit minor is tenths: ``9.4`` is ``9.40``)."""
    for devices in root.iterchildren("devices"):
        for rule in devices.iterfind("redirfilter/usbdev"):
            for name, digits in (("class", 2), ("vendor", 4), ("product", 4), ("version", 0)):
                value = rule.get(name)
                if value == "-1":
                    del rule.attrib[name]
                elif value is not None:
                    rule.set(
                        name, _usb_version(value) if name == "version" else _hex(value, digits)
                    )


def _hex(value: str, digits: int) -> str:
    """``value`` (decimal, or hex with ``0x``) as ``0x`` and upper-case hex digits; an
    unreadable value is left for validation to refuse."""
    try:
        return f"0x{int(value, 0):0{digits}X}"
    except ValueError:
        return value


def _usb_version(value: str) -> str:
    """A USB version ``major.minor`` as libvirt writes it back (``1.1`` -> ``1.10``)."""
    match = re.fullmatch(r"(\d{1,2})\.(\d{1,2})", value)
    if match is None:
        return value
    major, minor = match.groups()
    return f"{int(major)}.{int(minor) * (10 if len(minor) == 1 else 1):02d}"


@acts_on("smartcard")
@creates("address")
def smartcard_addresses(root: etree._Element, ctx: Context) -> None:
    """Each smartcard gets a CCID slot on controller 0."""
    devices = first_child(root, "devices")
    if devices is None:
        return
    for slot, card in enumerate(devices.iterchildren("smartcard")):
        if first_child(card, "address") is None:
            etree.SubElement(
                card, "address", {"type": "ccid", "controller": "0", "slot": str(slot)}
            )


@acts_on("source")
@creates("protocol")
def chardev_sources(root: etree._Element, ctx: Context) -> None:
    """Sources carry their mode (connect by default); UDP lists bind before connect; TCP states
    its protocol; a UNIX source without a path says nothing and is dropped."""
    for dev in chardev_elements(root):
        kind = dev.get("type")
        sources = list(dev.iterchildren("source"))
        if kind in ("tcp", "udp", "unix"):
            for src in sources:
                set_attrs_first(src, {"mode": src.get("mode", "connect")})
        if kind == "unix":
            for src in sources:
                if not src.get("path") and len(src) == 0:
                    dev.remove(src)
        if kind == "udp" and len(sources) == 2 and sources[0].get("mode") == "connect":
            sources[0].addprevious(sources[1])
        if kind == "tcp" and first_child(dev, "protocol") is None and sources:
            protocol = etree.Element("protocol", {"type": "raw"})
            list(dev.iterchildren("source"))[-1].addnext(protocol)


@acts_on("graphics")
@creates("listen")
def graphics_listens(root: etree._Element, ctx: Context) -> None:
    """VNC, SPICE and RDP consoles: ports, ``autoport`` and ``<listen>`` as libvirt fills in."""
    devices = first_child(root, "devices")
    if devices is None:
        return
    for graphics in devices.iterchildren("graphics"):
        kind = graphics.get("type")
        if kind not in ("vnc", "spice", "rdp"):
            continue
        socket = graphics.get("socket") if kind == "vnc" else None
        first = first_child(graphics, "listen")
        socket_listen = first is not None and first.get("type") == "socket"
        if not socket and not socket_listen:
            {"spice": _spice_ports, "rdp": _rdp_ports}.get(kind, _vnc_ports)(graphics)
        _listens(graphics, socket, ctx)
        order = {"type": kind}
        if socket:
            order["socket"] = socket
        for name in ("port", "tlsPort", "autoport", "websocket", "listen"):
            if graphics.get(name) is not None:
                order[name] = graphics.get(name, "")
        set_attrs_first(graphics, order)


def _listens(graphics: etree._Element, socket: str | None, ctx: Context) -> None:
    """The ``<listen>`` elements, and the ``listen`` attribute mirroring the first address
    (a network's address is only known while running, so an inactive parse drops it)."""
    listens = list(graphics.iterchildren("listen"))
    if socket:
        if listens:
            graphics.remove(listens[0])
        graphics.insert(0, etree.Element("listen", {"type": "socket", "socket": socket}))
    elif not listens:
        attrib = {"type": "address"}
        if graphics.get("listen"):
            attrib["address"] = graphics.get("listen", "")
        graphics.insert(0, etree.Element("listen", attrib))
    if ctx.inactive:
        for network in graphics.iterfind("listen[@type='network']"):
            network.attrib.pop("address", None)
    first = first_child(graphics, "listen")
    assert first is not None
    if first.get("type") == "address" and not first.get("address") and graphics.get("listen"):
        first.set("address", graphics.get("listen", ""))
    address = first.get("address") if first.get("type") in ("address", "network") else None
    if address:
        graphics.set("listen", address)
    else:
        graphics.attrib.pop("listen", None)


def _vnc_ports(graphics: etree._Element) -> None:
    """``autoport='yes'``, port ``-1`` or neither port nor autoport: an automatic port, written
    ``port='-1'``; a port chosen by the user is ``autoport='no'``."""
    port, autoport = graphics.get("port"), graphics.get("autoport")
    if autoport == "yes" or port == "-1" or (port is None and autoport is None):
        graphics.set("port", "-1")
        graphics.set("autoport", "yes")
    elif port is not None:
        graphics.set("autoport", "no")


def _rdp_ports(graphics: etree._Element) -> None:
    """RDP without a port picks one itself: ``port='0' autoport='yes'``."""
    if graphics.get("port") in (None, "0", "-1") and graphics.get("autoport") != "no":
        graphics.set("port", "0")
        graphics.set("autoport", "yes")


def _spice_ports(graphics: etree._Element) -> None:
    """SPICE writes only ports it was given (``autoport='no'``); with ``autoport='yes'`` there
    are none to keep; with neither it listens nowhere (``<listen type='none'/>``)."""
    if graphics.get("autoport") == "yes":
        graphics.attrib.pop("port", None)
        graphics.attrib.pop("tlsPort", None)
    for name in ("port", "tlsPort"):
        if graphics.get(name) in ("0", "-1"):
            del graphics.attrib[name]
            graphics.set("autoport", "yes")
    if graphics.get("autoport") == "yes":
        return
    if graphics.get("port") or graphics.get("tlsPort"):
        graphics.set("autoport", "no")
        return
    graphics.attrib.pop("autoport", None)
    graphics.attrib.pop("listen", None)
    for listen in list(graphics.iterchildren("listen")):
        graphics.remove(listen)
    graphics.insert(0, etree.Element("listen", {"type": "none"}))


@acts_on("graphics")
@creates("video", "model")
def implicit_video(root: etree._Element, ctx: Context) -> None:
    """A graphical console without a video device gets one (``ctx.video_type``)."""
    devices = first_child(root, "devices")
    if ctx.video_type is None or devices is None or first_child(devices, "graphics") is None:
        return
    if first_child(devices, "video") is not None:
        return
    video = insert_child(devices, "video", DEVICES_ORDER)
    etree.SubElement(video, "model", {"type": ctx.video_type})


#: video memory (KiB) libvirt gives a model that does not say (virDomainVideoDefaultRAM)
_VIDEO_VRAM = {
    "vga": 16384,
    "cirrus": 16384,
    "vmvga": 16384,
    "bochs": 16384,
    "xen": 4096,
    "qxl": 65536,
}


@acts_on("video")
@creates()
def video_defaults(root: etree._Element, ctx: Context) -> None:
    """The first video device is the primary one; models get one head and their default
    video memory."""
    for number, model in enumerate(find_all(root, "devices/video/model")):
        kind = model.get("type")
        if kind == "none":
            continue
        vram = _VIDEO_VRAM.get(kind or "")
        if (
            kind == "vga"
            and root.get("type") == "vbox"
            or kind == "vmvga"
            and root.get("type") == "vmware"
        ):
            vram = 8192 if root.get("type") == "vbox" else 4096
        if model.get("vram") is None and vram:
            model.set("vram", str(vram))
        if kind == "qxl" and model.get("ram") is None:
            model.set("ram", "65536")
        if model.get("heads") is None:
            model.set("heads", "1")
        if number == 0 and model.get("primary") is None:
            model.set("primary", "yes")
        order = ("type", "ram", "vram", "vram64", "vgamem", "heads", "primary")
        set_attrs_first(model, {k: model.get(k, "") for k in order if model.get(k) is not None})


@acts_on("address")
@creates()
def pci_addresses(root: etree._Element, ctx: Context) -> None:
    """PCI addresses in libvirt's spelling: ``0x0000:0x00:0x0a.0x0``."""
    widths = (("domain", 4), ("bus", 2), ("slot", 2), ("function", 1))
    for address in find_all(root, "devices//address[@type='pci']"):
        if _spelled_pci(address):
            continue
        spelled = {"type": "pci"}
        for name, width in widths:
            try:
                spelled[name] = f"0x{int(address.get(name, '0'), 0):0{width}x}"
            except ValueError:
                spelled[name] = address.get(name, "")
        set_attrs_first(address, spelled)


#: the attributes of a PCI address in libvirt's spelling and order, and their values
_PCI_KEYS = ["type", "domain", "bus", "slot", "function"]
_PCI_VALUES = re.compile(r"pci 0x[0-9a-f]{4} 0x[0-9a-f]{2} 0x[0-9a-f]{2} 0x[0-9a-f]")


def _spelled_pci(address: etree._Element) -> bool:
    """Whether ``address`` is spelled as :func:`pci_addresses` writes it (as those the driver
    assigns are): one pattern match instead of four numbers parsed and written again."""
    keys = address.keys()
    return keys[:5] == _PCI_KEYS and bool(_PCI_VALUES.fullmatch(" ".join(address.values()[:5])))


#: serial port kinds that can back the first console of an HVM guest
_CONSOLE_SERIALS = (None, "isa-serial", "system-serial", "spapr-vio-serial", "sclp-serial")


def _copy_as(dev: etree._Element, tag: str, port: str, target_type: str | None) -> etree._Element:
    """A copy of character device ``dev`` as ``<tag>`` with a fresh target, no alias or address."""
    copy = etree.fromstring(etree.tostring(dev, with_tail=False))
    copy.tag = tag
    for child in list(copy):
        if child.tag in ("alias", "address", "log", "target"):
            copy.remove(child)
    target = etree.SubElement(copy, "target", {"type": target_type} if target_type else {})
    target.set("port", port)
    return copy


def _place(devices: etree._Element, el: etree._Element, before: etree._Element | None) -> None:
    if before is not None:
        before.addprevious(el)
    else:
        insert_child(devices, el.tag, DEVICES_ORDER).addnext(el)
        previous = el.getprevious()
        assert previous is not None
        devices.remove(previous)


@acts_on("serial", "parallel", "console")
@creates("target", "serial", "console")
def chardev_targets(root: etree._Element, ctx: Context) -> None:
    """Serial and parallel ports are numbered in order; an HVM guest's first console is its
    first serial port (created from the console when there is none)."""
    devices = first_child(root, "devices")
    if devices is None:
        return
    serials = list(devices.iterchildren("serial"))
    consoles = list(devices.iterchildren("console"))
    _number_ports(serials, list(devices.iterchildren("parallel")), consoles)
    os_type = find_first(root, "os/type")
    if os_type is not None and (os_type.text or "").strip() == "hvm":
        _serial_console(devices, serials, consoles)


def _number_ports(
    serials: list[etree._Element], parallels: list[etree._Element], consoles: list[etree._Element]
) -> None:
    """Serial and parallel ports without a port number get their place among their kind;
    consoles other than serial ones, their place among consoles of their target type."""
    for ports in (serials, parallels):
        for number, dev in enumerate(ports):
            target = first_child(dev, "target")
            if target is None:
                target = etree.SubElement(dev, "target")
            if target.get("port") is None:
                target.set("port", str(number))
    numbered: dict[str | None, int] = {}
    for console in consoles:
        target = first_child(console, "target")
        kind = target.get("type") if target is not None else None
        if target is not None and kind not in (None, "serial") and target.get("port") is None:
            target.set("port", str(numbered.get(kind, 0)))
        numbered[kind] = numbered.get(kind, 0) + 1


def _serial_console(
    devices: etree._Element, serials: list[etree._Element], consoles: list[etree._Element]
) -> None:
    """The first console of an HVM guest stands for its first serial port: a serial console
    takes that port's number (the port is made from the console when there is none), and a
    guest with a serial port but no serial console gets one."""
    first = consoles[0] if consoles else None
    first_target = first_child(first, "target") if first is not None else None
    first_type = first_target.get("type") if first_target is not None else None
    if first is not None and first_type in (None, "serial"):
        if not serials:
            serial = _copy_as(first, "serial", "0", None)
            _place(devices, serial, None)
            serials = [serial]
        serial_target = first_child(serials[0], "target")
        port = serial_target.get("port", "0") if serial_target is not None else "0"
        if first_target is None:
            first_target = etree.SubElement(first, "target")
        first_target.attrib.clear()
        first_target.set("type", "serial")
        first_target.set("port", port)
    elif serials:
        serial_target = first_child(serials[0], "target")
        assert serial_target is not None
        if serial_target.get("type") in _CONSOLE_SERIALS:
            console = _copy_as(serials[0], "console", serial_target.get("port", "0"), "serial")
            _place(devices, console, first)


#: the devices whose children libvirt writes in an order of their own
_CHILD_ORDERS = {
    "disk": DISK_ORDER,
    "interface": INTERFACE_ORDER,
    "serial": CHARDEV_ORDER,
    "parallel": CHARDEV_ORDER,
    "console": CHARDEV_ORDER,
    "channel": CHARDEV_ORDER,
    "memballoon": MEMBALLOON_ORDER,
}


@acts_on("devices")
@creates()
def blank_texts(root: etree._Element, ctx: Context) -> None:
    """A device element with nothing but white space inside is written empty (libvirt keeps
    no text there: it reads such elements into attributes)."""
    for devices in root.iterchildren("devices"):
        for el in devices.iter(etree.Element):  # elements only, not comments
            if el.text is not None and len(el) == 0 and not el.text.strip():
                el.text = None


@creates()
def order_devices(root: etree._Element, ctx: Context) -> None:
    """Devices in libvirt's order (by kind; same kinds keep their order), and the children of
    disks (and their backing stores), interfaces, character devices (and a vdagent's source)
    and the balloon in the order libvirt writes them."""
    devices = first_child(root, "devices")
    if devices is None:
        return
    sort_children(devices, DEVICES_ORDER)
    for device in devices.iterchildren(*_CHILD_ORDERS):
        if device.tag == "interface" and device.get("type") == "hostdev":
            sort_children(device, HOSTDEV_INTERFACE_ORDER)
        else:
            sort_children(device, _CHILD_ORDERS[device.tag])
        if device.tag == "disk":
            for store in device.iter("backingStore"):
                sort_children(store, BACKING_STORE_ORDER)
        elif device.get("type") == "qemu-vdagent":
            for source in device.iterchildren("source"):
                sort_children(source, VDAGENT_SOURCE_ORDER)
