"""The QEMU driver's serial port defaults: the target type and model of the machine's usual
serial port, and the sPAPR VIO addresses of pseries guests."""

from __future__ import annotations

import copy

from lxml import etree
from virtkit.xml import Context
from virtkit.xml.canonical.census import acts_on, creates
from virtkit.xml.canonical.order import device_children, first_child, set_attrs_first

from virtkit_qemu.canonical.context import (
    caps_of,
    controllers,
    device_addresses,
    devices_named,
    is_arm_virt,
    is_s390,
    is_x86,
    platform_of,
)

#: serial target type -> its default model
_MODELS = {
    "isa-serial": "isa-serial",
    "usb-serial": "usb-serial",
    "pci-serial": "pci-serial",
    "spapr-vio-serial": "spapr-vty",
    "sclp-serial": "sclpconsole",
    "isa-debug": "isa-debugcon",
}

#: first sPAPR VIO register of each kind of device
_VIO_SERIAL = 0x30000000


def _default_target_type(arch: str, machine: str) -> str | None:
    if is_x86(arch):
        return "isa-serial"
    if machine.startswith("pseries"):
        return "spapr-vio-serial"
    if is_arm_virt(arch, machine) or (arch.startswith("riscv") and machine.startswith("virt")):
        return "system-serial"
    if is_s390(arch):
        return "sclp-serial"
    return None


@acts_on("serial")
@creates("target", "model")
def serial_targets(root: etree._Element, ctx: Context) -> None:
    """Serial ports without a target type (or the old ``isa-serial`` that meant the default)
    get the machine's usual one (an address on a USB or PCI bus says which); each target
    names its device model."""
    serials = devices_named(root, "serial")
    if not serials:
        return
    arch, machine = platform_of(root, caps_of(ctx))
    default = _default_target_type(arch, machine)
    for serial in serials:
        target = first_child(serial, "target")
        if target is None:
            target = etree.SubElement(serial, "target")
        kind = target.get("type")
        if kind == "isa-serial" and first_child(target, "model") is None:
            kind = None  # the historical spelling of "the default"
        if kind is None:
            address = first_child(serial, "address")
            bus = address.get("type") if address is not None else None
            kind = {"usb": "usb-serial", "pci": "pci-serial"}.get(bus or "", default)
        if kind is None:
            continue
        first = {"type": kind}
        if target.get("port") is not None:
            first["port"] = target.get("port", "")
        set_attrs_first(target, first)
        model = _MODELS.get(kind)
        if kind == "system-serial":
            model = "pl011" if is_arm_virt(arch, machine) else "16550a"
        if model and first_child(target, "model") is None:
            etree.SubElement(target, "model", {"name": model})


@creates("address")
def spapr_vio_addresses(root: etree._Element, ctx: Context) -> None:
    """pseries serial ports on the VIO bus get the next free register from 0x30000000;
    registers are written with eight digits."""
    if not platform_of(root, caps_of(ctx))[1].startswith("pseries"):
        return
    for address in device_addresses(root, "spapr-vio"):
        if address.get("reg"):
            address.set("reg", f"0x{int(address.get('reg', '0'), 0):08x}")
    taken = {int(a.get("reg", "0"), 0) for a in device_addresses(root, "spapr-vio") if a.get("reg")}
    for serial in device_children(root, "serial"):
        target = first_child(serial, "target")
        if target is None or target.get("type") != "spapr-vio-serial":
            continue
        address = first_child(serial, "address")
        if address is not None and address.get("reg"):
            continue
        reg = _VIO_SERIAL
        while reg in taken:
            reg += 0x1000
        taken.add(reg)
        if address is None:
            address = etree.SubElement(serial, "address", {"type": "spapr-vio"})
        address.set("reg", f"0x{reg:08x}")


@acts_on("console")
@creates("address")
def console_addresses(root: etree._Element, ctx: Context) -> None:
    """The first console of type serial is the first serial port: it shows that port's
    address."""
    consoles = devices_named(root, "console")
    if not consoles:
        return
    console = consoles[0]
    target = first_child(console, "target")
    serial = next(device_children(root, "serial"), None)
    if serial is None or target is None or target.get("type") != "serial":
        return
    for address in list(console.iterchildren("address")):
        console.remove(address)
    address = first_child(serial, "address")
    if address is not None:
        console.append(copy.deepcopy(address))


def _virtio_serial_ports(root: etree._Element) -> dict[int, int]:
    """virtio-serial controller index -> its number of ports (31 unless said)."""
    return {
        int(c.get("index", "0")): int(c.get("ports") or "31")
        for c in controllers(root, "virtio-serial")
    }


def _is_virtio(channel: etree._Element) -> bool:
    return any(t.get("type") == "virtio" for t in channel.iterchildren("target"))


@acts_on("channel")
@creates("address")
def virtio_serial_addresses(root: etree._Element, ctx: Context) -> None:
    """virtio channels get the lowest free port of the first virtio-serial controller with
    one (port 0 is kept for a console)."""
    channels = [c for c in devices_named(root, "channel") if _is_virtio(c)]
    if not channels:
        return
    controllers = _virtio_serial_ports(root)
    taken: set[tuple[int, int]] = set()
    for address in device_addresses(root, "virtio-serial"):
        if address.get("port") is not None:
            taken.add((int(address.get("controller", "0")), int(address.get("port", "0"))))
    for dev in channels:
        address = first_child(dev, "address")
        if address is not None and address.get("port") is not None:
            continue
        asked = int(address.get("controller", "0")) if address is not None else None
        found = next(
            (
                (index, port)
                for index in sorted(controllers)
                if asked is None or index == asked
                for port in range(1, controllers[index])
                if (index, port) not in taken
            ),
            None,
        )
        if found is None:
            continue
        taken.add(found)
        if address is None:
            address = etree.SubElement(dev, "address")
        set_attrs_first(
            address,
            {
                "type": "virtio-serial",
                "controller": str(found[0]),
                "bus": address.get("bus", "0"),
                "port": str(found[1]),
            },
        )
