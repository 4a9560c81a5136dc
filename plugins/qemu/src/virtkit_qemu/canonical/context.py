"""The canonical pipeline's context for the QEMU driver: the generic one plus capabilities."""

from __future__ import annotations

from collections.abc import Iterator

import attrs
from lxml import etree
from virtkit.xml import Context
from virtkit.xml.canonical.order import device_children

from virtkit_qemu.canonical.caps import QemuCaps


@attrs.frozen(kw_only=True)
class QemuContext(Context):
    caps: QemuCaps = attrs.field(factory=QemuCaps)


def caps_of(ctx: Context) -> QemuCaps:
    """The capabilities a QEMU step runs with (a bare :class:`Context` gets an empty set)."""
    return ctx.caps if isinstance(ctx, QemuContext) else QemuCaps(arch=ctx.arch)


def arch_of(root: etree._Element, ctx: Context) -> str:
    return arch_of_tree(root, caps_of(ctx))


def controllers(root: etree._Element, kind: str) -> Iterator[etree._Element]:
    """``root.iterfind(f"devices/controller[@type='{kind}']")``, without lxml's path parser."""
    return (c for c in device_children(root, "controller") if c.get("type") == kind)


def device_addresses(root: etree._Element, kind: str) -> Iterator[etree._Element]:
    """``root.iterfind(f"devices/*/address[@type='{kind}']")``, without lxml's path parser."""
    return (
        address
        for device in device_children(root, "*")
        for address in device.iterchildren("address")
        if address.get("type") == kind
    )


def os_type(root: etree._Element) -> etree._Element | None:
    """``root.find("os/type")``, without the cost of lxml's path parser."""
    for os_el in root.iterchildren("os"):
        for type_el in os_el.iterchildren("type"):
            return type_el
    return None


def arch_of_tree(root: etree._Element, caps: QemuCaps) -> str:
    type_el = os_type(root)
    arch = type_el.get("arch") if type_el is not None else None
    return arch or caps.arch


def machine_of(root: etree._Element) -> str:
    type_el = os_type(root)
    return (type_el.get("machine") if type_el is not None else None) or ""


def is_x86(arch: str) -> bool:
    return arch in ("i686", "x86_64")


def is_i440fx(machine: str) -> bool:
    """``pc`` and its versions (``pc-i440fx-*``, and the old ``pc-0.*``/``pc-1.*``); not
    ``pc-q35-*``."""
    return machine == "pc" or machine.startswith(("pc-i440fx", "pc-0.", "pc-1."))


def is_ppc64(arch: str) -> bool:
    return arch in ("ppc64", "ppc64le")


def is_s390(arch: str) -> bool:
    return arch in ("s390", "s390x")


def is_arm_virt(root: etree._Element, arch: str) -> bool:
    machine = machine_of(root)
    return arch in ("armv7l", "aarch64") and (machine == "virt" or machine.startswith("virt-"))


def accel_of(root: etree._Element) -> str:
    """The QEMU accelerator whose capabilities apply: ``kvm`` for KVM domains, else ``tcg``."""
    return "kvm" if root.get("type") == "kvm" else "tcg"
