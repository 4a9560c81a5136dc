"""Channel I/O (CCW) addresses of s390 guests: virtio devices without an address sit on the
virtual channel subsystem 0xfe, numbered in libvirt's device order."""

from __future__ import annotations

from collections.abc import Iterator

from lxml import etree
from virtkit.xml import Context

from virtkit_qemu.canonical.context import arch_of, is_s390

#: device kinds in the order libvirt walks them, with a test of "is a virtio device"
_VIRTIO_DEVICES = (
    ("disk", lambda el: el.find("target[@bus='virtio']") is not None),
    ("interface", lambda el: el.find("model[@type='virtio']") is not None),
    ("hostdev", lambda el: el.get("type") in ("mdev", "scsi_host")),
    ("video", lambda el: el.find("model[@type='virtio']") is not None),
    (
        "controller",
        lambda el: el.get("type") == "virtio-serial" or el.get("model") == "virtio-scsi",
    ),
    ("input", lambda el: el.get("bus") == "virtio"),
    ("filesystem", lambda el: True),
    ("memballoon", lambda el: el.get("model") == "virtio"),
    ("rng", lambda el: el.get("model") == "virtio"),
    ("vsock", lambda el: True),
)


def _wanting(devices: etree._Element) -> Iterator[etree._Element]:
    for tag, is_virtio in _VIRTIO_DEVICES:
        for el in devices.iterfind(tag):
            if el.find("address") is None and is_virtio(el):
                yield el


def is_ccw_machine(root: etree._Element, ctx: Context) -> bool:
    return is_s390(arch_of(root, ctx))


def ccw_addresses(root: etree._Element, ctx: Context) -> None:
    """Each virtio device of an s390 guest without an address gets the next free device
    number on channel subsystem 0xfe."""
    devices = root.find("devices")
    if devices is None or not is_ccw_machine(root, ctx):
        return
    taken = {
        int(a.get("devno", "0"), 0)
        for a in devices.iterfind("*/address[@type='ccw']")
        if a.get("devno") and int(a.get("cssid", "0xfe"), 0) == 0xFE
    }
    devno = 0
    for el in _wanting(devices):
        while devno in taken:
            devno += 1
        taken.add(devno)
        attrib = {"type": "ccw", "cssid": "0xfe", "ssid": "0x0", "devno": f"0x{devno:04x}"}
        etree.SubElement(el, "address", attrib)
