"""What the command-line builders share: the growing argument list and the XML helpers."""

from __future__ import annotations

import attrs
from lxml import etree
from virtkit.errors import ConfigUnsupportedError, XMLError
from virtkit.xml.canonical.order import first_child

from virtkit_qemu.argv.defaults import PciAddress, PciSlots, format_pci, root_bus


def where(el: etree._Element) -> str:
    """``/domain/devices/disk[2]``: how errors name an element (by path: line numbers would
    be those of the re-serialized definition, not of the user's file)."""
    return str(el.getroottree().getpath(el))


def unsupported(el: etree._Element, what: str) -> ConfigUnsupportedError:
    return ConfigUnsupportedError(f"the QEMU driver does not support {what} at {where(el)}")


def allowed(el: etree._Element, attribute: str, values: tuple[str, ...], default: str) -> str:
    """The attribute's value, refused unless it is one of ``values``."""
    value = el.get(attribute, default)
    if value not in values:
        raise unsupported(el, f"{attribute}='{value}' (supported: {', '.join(values)})")
    return str(value)


def child_text(el: etree._Element, tag: str) -> str | None:
    """``el.findtext(tag)`` for a plain tag, without the cost of lxml's path parser."""
    return text_of(first_child(el, tag))


def first_children(el: etree._Element) -> dict[str, etree._Element]:
    """The first child element of each tag, in one pass (each :func:`first_child` call sets up
    a tag matcher of its own)."""
    found: dict[str, etree._Element] = {}
    for child in el:
        if isinstance(child.tag, str):
            found.setdefault(child.tag, child)
    return found


def text_of(el: etree._Element | None) -> str | None:
    """The element's text (``""`` when empty), ``None`` without the element."""
    return None if el is None else (el.text or "")


def local_name(el: etree._Element) -> str:
    """The element's tag without its namespace (``etree.QName(el).localname``, cheaper)."""
    tag = str(el.tag)
    return tag.rpartition("}")[2] if tag[0] == "{" else tag


def check_children(el: etree._Element, known: set[str]) -> None:
    """Refuse any child element not in ``known``: nothing asked for is silently ignored."""
    for child in el:
        if not isinstance(child.tag, str):
            continue  # comments, processing instructions
        if local_name(child) not in known:
            raise unsupported(child, f"<{local_name(child)}>")


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
    pci_buses: set[int] = attrs.field(factory=lambda: {0})
    """indexes of the PCI buses made so far (0: the machine's root bus)"""
    runtime_dir: str | None = None
    """the domain's run-time folder, where its unix channels without a path listen"""

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

    def bus_id(self, bus: int) -> str:
        """QEMU's id of PCI bus ``bus``: the root bus's, else ``pci.N`` (the controller with
        index N, libvirt's naming)."""
        return root_bus(self.machine) if bus == 0 else f"pci.{bus}"

    def xml_pci_address(self, device_el: etree._Element, what: str) -> PciAddress | None:
        """The ``<address type='pci'>`` of ``device_el`` (``None`` without one), checked:
        domain 0, on a bus made so far."""
        addr = first_child(device_el, "address")
        return None if addr is None else self._checked_pci(addr, what)

    def _checked_pci(self, addr: etree._Element, what: str) -> PciAddress:
        """``<address>`` ``addr`` of a device, checked as :meth:`xml_pci_address` says."""
        if addr.get("type") != "pci":
            raise unsupported(addr, f"address type '{addr.get('type')}' for {what}")
        if integer(addr, "domain", 0) != 0:
            raise unsupported(addr, "PCI domains other than 0000")
        bus = integer(addr, "bus", 0)
        if bus not in self.pci_buses:
            raise XMLError(
                f"{where(addr)}: PCI bus 0x{bus:02x} of {what} has no <controller type='pci' "
                f"index='{bus}'> before it"
            )
        return bus, integer(addr, "slot"), integer(addr, "function", 0)

    def placement(self, address: PciAddress, multifunction: bool = False) -> str:
        """``bus=...,addr=0xS[.0xF][,multifunction=on]``."""
        bus, slot, function = address
        text = f"bus={self.bus_id(bus)},addr=0x{slot:x}" + (f".0x{function:x}" if function else "")
        return text + (",multifunction=on" if multifunction else "")

    def pci_address(self, device_el: etree._Element, what: str) -> str:
        """The placement of a PCI device: its ``<address>`` (taken, so no other device gets
        it) or the next free slot of the root bus."""
        addr = first_child(device_el, "address")
        if addr is None:
            return self.next_pci(what)
        address = self._checked_pci(addr, what)
        self.pci.reserve(address, what)
        return self.placement(address, addr.get("multifunction") == "on")

    def next_pci(self, what: str) -> str:
        """``bus=...,addr=0xN`` of the next free slot on the root bus."""
        return self.placement((0, self.pci.next(what), 0))

    def builtin_address(self, device_el: etree._Element, address: PciAddress, what: str) -> None:
        """Check a built-in device (created with the machine) is not asked to be elsewhere."""
        found = self.xml_pci_address(device_el, what)
        if found is not None and found != address:
            raise unsupported(
                device_el,
                f"{what} at PCI address {format_pci(found)} (it is built into the machine at "
                f"{format_pci(address)})",
            )
