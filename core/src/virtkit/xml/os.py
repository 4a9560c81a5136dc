"""``<os>``: the guest's OS type, architecture, machine and boot order."""

from __future__ import annotations

import enum
from typing import ClassVar

import attrs

from virtkit.xml.node import Attr, Element


class BootDevice(enum.StrEnum):
    FD = "fd"
    CDROM = "cdrom"
    HD = "hd"
    NETWORK = "network"


@attrs.frozen(kw_only=True)
class OSType(Element):
    """``<type arch=... machine=...>hvm</type>``."""

    TAG = "type"
    TEXT = str
    ATTRS = (Attr(xml="arch"), Attr(xml="machine"))
    text: str | None = None
    arch: str | None = None
    machine: str | None = None


@attrs.frozen(kw_only=True)
class Boot(Element):
    """``<boot dev=...>``: one entry of the BIOS boot order."""

    TAG = "boot"
    ATTRS = (Attr(xml="dev", type=BootDevice),)
    dev: BootDevice | None = None


@attrs.frozen(kw_only=True)
class OS(Element):
    """``<os>``; kernel, loader, firmware and the rest are kept as written."""

    TAG = "os"
    ATTRS = (Attr(xml="firmware"),)
    CHILDREN: ClassVar[dict[str, type[Element]]] = {"type": OSType, "boot": Boot}
    firmware: str | None = None

    @property
    def type(self) -> OSType | None:
        return self.find(OSType)

    @property
    def boot_devices(self) -> tuple[BootDevice, ...]:
        return tuple(b.dev for b in self.iter(Boot) if b.dev is not None)
