"""What the command-line builders share: the growing argument list and the XML helpers."""

from __future__ import annotations

import attrs
from lxml import etree
from virtkit.errors import ConfigUnsupportedError, XMLError

from virtkit_qemu.argv.defaults import PciSlots, root_bus


def where(el: etree._Element) -> str:
    """``</domain/devices/disk[2]>``: how errors name an element (by path: line numbers would
    be those of the re-serialized definition, not of the user's file)."""
    return f"<{el.getroottree().getpath(el)}>"


def unsupported(el: etree._Element, what: str) -> ConfigUnsupportedError:
    return ConfigUnsupportedError(f"the QEMU driver does not support {what} in {where(el)}")


def allowed(el: etree._Element, attribute: str, values: tuple[str, ...], default: str) -> str:
    """The attribute's value, refused unless it is one of ``values``."""
    value = el.get(attribute, default)
    if value not in values:
        raise unsupported(el, f"{attribute}='{value}' (supported: {', '.join(values)})")
    return str(value)


def check_children(el: etree._Element, known: set[str]) -> None:
    """Refuse any child element not in ``known``: nothing asked for is silently ignored."""
    for child in el:
        if not isinstance(child.tag, str):
            continue  # comments, processing instructions
        if etree.QName(child).localname not in known:
            raise unsupported(child, f"<{etree.QName(child).localname}>")


def integer(el: etree._Element, attribute: str, default: int | None = None) -> int:
    value = el.get(attribute)
    if value is None:
        if default is None:
            raise XMLError(f"{where(el)} is missing attribute '{attribute}'")
        return default
    try:
        return int(value, 0)
    except ValueError:
        raise XMLError(f"{where(el)}: {attribute}='{value}' is not a number") from None


@attrs.define
class BuildContext:
    """State of one translation: arguments so far, the machine and its PCI slots, taps to plug
    into bridges once QEMU runs, and counters for device ids."""

    machine: str
    args: list[str] = attrs.field(factory=list)
    taps: list[tuple[str, str | None]] = attrs.field(factory=list)
    pci: PciSlots = attrs.field(init=False)
    counters: dict[str, int] = attrs.field(factory=dict)
    serial_aliases: list[str] = attrs.field(factory=list)

    def __attrs_post_init__(self) -> None:
        self.pci = PciSlots(self.machine)

    def add(self, option: str, value: str | None = None) -> None:
        self.args.append(option)
        if value is not None:
            self.args.append(value)

    def count(self, kind: str) -> int:
        """0, 1, 2... per ``kind``: the index of the next device of that kind."""
        value = self.counters.get(kind, 0)
        self.counters[kind] = value + 1
        return value

    def pci_address(self, device_el: etree._Element, what: str) -> str:
        """``bus=pci.0,addr=0xN`` for a PCI device: its ``<address>`` or the next free slot."""
        addr = device_el.find("address")
        if addr is not None and addr.get("type") == "pci":
            if integer(addr, "domain", 0) != 0 or integer(addr, "bus", 0) != 0:
                raise unsupported(addr, "PCI buses other than 0000:00")
            slot = integer(addr, "slot")
            self.pci.reserve(slot, what)
            function = integer(addr, "function", 0)
            return f"bus={root_bus(self.machine)},addr=0x{slot:x}" + (
                f".0x{function:x}" if function else ""
            )
        if addr is not None and addr.get("type") not in (None, "pci"):
            raise unsupported(addr, f"address type '{addr.get('type')}' for {what}")
        return self.next_pci(what)

    def next_pci(self, what: str) -> str:
        """``bus=...,addr=0xN`` of the next free slot on the root bus."""
        return f"bus={root_bus(self.machine)},addr=0x{self.pci.next(what):x}"
