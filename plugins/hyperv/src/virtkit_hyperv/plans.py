"""The disks and network adapters a domain definition asks Hyper-V for, checked before any
request: what cannot be honoured is refused with an error naming it.

Places follow Hyper-V's controllers. Generation 1: two IDE controllers with two locations
each, ``hda``..``hdd`` (libvirt's IDE ``<address>``: controller 0, ``bus`` = Hyper-V controller,
``unit`` = location), DVD drives on IDE only. Both generations: up to four synthetic SCSI
controllers with 64 locations each, ``sdX`` index = controller * 64 + location
(``<address>``: ``controller``, bus 0, ``unit`` = location). Generation 2 has no IDE.
Adapters connect to the virtual switch named by ``<source bridge>``; ``<model type='legacy'/>``
asks for the emulated (legacy) adapter, which only generation 1 has.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs
from lxml import etree
from virtkit.errors import ConfigUnsupportedError, ErrorDomain, XMLError

from virtkit_hyperv.devices import (
    IDE_CONTROLLERS,
    IDE_LOCATIONS,
    LEGACY_MODEL,
    SCSI_CONTROLLERS,
    SCSI_LOCATIONS,
    disk_index,
)


@attrs.frozen(kw_only=True)
class DiskPlan:
    """One drive, and its medium when ``path`` is set."""

    name: str  # the target dev, for errors
    bus: str  # "ide" or "scsi"
    controller: int  # IDE: the controller's Address; SCSI: its number in order
    location: int  # AddressOnParent
    cdrom: bool
    path: str | None


@attrs.frozen(kw_only=True)
class NicPlan:
    """One network adapter, connected to ``switch`` (a virtual switch name) when set."""

    name: str  # "interface N", for errors
    switch: str | None
    mac: str | None  # 12 hex digits, upper case
    legacy: bool


@attrs.frozen(kw_only=True)
class DevicePlans:
    disks: tuple[DiskPlan, ...]
    nics: tuple[NicPlan, ...]
    scsi_controllers: int  # how many the VM needs


def _refuse(what: str) -> ConfigUnsupportedError:
    return ConfigUnsupportedError(f"Hyper-V: {what}", domain=ErrorDomain.HYPERV)


def _children(el: etree._Element) -> Iterable[etree._Element]:
    return (child for child in el if isinstance(child.tag, str))


def _only(el: etree._Element, attributes: set[str], where: str) -> None:
    extra = sorted(set(el.attrib) - attributes)
    if extra:
        raise _refuse(f"{where}: attribute '{extra[0]}' of <{el.tag}> is not supported")


def plan_devices(root: etree._Element, generation2: bool) -> DevicePlans:
    """The plans for ``root``'s ``<devices>``; refuses anything else in it by name."""
    devices = root.find("devices")
    disks: list[DiskPlan] = []
    nics: list[NicPlan] = []
    scsi = 0
    for el in _children(devices) if devices is not None else ():
        if el.tag == "disk":
            disks.append(_disk(el, generation2))
        elif el.tag == "interface":
            nics.append(_nic(el, len(nics) + 1, generation2))
        elif el.tag == "controller":
            scsi = max(scsi, _controller(el, generation2))
        else:
            raise _refuse(
                f"<{el.tag}> devices cannot be defined (only <disk>, <interface> and IDE or "
                "SCSI <controller>)"
            )
    _check_places(disks)
    scsi = max([scsi, *(d.controller + 1 for d in disks if d.bus == "scsi")])
    return DevicePlans(disks=tuple(disks), nics=tuple(nics), scsi_controllers=scsi)


def _controller(el: etree._Element, generation2: bool) -> int:
    """How many SCSI controllers a ``<controller>`` asks for (0 for the IDE one)."""
    kind, index = el.get("type"), el.get("index", "0")
    where = f"<controller type='{kind}' index='{index}'>"
    _only(el, {"type", "index"}, where)
    if next(iter(_children(el)), None) is not None:
        raise _refuse(f"{where}: no model, driver or address can be set")
    if kind == "ide" and index == "0" and not generation2:
        return 0
    if kind == "scsi" and index.isdigit() and int(index) < SCSI_CONTROLLERS:
        return int(index) + 1
    raise _refuse(
        f"{where} cannot be defined: a generation 1 VM has the IDE controller 0 and a VM "
        f"up to {SCSI_CONTROLLERS} SCSI controllers (0-{SCSI_CONTROLLERS - 1})"
        + (" (generation 2: no IDE)" if generation2 and kind == "ide" else "")
    )


def _disk(el: etree._Element, generation2: bool) -> DiskPlan:
    target = el.find("target")
    dev = target.get("dev", "") if target is not None else ""
    where = f"<disk> '{dev}'" if dev else "a <disk> without <target dev>"
    if not dev:
        raise XMLError(f"{where}: Hyper-V places a disk by its target name")
    _only(el, {"type", "device"}, where)
    if el.get("type", "file") != "file":
        raise _refuse(
            f"{where}: type '{el.get('type')}' (only file disks: a virtual hard disk or ISO)"
        )
    device = el.get("device", "disk")
    if device not in ("disk", "cdrom"):
        raise _refuse(f"{where}: device '{device}' (only 'disk' and 'cdrom')")
    path = None
    for child in _children(el):
        if child.tag == "source":
            _only(child, {"file"}, where)
            path = child.get("file") or None
        elif child.tag == "target":
            _only(child, {"dev", "bus"}, where)
        elif child.tag == "readonly" and device == "cdrom":
            continue  # a DVD is read-only anyway
        elif child.tag != "address":
            raise _refuse(f"{where}: <{child.tag}> cannot be honoured")
    if path is None and device == "disk":
        raise _refuse(f"{where}: a hard disk needs <source file> (a .vhdx or .vhd image)")
    bus, controller, location = _place(dev, target, el.find("address"), where)
    if bus == "ide" and generation2:
        raise _refuse(f"{where}: a generation 2 VM has no IDE controller; use bus 'scsi' (sdX)")
    if bus == "scsi" and device == "cdrom" and not generation2:
        raise _refuse(f"{where}: a generation 1 VM takes DVD drives on IDE only (hdX)")
    return DiskPlan(
        name=dev,
        bus=bus,
        controller=controller,
        location=location,
        cdrom=device == "cdrom",
        path=path,
    )


def _place(
    dev: str, target: etree._Element | None, address: etree._Element | None, where: str
) -> tuple[str, int, int]:
    """``(bus, controller, location)`` from the target name, checked against ``<address>``."""
    bus = target.get("bus") if target is not None else None
    for candidate, prefix, per_controller, controllers in (
        ("ide", "hd", IDE_LOCATIONS, IDE_CONTROLLERS),
        ("scsi", "sd", SCSI_LOCATIONS, SCSI_CONTROLLERS),
    ):
        index = disk_index(dev, prefix)
        if index is None:
            continue
        if bus not in (None, candidate):
            raise _refuse(f"{where}: bus '{bus}' (names hdX are IDE, sdX SCSI)")
        if index >= per_controller * controllers:
            raise _refuse(
                f"{where}: beyond the last {candidate.upper()} place "
                f"({controllers} controllers of {per_controller})"
            )
        controller, location = divmod(index, per_controller)
        if address is not None:
            _check_address(address, candidate, controller, location, dev)
        return candidate, controller, location
    raise _refuse(
        f"{where}: bus '{bus or 'unknown'}' (Hyper-V has IDE disks hdX and SCSI disks sdX)"
    )


def _check_address(
    address: etree._Element, bus: str, controller: int, location: int, dev: str
) -> None:
    """``<address type='drive'>`` must name the place the target name does."""
    where = f"<disk> '{dev}'"
    _only(address, {"type", "controller", "bus", "target", "unit"}, where)
    want = (
        {"controller": 0, "bus": controller, "target": 0, "unit": location}
        if bus == "ide"
        else {"controller": controller, "bus": 0, "target": 0, "unit": location}
    )
    got = {key: address.get(key, "0") for key in want}
    if address.get("type") != "drive" or got != {k: str(v) for k, v in want.items()}:
        said = " ".join(f"{k}='{v}'" for k, v in address.attrib.items())
        expected = " ".join(f"{k}='{v}'" for k, v in want.items())
        raise _refuse(
            f"{where}: <address {said}> is not the place Hyper-V gives '{dev}' "
            f"(<address type='drive' {expected}>)"
        )


def _check_places(disks: list[DiskPlan]) -> None:
    seen: dict[tuple[str, int, int], str] = {}
    for disk in disks:
        place = (disk.bus, disk.controller, disk.location)
        if place in seen:
            raise _refuse(f"<disk> '{seen[place]}' and '{disk.name}' are at the same place")
        seen[place] = disk.name


def _nic(el: etree._Element, number: int, generation2: bool) -> NicPlan:
    where = f"<interface> {number}"
    _only(el, {"type"}, where)
    if el.get("type") != "bridge":
        raise _refuse(
            f"{where}: type '{el.get('type')}' (Hyper-V adapters connect to a virtual switch: "
            "<interface type='bridge'><source bridge='switch name'/>)"
        )
    switch = mac = None
    legacy = False
    for child in _children(el):
        if child.tag == "source":
            _only(child, {"bridge"}, where)
            switch = child.get("bridge") or None
        elif child.tag == "mac":
            _only(child, {"address"}, where)
            mac = _mac(child.get("address", ""), where)
        elif child.tag == "model":
            _only(child, {"type"}, where)
            if child.get("type") != LEGACY_MODEL:
                raise _refuse(
                    f"{where}: model '{child.get('type')}' (Hyper-V has the synthetic adapter, "
                    f"no <model>, and the emulated one, <model type='{LEGACY_MODEL}'/>)"
                )
            if generation2:
                raise _refuse(f"{where}: a generation 2 VM has no legacy network adapter")
            legacy = True
        else:
            raise _refuse(f"{where}: <{child.tag}> cannot be honoured")
    return NicPlan(name=f"interface {number}", switch=switch, mac=mac, legacy=legacy)


def _mac(address: str, where: str) -> str:
    digits = address.replace(":", "").replace("-", "")
    if len(digits) != 12 or any(c not in "0123456789abcdefABCDEF" for c in digits):
        raise XMLError(f"{where}: <mac address='{address}'> is not a MAC address")
    return digits.upper()
