"""The canonical pipeline's context for the QEMU driver: the generic one plus capabilities and
the folders where libvirt's QEMU driver makes sockets."""

from __future__ import annotations

from collections.abc import Iterator

import attrs
from lxml import etree
from virtkit.xml import Context
from virtkit.xml.canonical.order import device_children

from virtkit_qemu.canonical.caps import QemuCaps


@attrs.frozen
class SocketFolders:
    """Where libvirt's QEMU driver makes the sockets a definition leaves to it: unix channels
    in ``channel_dir``, VNC in ``lib_dir``. Parsing a definition as inactive, libvirt forgets
    the paths it would have made there (a live XML given back to define), since each start
    makes its own."""

    channel_dir: str
    lib_dir: str

    @classmethod
    def of_lib_dir(cls, lib_dir: str) -> SocketFolders:
        """libvirt's folders for its QEMU driver's ``lib_dir`` (channels in
        ``channel/target`` there)."""
        return cls(channel_dir=f"{lib_dir}/channel/target", lib_dir=lib_dir)


@attrs.frozen(kw_only=True)
class QemuContext(Context):
    caps: QemuCaps = attrs.field(factory=QemuCaps)
    #: libvirt's socket folders, whose paths an inactive definition forgets; None keeps all
    sockets: SocketFolders | None = None
    #: the folder of the UEFI variable stores the driver makes; None names none
    nvram_dir: str | None = None
    #: the emulator binary a definition without ``<emulator>`` is given (the one the driver
    #: runs for it); None gives none
    emulator: str | None = None


def caps_of(ctx: Context) -> QemuCaps:
    """The capabilities a QEMU step runs with (a bare :class:`Context` gets an empty set)."""
    return ctx.caps if isinstance(ctx, QemuContext) else QemuCaps(arch=ctx.arch)


def platform_of(root: etree._Element, caps: QemuCaps) -> tuple[str, str]:
    """The guest's architecture (the emulator's when unnamed) and machine type (``""`` when
    unnamed), read in one look."""
    type_el = os_type(root)
    if type_el is None:
        return caps.arch, ""
    return type_el.get("arch") or caps.arch, type_el.get("machine") or ""


def controllers(root: etree._Element, kind: str) -> Iterator[etree._Element]:
    """``root.iterfind(f"devices/controller[@type='{kind}']")``, without lxml's path parser."""
    return (c for c in device_children(root, "controller") if c.get("type") == kind)


def devices_named(root: etree._Element, tag: str) -> list[etree._Element]:
    """``root.findall(f"devices/{tag}")`` (cheap when there is none, as for most steps in most
    domains: see :func:`~virtkit.xml.canonical.order.device_children`)."""
    return list(device_children(root, tag))


def device_parts(devices: etree._Element, tag: str) -> Iterator[etree._Element]:
    """``devices.iterfind(f"*/{tag}")`` in one walk (cheaper than lxml's path parser, or a tag
    matcher per device)."""
    for el in devices.iter(tag):
        device = el.getparent()
        if device is not None and device.getparent() is devices:
            yield el


def device_addresses(root: etree._Element, kind: str) -> Iterator[etree._Element]:
    """``root.iterfind(f"devices/*/address[@type='{kind}']")``."""
    return (
        address
        for devices in root.iterchildren("devices")
        for address in device_parts(devices, "address")
        if address.get("type") == kind
    )


def os_type(root: etree._Element) -> etree._Element | None:
    """``root.find("os/type")``, without the cost of lxml's path parser (or of a tag matcher:
    ``<os>`` has a few children)."""
    for os_el in root.iterchildren("os"):
        for child in os_el:
            if child.tag == "type":
                return child
        return None
    return None


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


def is_arm_virt(arch: str, machine: str) -> bool:
    return arch in ("armv7l", "aarch64") and (machine == "virt" or machine.startswith("virt-"))


def accel_of(root: etree._Element) -> str:
    """The QEMU accelerator whose capabilities apply: ``kvm`` for KVM domains, else ``tcg``."""
    return "kvm" if root.get("type") == "kvm" else "tcg"
