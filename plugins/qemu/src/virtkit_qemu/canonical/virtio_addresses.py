"""Addresses of virtio devices that are not on PCI: channel I/O (CCW) on s390, where they sit
on the virtual channel subsystem 0xfe numbered in libvirt's device order, and virtio-mmio on
ARM boards without PCI Express."""

from __future__ import annotations

from collections.abc import Iterator

from lxml import etree
from virtkit.xml import Context
from virtkit.xml.canonical.census import creates
from virtkit.xml.canonical.order import first_child

from virtkit_qemu.canonical.context import caps_of, is_arm_virt, is_s390, platform_of

#: device kinds in the order libvirt walks them, with a test of "is a virtio device"
_VIRTIO_DEVICES = (
    ("disk", lambda el: el.find("target[@bus='virtio']") is not None),
    ("interface", lambda el: el.find("model[@type='virtio']") is not None),
    ("hostdev", lambda el: el.get("type") == "scsi_host" or el.get("model") == "vfio-ccw"),
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
            if first_child(el, "address") is None and is_virtio(el):
                yield el


@creates("address")
def ccw_addresses(root: etree._Element, ctx: Context) -> None:
    """Each virtio device of an s390 guest without an address gets the next free device
    number on channel subsystem 0xfe; device numbers are written with four digits, boot load
    parameters in upper case."""
    if not is_s390(platform_of(root, caps_of(ctx))[0]):
        return
    devices = first_child(root, "devices")
    if devices is None:
        return
    taken = {
        int(a.get("devno", "0"), 0)
        for a in devices.iterfind("*/address[@type='ccw']")
        if a.get("devno") and int(a.get("cssid", "0xfe"), 0) == 0xFE
    }
    for address in devices.iterfind("*/address[@type='ccw']"):
        for name, width in (("cssid", 0), ("ssid", 0), ("devno", 4)):
            if address.get(name) is not None:
                address.set(name, f"0x{int(address.get(name, '0'), 0):0{width}x}")
    for boot in devices.iterfind("*/boot[@loadparm]"):
        boot.set("loadparm", boot.get("loadparm", "").upper())
    devno = 0
    for el in _wanting(devices):
        while devno in taken:
            devno += 1
        taken.add(devno)
        attrib = {"type": "ccw", "cssid": "0xfe", "ssid": "0x0", "devno": f"0x{devno:04x}"}
        etree.SubElement(el, "address", attrib)


@creates("address")
def mmio_addresses(root: etree._Element, ctx: Context) -> None:
    """On an ARM ``virt`` or ``vexpress`` board and a RISC-V ``virt`` one, virtio devices use
    virtio-mmio when QEMU has it and the guest has no PCI Express root (or already uses
    virtio-mmio)."""
    arch, machine = platform_of(root, caps_of(ctx))
    arm = arch in ("armv6l", "armv7l", "aarch64") and (
        is_arm_virt(arch, machine) or machine.startswith("vexpress-")
    )
    riscv = arch.startswith("riscv") and (machine == "virt" or machine.startswith("virt-"))
    if not (arm or riscv):
        return
    devices = first_child(root, "devices")
    if devices is None:
        return
    pcie = devices.find("controller[@type='pci'][@model='pcie-root']") is not None
    has_mmio = devices.find("*/address[@type='virtio-mmio']") is not None
    if (pcie and not has_mmio) or not caps_of(ctx).has("virtio-mmio"):
        return
    for el in list(_wanting(devices)):
        etree.SubElement(el, "address", {"type": "virtio-mmio"})
