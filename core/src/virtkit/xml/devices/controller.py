"""``<controller>``: buses devices attach to (PCI, USB, SCSI, IDE, virtio-serial, ...)."""

from __future__ import annotations

import enum

import attrs

from virtkit.xml.node import Attr, Element


class ControllerType(enum.StrEnum):
    IDE = "ide"
    FDC = "fdc"
    SCSI = "scsi"
    SATA = "sata"
    VIRTIO_SERIAL = "virtio-serial"
    CCID = "ccid"
    USB = "usb"
    PCI = "pci"
    XENBUS = "xenbus"
    ISA = "isa"


@attrs.frozen(kw_only=True)
class Controller(Element):
    """``<controller type=... index=... model=...>``; model, driver and address kept as written."""

    TAG = "controller"
    ATTRS = (
        Attr(xml="type", type=ControllerType),
        Attr(xml="index", type=int),
        Attr(xml="model"),
    )
    type: ControllerType | None = None
    index: int | None = None
    model: str | None = None
