"""``<disk>``: block devices, with their source, target and driver."""

from __future__ import annotations

import enum
from typing import ClassVar

import attrs

from virtkit.xml.node import Attr, Element


class DiskType(enum.StrEnum):
    FILE = "file"
    BLOCK = "block"
    DIR = "dir"
    NETWORK = "network"
    VOLUME = "volume"
    NVME = "nvme"
    VHOSTUSER = "vhostuser"


class DiskDevice(enum.StrEnum):
    DISK = "disk"
    CDROM = "cdrom"
    FLOPPY = "floppy"
    LUN = "lun"


@attrs.frozen(kw_only=True)
class DiskSource(Element):
    """``<source>`` of a disk: a file, block device, directory, network or pool volume."""

    TAG = "source"
    ATTRS = (
        Attr(xml="file"),
        Attr(xml="dev"),
        Attr(xml="dir"),
        Attr(xml="protocol"),
        Attr(xml="name"),
        Attr(xml="pool"),
        Attr(xml="volume"),
    )
    file: str | None = None
    dev: str | None = None
    dir: str | None = None
    protocol: str | None = None
    name: str | None = None
    pool: str | None = None
    volume: str | None = None

    @property
    def path(self) -> str | None:
        """The local path (file, block device or directory), if any."""
        return self.file or self.dev or self.dir


@attrs.frozen(kw_only=True)
class DiskTarget(Element):
    """``<target dev='vda' bus='virtio'>``: how the guest sees the disk."""

    TAG = "target"
    ATTRS = (Attr(xml="dev"), Attr(xml="bus"), Attr(xml="tray"), Attr(xml="removable"))
    dev: str | None = None
    bus: str | None = None
    tray: str | None = None
    removable: str | None = None


@attrs.frozen(kw_only=True)
class DiskDriver(Element):
    """``<driver name='qemu' type='qcow2' ...>``; the less common attributes are kept as extras."""

    TAG = "driver"
    ATTRS = (Attr(xml="name"), Attr(xml="type"), Attr(xml="cache"))
    name: str | None = None
    type: str | None = None
    cache: str | None = None


@attrs.frozen(kw_only=True)
class Disk(Element):
    """``<disk type=... device=...>``."""

    TAG = "disk"
    ATTRS = (
        Attr(xml="type", type=DiskType),
        Attr(xml="device", type=DiskDevice),
        Attr(xml="model"),
        Attr(xml="rawio"),
        Attr(xml="sgio"),
        Attr(xml="snapshot"),
    )
    CHILDREN: ClassVar[dict[str, type[Element]]] = {
        "source": DiskSource,
        "target": DiskTarget,
        "driver": DiskDriver,
    }
    type: DiskType | None = None
    device: DiskDevice | None = None
    model: str | None = None
    rawio: str | None = None
    sgio: str | None = None
    snapshot: str | None = None

    @property
    def source(self) -> DiskSource | None:
        return self.find(DiskSource)

    @property
    def target(self) -> DiskTarget | None:
        return self.find(DiskTarget)

    @property
    def driver(self) -> DiskDriver | None:
        return self.find(DiskDriver)
