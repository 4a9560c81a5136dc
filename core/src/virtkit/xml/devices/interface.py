"""``<interface>``: network interfaces."""

from __future__ import annotations

import enum
from typing import ClassVar

import attrs

from virtkit.xml.node import Attr, Element


class InterfaceType(enum.StrEnum):
    USER = "user"
    ETHERNET = "ethernet"
    VHOSTUSER = "vhostuser"
    SERVER = "server"
    CLIENT = "client"
    MCAST = "mcast"
    UDP = "udp"
    NETWORK = "network"
    BRIDGE = "bridge"
    INTERNAL = "internal"
    DIRECT = "direct"
    HOSTDEV = "hostdev"
    VDPA = "vdpa"
    NULL = "null"
    VDS = "vds"


@attrs.frozen(kw_only=True)
class MacAddress(Element):
    """``<mac address='52:54:00:..'/>``."""

    TAG = "mac"
    ATTRS = (Attr(xml="address"),)
    address: str | None = None


@attrs.frozen(kw_only=True)
class InterfaceModel(Element):
    """``<model type='virtio'/>``."""

    TAG = "model"
    ATTRS = (Attr(xml="type"),)
    type: str | None = None


@attrs.frozen(kw_only=True)
class Interface(Element):
    """``<interface type=...>``; source, target, driver and the rest are kept as written."""

    TAG = "interface"
    ATTRS = (Attr(xml="type", type=InterfaceType), Attr(xml="trustGuestRxFilters"))
    CHILDREN: ClassVar[dict[str, type[Element]]] = {"mac": MacAddress, "model": InterfaceModel}
    type: InterfaceType | None = None
    trustGuestRxFilters: str | None = None

    @property
    def mac(self) -> str | None:
        found = self.find(MacAddress)
        return found.address if found is not None else None

    @property
    def model(self) -> str | None:
        found = self.find(InterfaceModel)
        return found.type if found is not None else None
