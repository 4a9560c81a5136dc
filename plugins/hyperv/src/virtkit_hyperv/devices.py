"""The disks and network adapters of a Hyper-V VM's settings, as domain XML devices.

A medium (``Msvm_StorageAllocationSettingData``, its file in ``HostResource``) sits in a drive
(``Msvm_ResourceAllocationSettingData`` of type 16 DVD or 17 disk, ``AddressOnParent`` its
place) on a controller (type 5 IDE, index in ``Address``; type 6 SCSI, numbered in order); a
disk's ``<address>`` names that place (:mod:`virtkit_hyperv.plans` reads it back). A network
adapter (``Msvm_SyntheticEthernetPortSettingData``, or ``Msvm_EmulatedEthernetPortSettingData``
for a legacy one; MAC in ``Address``) connects to a virtual switch through an
``Msvm_EthernetPortAllocationSettingData`` whose ``HostResource`` names the switch. ``Parent``
properties are WMI object paths naming the parent's InstanceID.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from lxml import etree

from virtkit_hyperv.wsman import instance_id_of, text

IDE_CONTROLLERS, IDE_LOCATIONS = 2, 2
SCSI_CONTROLLERS, SCSI_LOCATIONS = 4, 64
IDE_CONTROLLER = "5"
SCSI_CONTROLLER = "6"
DVD_DRIVE = "16"
DISK_DRIVE = "17"
LEGACY_MODEL = "legacy"
Settings = Mapping[str, object]


def _first(value: object) -> str:
    if isinstance(value, list):
        return text(value[0]) if value else ""
    return text(value)


def parent_id(setting: Settings) -> str:
    """The InstanceID named by a setting's ``Parent`` object path."""
    return instance_id_of(text(setting.get("Parent")))


def _switch_guid(path: str) -> str:
    """The ``Name`` key of a switch's object path (not ``CreationClassName``)."""
    found = re.search(r'[.,]Name="([^"]*)"', path)
    return found.group(1) if found else ""


def disks(resources: Sequence[Settings], media: Sequence[Settings]) -> list[etree._Element]:
    """``<disk>`` elements for the drives on IDE and SCSI controllers, with their media."""
    by_id = {text(r.get("InstanceID")): r for r in resources}
    scsi = [r for r in resources if text(r.get("ResourceType")) == SCSI_CONTROLLER]
    medium_of = {parent_id(m): m for m in media}
    found: list[tuple[str, etree._Element]] = []
    for drive in resources:
        if text(drive.get("ResourceType")) not in (DVD_DRIVE, DISK_DRIVE):
            continue
        controller = by_id.get(parent_id(drive))
        if controller is None:
            continue
        kind = text(controller.get("ResourceType"))
        location = int(text(drive.get("AddressOnParent")) or 0)
        if kind == IDE_CONTROLLER:  # libvirt's IDE: one controller, Hyper-V's two as buses
            bus, prefix, per_controller = "ide", "hd", IDE_LOCATIONS
            number = int(text(controller.get("Address")) or 0)
            address = {"controller": "0", "bus": str(number)}
        elif kind == SCSI_CONTROLLER:
            bus, prefix, per_controller = "scsi", "sd", SCSI_LOCATIONS
            number = scsi.index(controller)
            address = {"controller": str(number), "bus": "0"}
        else:
            continue
        device = "cdrom" if text(drive.get("ResourceType")) == DVD_DRIVE else "disk"
        disk = etree.Element("disk", type="file", device=device)
        medium = medium_of.get(text(drive.get("InstanceID")))
        path = _first(medium.get("HostResource")) if medium is not None else ""
        if path:
            etree.SubElement(disk, "source", file=path)
        dev = disk_name(prefix, number * per_controller + location)
        etree.SubElement(disk, "target", dev=dev, bus=bus)
        etree.SubElement(disk, "address", type="drive", **address, target="0", unit=str(location))
        found.append((dev, disk))
    return [d for _, d in sorted(found, key=lambda pair: (len(pair[0]), pair[0]))]


def disk_name(prefix: str, index: int) -> str:
    """``("sd", 0)`` -> ``sda``, 25 -> ``sdz``, 26 -> ``sdaa`` (libvirt's disk names)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("a") + rest) + letters
    return prefix + letters


def disk_index(dev: str, prefix: str) -> int | None:
    """The index :func:`disk_name` gave ``dev`` (``sdaa`` -> 26); None if it is not one."""
    letters = dev[len(prefix) :]
    if not dev.startswith(prefix) or not letters or any(not "a" <= c <= "z" for c in letters):
        return None
    index = 0
    for letter in letters:
        index = index * 26 + ord(letter) - ord("a") + 1
    return index - 1


def interfaces(
    ports: Sequence[Settings],
    connections: Sequence[Settings],
    switches: Mapping[str, str],
    emulated: Sequence[Settings] = (),
) -> list[etree._Element]:
    """``<interface type='bridge'>`` per adapter, synthetic ones first, then the ``emulated``
    (legacy) ones with ``<model type='legacy'/>``; the source is the switch's name (switches:
    switch GUID -> name); an adapter not connected has no source."""
    switch_of = {
        parent_id(c): switches.get(_switch_guid(_first(c.get("HostResource"))), "")
        for c in connections
    }
    found = []
    for port in [*ports, *emulated]:
        nic = etree.Element("interface", type="bridge")
        mac = text(port.get("Address"))
        if len(mac) == 12 and mac.strip("0"):  # all zeros: a dynamic MAC not yet assigned
            etree.SubElement(
                nic, "mac", address=":".join(mac[i : i + 2] for i in range(0, 12, 2)).lower()
            )
        switch = switch_of.get(text(port.get("InstanceID")))
        if switch:
            etree.SubElement(nic, "source", bridge=switch)
        if port in emulated:
            etree.SubElement(nic, "model", type=LEGACY_MODEL)
        found.append(nic)
    return found
