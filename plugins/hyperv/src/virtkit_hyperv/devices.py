"""The disks and network adapters of a Hyper-V VM's settings, as domain XML devices.

A medium (``Msvm_StorageAllocationSettingData``, its file in ``HostResource``) sits in a drive
(``Msvm_ResourceAllocationSettingData`` of type 16 DVD or 17 disk, ``AddressOnParent`` its
place) on a controller (type 5 IDE, index in ``Address``; type 6 SCSI, numbered in order). A
network adapter (``Msvm_SyntheticEthernetPortSettingData``, MAC in ``Address``) connects to a
virtual switch through an ``Msvm_EthernetPortAllocationSettingData`` whose ``HostResource``
names the switch. ``Parent`` properties are WMI object paths naming the parent's InstanceID.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from lxml import etree

from virtkit_hyperv.wsman import instance_id_of, text

IDE_CONTROLLER = "5"
SCSI_CONTROLLER = "6"
DVD_DRIVE = "16"
DISK_DRIVE = "17"
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
    """``<disk>`` elements for the media in drives on IDE and SCSI controllers."""
    by_id = {text(r.get("InstanceID")): r for r in resources}
    scsi = [r for r in resources if text(r.get("ResourceType")) == SCSI_CONTROLLER]
    found: list[tuple[str, etree._Element]] = []
    for medium in media:
        drive = by_id.get(parent_id(medium))
        controller = by_id.get(parent_id(drive)) if drive is not None else None
        if drive is None or controller is None:
            continue
        kind = text(controller.get("ResourceType"))
        unit = int(text(drive.get("AddressOnParent")) or 0)
        if kind == IDE_CONTROLLER:
            bus, prefix = "ide", "hd"
            index = int(text(controller.get("Address")) or 0) * 2 + unit
        elif kind == SCSI_CONTROLLER:
            bus, prefix = "scsi", "sd"
            index = scsi.index(controller) * 64 + unit
        else:
            continue
        device = "cdrom" if text(drive.get("ResourceType")) == DVD_DRIVE else "disk"
        disk = etree.Element("disk", type="file", device=device)
        path = _first(medium.get("HostResource"))
        if path:
            etree.SubElement(disk, "source", file=path)
        dev = prefix + _letters(index)
        etree.SubElement(disk, "target", dev=dev, bus=bus)
        found.append((dev, disk))
    return [d for _, d in sorted(found, key=lambda pair: (len(pair[0]), pair[0]))]


def _letters(index: int) -> str:
    """``0`` -> ``a``, ``25`` -> ``z``, ``26`` -> ``aa`` (libvirt's disk names)."""
    text = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        text = chr(ord("a") + rest) + text
    return text


def interfaces(
    ports: Sequence[Settings], connections: Sequence[Settings], switches: Mapping[str, str]
) -> list[etree._Element]:
    """``<interface type='bridge'>`` per adapter; the source is its switch's name (switches:
    switch GUID -> name); an adapter not connected has no source."""
    switch_of = {
        parent_id(c): switches.get(_switch_guid(_first(c.get("HostResource"))), "")
        for c in connections
    }
    found = []
    for port in ports:
        nic = etree.Element("interface", type="bridge")
        mac = text(port.get("Address"))
        if len(mac) == 12:
            etree.SubElement(
                nic, "mac", address=":".join(mac[i : i + 2] for i in range(0, 12, 2)).lower()
            )
        switch = switch_of.get(text(port.get("InstanceID")))
        if switch:
            etree.SubElement(nic, "source", bridge=switch)
        found.append(nic)
    return found
