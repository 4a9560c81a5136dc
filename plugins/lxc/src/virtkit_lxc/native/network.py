"""Network settings as interfaces and host devices, as libvirt converts them.

LXC 3.0 numbers its interfaces (``lxc.net.<N>.<setting>``); the legacy syntax starts a new one
at each ``lxc.network.type`` and applies the following ``lxc.network.*`` lines to it.

- ``veth``: ``<interface type='bridge'>`` on ``link``, or ``type='ethernet'`` without one;
- ``macvlan``: ``<interface type='direct'>`` on ``link`` (mode private, vepa or bridge);
- ``phys`` and ``vlan``: ``<hostdev mode='capabilities' type='net'>`` handing the host's
  ``link`` (for a VLAN ``link.<vlan.id>``, set up on the host) to the container;
- ``none``, ``empty``: no device. A container with no network setting at all gets
  ``<features><privnet/>`` (a network namespace with only loopback).

Addresses (``ipv4``/``ipv6``, LXC 3.0: ``ipv4.address``/``ipv6.address``) are ``address/prefix``;
a gateway becomes a default route. A ``hwaddr`` that is no plain MAC address (LXC's ``xx``
placeholders) is ignored, so one is generated. Any other network setting is refused, as
libvirt does.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterable

import attrs
from lxml import etree

from virtkit_lxc.native.reader import Entry, LxcConfig

_V3_KEY = re.compile(r"lxc\.net\.(?P<index>\d+)\.(?P<setting>.+)")
_LEGACY_PREFIX = "lxc.network."
_SINGLE_SETTINGS = ("type", "link", "hwaddr", "flags", "macvlan.mode", "vlan.id", "name")
_ADDRESSES = {
    "ipv4": socket.AF_INET,
    "ipv4.address": socket.AF_INET,
    "ipv6": socket.AF_INET6,
    "ipv6.address": socket.AF_INET6,
}
_GATEWAYS = {"ipv4.gateway": socket.AF_INET, "ipv6.gateway": socket.AF_INET6}
_MACVLAN_MODES = ("private", "vepa", "bridge")
_MAC = re.compile(r"[0-9a-fA-F]{1,2}(:[0-9a-fA-F]{1,2}){5}")


@attrs.define
class _Nic:
    """The settings gathered for one interface."""

    settings: dict[str, Entry] = attrs.field(factory=dict)
    addresses: list[etree._Element] = attrs.field(factory=list)

    def value(self, setting: str) -> str | None:
        entry = self.settings.get(setting)
        return entry.value if entry is not None else None


@attrs.frozen
class Network:
    """What the network settings convert to."""

    interfaces: list[etree._Element]
    hostdevs: list[etree._Element]
    #: no network setting at all: a private namespace with only loopback
    privnet: bool


def convert_network(config: LxcConfig) -> Network:
    """Read every ``lxc.net.*`` and ``lxc.network.*`` entry."""
    nics = _gather(config.entries)
    interfaces: list[etree._Element] = []
    hostdevs: list[etree._Element] = []
    for nic in nics:
        device = _device(nic)
        if device is None:
            continue
        (hostdevs if device.tag == "hostdev" else interfaces).append(device)
    return Network(interfaces, hostdevs, privnet=not nics)


def _gather(entries: Iterable[Entry]) -> list[_Nic]:
    numbered: dict[int, _Nic] = {}
    nics: list[_Nic] = []
    for entry in entries:
        if entry.key.startswith(_LEGACY_PREFIX):
            setting = entry.key.removeprefix(_LEGACY_PREFIX)
            if setting == "type":
                nics.append(_Nic())
            elif not nics:
                raise entry.invalid("network setting before any lxc.network.type line")
            _apply(nics[-1], setting, entry)
        elif entry.key.startswith("lxc.net."):
            match = _V3_KEY.fullmatch(entry.key)
            if match is None:
                raise entry.invalid("expected lxc.net.<index>.<setting>")
            index = int(match["index"])
            if index not in numbered:
                numbered[index] = _Nic()
                nics.append(numbered[index])
            _apply(numbered[index], match["setting"], entry)
    return nics


def _apply(nic: _Nic, setting: str, entry: Entry) -> None:
    if setting in _SINGLE_SETTINGS or setting in _GATEWAYS:
        nic.settings[setting] = entry
    elif setting in _ADDRESSES:
        nic.addresses.append(_ip(entry, _ADDRESSES[setting]))
    else:
        raise entry.unsupported("network setting not supported by the conversion")


def _address(entry: Entry, text: str, family: socket.AddressFamily) -> str:
    """``text`` in its canonical spelling; raises when it is no address of ``family``."""
    try:
        return socket.inet_ntop(family, socket.inet_pton(family, text))
    except OSError:
        kind = "IPv4" if family == socket.AF_INET else "IPv6"
        raise entry.invalid(f"invalid {kind} address {text!r}") from None


def _ip(entry: Entry, family: socket.AddressFamily) -> etree._Element:
    address, slash, prefix = entry.value.partition("/")
    if not slash or not prefix.isdigit():
        raise entry.invalid(f"invalid CIDR address {entry.value!r} (expected address/prefix)")
    return etree.Element(
        "ip",
        address=_address(entry, address, family),
        family="ipv4" if family == socket.AF_INET else "ipv6",
        prefix=str(int(prefix)),
    )


def _routes(nic: _Nic) -> list[etree._Element]:
    routes = []
    for setting, family in _GATEWAYS.items():
        entry = nic.settings.get(setting)
        if entry is None:
            continue
        ipv4 = family == socket.AF_INET
        routes.append(
            etree.Element(
                "route",
                family="ipv4" if ipv4 else "ipv6",
                address="0.0.0.0" if ipv4 else "::",
                gateway=_address(entry, entry.value, family),
            )
        )
    return routes


def _device(nic: _Nic) -> etree._Element | None:
    kind = nic.value("type")
    if kind in (None, "", "empty", "none"):
        return None
    if kind in ("phys", "vlan"):
        return _hostdev(nic, kind)
    if kind in ("veth", "macvlan"):
        return _interface(nic, kind)
    entry = nic.settings["type"]
    raise entry.unsupported(f"network type {kind!r} (supported: veth, macvlan, vlan, phys, none)")


def _required_link(nic: _Nic) -> str:
    link = nic.value("link")
    if not link:
        entry = nic.settings["type"]
        raise entry.unsupported(f"a {entry.value} interface needs a 'link' setting")
    return link


def _hostdev(nic: _Nic, kind: str) -> etree._Element:
    link = _required_link(nic)
    vlan = nic.value("vlan.id")
    hostdev = etree.Element("hostdev", mode="capabilities", type="net")
    source = etree.SubElement(hostdev, "source")
    etree.SubElement(source, "interface").text = (
        f"{link}.{vlan}" if kind == "vlan" and vlan else link
    )
    hostdev.extend([*nic.addresses, *_routes(nic)])
    return hostdev


def _interface(nic: _Nic, kind: str) -> etree._Element:
    link = nic.value("link")
    if kind == "veth":
        iface = etree.Element("interface", type="bridge" if link else "ethernet")
        source = etree.Element("source", bridge=link) if link else None
    else:
        link = _required_link(nic)
        mode = nic.value("macvlan.mode") or "private"
        if mode not in _MACVLAN_MODES:
            entry = nic.settings["macvlan.mode"]
            raise entry.unsupported(f"macvlan mode {mode!r} (supported: private, vepa, bridge)")
        iface = etree.Element("interface", type="direct")
        source = etree.Element("source", dev=link, mode=mode)
    mac = nic.value("hwaddr")
    if mac is not None and _MAC.fullmatch(mac):
        octets = (int(part, 16) for part in mac.split(":"))
        etree.SubElement(iface, "mac", address=":".join(f"{o:02x}" for o in octets))
    if source is not None:
        iface.append(source)
    iface.extend([*nic.addresses, *_routes(nic)])
    name = nic.value("name")
    if name:
        etree.SubElement(iface, "guest", dev=name)
    etree.SubElement(iface, "link", state="up" if nic.value("flags") == "up" else "down")
    return iface
