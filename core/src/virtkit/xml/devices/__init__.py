"""``<devices>``: the container of every device; the modelled kinds live in this package."""

from __future__ import annotations

from typing import ClassVar

import attrs

from virtkit.xml.devices.controller import Controller
from virtkit.xml.devices.disk import Disk
from virtkit.xml.devices.graphics import Graphics
from virtkit.xml.devices.interface import Interface
from virtkit.xml.node import Element


@attrs.frozen(kw_only=True)
class Devices(Element):
    """``<devices>``: modelled devices are typed; every other device is kept verbatim."""

    TAG = "devices"
    CHILDREN: ClassVar[dict[str, type[Element]]] = {
        "disk": Disk,
        "controller": Controller,
        "interface": Interface,
        "graphics": Graphics,
    }

    @property
    def disks(self) -> tuple[Disk, ...]:
        return tuple(self.iter(Disk))

    @property
    def controllers(self) -> tuple[Controller, ...]:
        return tuple(self.iter(Controller))

    @property
    def interfaces(self) -> tuple[Interface, ...]:
        return tuple(self.iter(Interface))

    @property
    def graphics(self) -> tuple[Graphics, ...]:
        return tuple(self.iter(Graphics))


__all__ = ["Controller", "Devices", "Disk", "Graphics", "Interface"]
