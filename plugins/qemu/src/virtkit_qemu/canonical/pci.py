"""PCI addresses as libvirt's QEMU driver assigns them.

The machine's buses are the ``<controller type='pci'>`` of the definition. Slots the machine
itself fixes come first (the PIIX3 functions of slot 1 and the primary video in slot 2 on
i440fx; SATA 0:1f.2, the ICH9 USB functions and the primary video in slot 1 on q35); then the
devices without an address, kind by kind in libvirt's order, each on the lowest free slot of
the first bus that accepts it. On a PCI Express machine, endpoints go behind
``pcie-root-port`` controllers, which are added as needed (plus one spare for hotplug) and
packed eight to a slot of the root bus.
"""

from __future__ import annotations

import attrs
from lxml import etree
from virtkit.xml import Context
from virtkit.xml.canonical.census import acts_on, creates
from virtkit.xml.canonical.devices import USB2_FAMILY, append_controller
from virtkit.xml.canonical.order import first_child, set_attrs_first

from virtkit_qemu.argv.context import first_children
from virtkit_qemu.argv.defaults import is_q35
from virtkit_qemu.canonical.caps import QemuCaps
from virtkit_qemu.canonical.context import (
    caps_of,
    is_i440fx,
    is_s390,
    platform_of,
)
from virtkit_qemu.canonical.devices import add_controllers
from virtkit_qemu.canonical.pci_devices import (
    DMI_BRIDGE,
    DOWNSTREAM_PORT,
    PCI,
    PCI_BRIDGE,
    PCIE,
    PCIE_PCI_BRIDGE,
    ROOT_PORT,
    controller_kind,
    device_order,
)

#: bus controller model -> (first slot, last slot, what it accepts)
_BUSES = {
    "pci-root": (1, 31, {PCI, PCI_BRIDGE}),
    "pcie-root": (1, 31, {ROOT_PORT, DMI_BRIDGE}),
    "pci-bridge": (1, 31, {PCI, PCI_BRIDGE}),
    "dmi-to-pci-bridge": (0, 31, {PCI_BRIDGE}),
    "pcie-to-pci-bridge": (1, 31, {PCI}),
    "pcie-root-port": (0, 0, {PCIE, PCIE_PCI_BRIDGE}),
    "pcie-switch-downstream-port": (0, 0, {PCIE, PCIE_PCI_BRIDGE}),
    "pcie-switch-upstream-port": (0, 31, {DOWNSTREAM_PORT}),
    "pci-expander-bus": (0, 31, {PCI, PCI_BRIDGE}),
    "pcie-expander-bus": (0, 31, {ROOT_PORT}),
}

#: controller model -> the QEMU device libvirt names in ``<model name>``
_MODEL_NAMES = {
    "pci-bridge": "pci-bridge",
    "dmi-to-pci-bridge": "i82801b11-bridge",
    "pcie-root-port": "pcie-root-port",
    "pcie-switch-upstream-port": "x3130-upstream",
    "pcie-switch-downstream-port": "xio3130-downstream",
    "pci-expander-bus": "pxb",
    "pcie-expander-bus": "pxb-pcie",
    "pcie-to-pci-bridge": "pcie-pci-bridge",
}


@attrs.define
class Bus:
    index: int
    model: str
    used: dict[int, set[int]] = attrs.field(factory=dict)
    #: the slots that hold root ports, whose free functions take more root ports
    aggregate: set[int] = attrs.field(factory=set)
    #: its first and last slot, and the kinds of device it accepts (from its model)
    first: int = attrs.field(init=False)
    last: int = attrs.field(init=False)
    kinds: set[str] = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.first, self.last, self.kinds = _BUSES.get(self.model, (1, 0, set()))

    def free_slot(self) -> int | None:
        used = self.used
        for slot in range(self.first, self.last + 1):
            if not used.get(slot):
                return slot
        return None

    def free_port_function(self) -> tuple[int, int] | None:
        """Where a root port goes: the lowest slot that is free (function 0) or holds root
        ports and has a free function (libvirt packs them eight to a slot)."""
        for slot in range(self.first, self.last + 1):
            used = self.used.get(slot)
            if not used:
                return slot, 0
            if slot in self.aggregate and len(used) < 8:
                return slot, min(set(range(8)) - used)
        return None


@attrs.define
class Addresses:
    """The buses of one machine and the functions in use on them."""

    buses: dict[int, Bus]

    def in_use(self, bus: int, slot: int) -> bool:
        return bool(self.buses[bus].used.get(slot)) if bus in self.buses else False

    def take(self, bus: int, slot: int, function: int, *, root_port: bool = False) -> None:
        if bus in self.buses:
            self.buses[bus].used.setdefault(slot, set()).add(function)
            if root_port:
                self.buses[bus].aggregate.add(slot)

    def next_free(self, kind: str) -> tuple[int, int, int] | None:
        """The first bus, slot and function free for a device of ``kind``."""
        for index in sorted(self.buses):
            bus = self.buses[index]
            if kind not in bus.kinds:
                continue
            if kind == ROOT_PORT:
                found = bus.free_port_function()
                if found is not None:
                    return bus.index, *found
                continue
            slot = bus.free_slot()
            if slot is not None:
                return bus.index, slot, 0
        return None


def _is_root_port(el: etree._Element | None) -> bool:
    return el is not None and el.tag == "controller" and el.get("model") == "pcie-root-port"


def _is_empty_pci(address: etree._Element) -> bool:
    """``<address type='pci'/>`` naming no slot: libvirt picks one."""
    return address.get("type") == "pci" and not any(
        _int(address.get(name)) for name in ("domain", "bus", "slot", "function")
    )


def _set_address(
    el: etree._Element, address: etree._Element | None, bus: int, slot: int, function: int
) -> etree._Element:
    """Write the PCI address of ``el`` (into its empty ``<address type='pci'>`` ``address``,
    keeping its children); the ``<address>`` written."""
    spelled = {
        "type": "pci",
        "domain": "0x0000",
        "bus": f"0x{bus:02x}",
        "slot": f"0x{slot:02x}",
        "function": f"0x{function:x}",
    }
    if address is None:
        return etree.SubElement(el, "address", spelled)
    rest = {k: v for k, v in address.attrib.items() if k not in spelled}
    address.attrib.clear()
    address.attrib.update({**spelled, **rest})
    return address


def _int(value: str | None) -> int:
    return int(value or "0", 0)


@attrs.frozen
class _Devices:
    """The devices as an assignment run starts, read once (a run adds addresses only). The
    devices to place are those of the first ``<devices>``; the buses, and the addresses in use,
    those of every ``<devices>``."""

    #: the devices of the first ``<devices>`` by tag, in document order
    by_tag: dict[str, list[etree._Element]]
    #: the PCI controllers, in document order
    pci_controllers: list[etree._Element]
    #: the ``<address>`` children of the devices, in document order
    addresses: list[etree._Element]
    #: each device's first ``<address>``
    address_of: dict[etree._Element, etree._Element]

    @classmethod
    def read(cls, root: etree._Element) -> _Devices:
        """The devices of ``<domain>`` ``root`` (which has a ``<devices>``)."""
        sections = list(root.iterchildren("devices"))
        by_tag: dict[str, list[etree._Element]] = {}
        for el in sections[0].iterchildren("*"):
            by_tag.setdefault(el.tag, []).append(el)
        pci_controllers = [
            c for s in sections for c in s.iterchildren("controller") if c.get("type") == "pci"
        ]
        addresses: list[etree._Element] = []
        address_of: dict[etree._Element, etree._Element] = {}
        for section in sections:
            for address in section.iter("address"):  # a device's own, not its parts'
                device = address.getparent()
                if device is not None and device.getparent() is section:
                    addresses.append(address)
                    address_of.setdefault(device, address)
        return cls(by_tag, pci_controllers, addresses, address_of)

    def each(self, tag: str) -> list[etree._Element]:
        return self.by_tag.get(tag, [])

    def buses(self) -> Addresses:
        """The PCI buses and the functions the devices' addresses use."""
        buses: dict[int, Bus] = {}
        for ctrl in self.pci_controllers:
            index = _int(ctrl.get("index"))
            buses[index] = Bus(index, ctrl.get("model") or "pci-bridge")
        addresses = Addresses(buses)
        for address in self.addresses:
            if address.get("type") != "pci" or _is_empty_pci(address):
                continue
            addresses.take(
                _int(address.get("bus")),
                _int(address.get("slot")),
                _int(address.get("function")),
                root_port=_is_root_port(address.getparent()),
            )
        return addresses


@attrs.define
class _Plan:
    """What one assignment run needs: the devices, the address set and the machine."""

    devices: _Devices
    addresses: Addresses
    machine: str
    pcie_machine: bool
    caps: QemuCaps
    dry_run: bool = False
    grown: list[str] = attrs.field(factory=list)
    #: (bus, slot, function) of each device placed by this run (a dry run writes no address)
    placed_at: dict[etree._Element, tuple[int, int, int]] = attrs.field(factory=dict)
    #: the ``<address>`` elements this run added to devices that had none
    added: list[etree._Element] = attrs.field(factory=list)

    def wanted(self, el: etree._Element) -> bool:
        if el in self.placed_at:
            return False
        address = self.devices.address_of.get(el)
        return address is None or _is_empty_pci(address)

    def place(self, el: etree._Element, bus: int, slot: int, function: int = 0) -> None:
        self.addresses.take(bus, slot, function, root_port=_is_root_port(el))
        self.placed_at[el] = (bus, slot, function)
        if not self.dry_run:
            self._write(el, bus, slot, function)

    def write(self) -> None:
        """Write the addresses a dry run found."""
        for el, (bus, slot, function) in self.placed_at.items():
            self._write(el, bus, slot, function)

    def _write(self, el: etree._Element, bus: int, slot: int, function: int) -> None:
        address = self.devices.address_of.get(el)
        written = _set_address(el, address, bus, slot, function)
        if address is None:
            self.added.append(written)

    def pci_addresses(self) -> list[etree._Element]:
        """The PCI addresses of all devices once this run has written its own."""
        return [a for a in self.devices.addresses if a.get("type") == "pci"] + self.added

    def reserve_next(self, el: etree._Element, kind: str, function: int = 0) -> None:
        """Place ``el`` at the first free address for ``kind`` (a root port: at the free
        function found; anything else: at ``function`` of a free slot)."""
        found = self.addresses.next_free(kind)
        if found is None and self.dry_run:
            found = self._grow(kind)
        if found is not None:
            bus, slot, free_function = found
            self.place(el, bus, slot, free_function if kind == ROOT_PORT else function)

    def _grow(self, kind: str) -> tuple[int, int, int] | None:
        """Add the buses a device of ``kind`` needs (a dry run finds out how many)."""
        index = max(self.addresses.buses) + 1
        if kind == PCIE:
            self.grown.append("pcie-root-port")
            self.addresses.buses[index] = Bus(index, "pcie-root-port")
            return index, 0, 0
        if kind == PCI and self.pcie_machine and self.caps.has("pcie-pci-bridge"):
            self.grown += ["pcie-root-port", "pcie-to-pci-bridge"]
            self.addresses.buses[index] = Bus(index, "pcie-root-port", {0: {0}})
            self.addresses.buses[index + 1] = Bus(index + 1, "pcie-to-pci-bridge")
            return index + 1, 1, 0
        if kind == PCI and self.pcie_machine:
            self.grown += ["dmi-to-pci-bridge", "pci-bridge"]
            self.addresses.buses[index] = Bus(index, "dmi-to-pci-bridge", {0: {0}})
            self.addresses.buses[index + 1] = Bus(index + 1, "pci-bridge")
            return index + 1, 1, 0
        if kind in (PCI, PCI_BRIDGE) and not self.pcie_machine:
            self.grown.append("pci-bridge")
            self.addresses.buses[index] = Bus(index, "pci-bridge")
            return index, 1, 0
        return None


#: q35's slots for the first two sets of ICH9 USB2 controllers, by controller index
_Q35_USB2_SLOTS = {0: 0x1D, 1: 0x1A}


def _fixed_slots(plan: _Plan) -> None:
    """The addresses the chipset fixes, the primary video card, and the virtio IOMMU (built
    into the root bus)."""
    devices, addresses, machine = plan.devices, plan.addresses, plan.machine
    video_slot = None
    if is_i440fx(machine) and 0 in addresses.buses:
        for ctrl in devices.each("controller"):
            kind = ctrl.get("type")
            if kind not in ("ide", "usb") or _int(ctrl.get("index")) != 0:
                continue  # (the chipset fixes nothing else; PCI controllers are most)
            model = ctrl.get("model")
            if not plan.wanted(ctrl):
                continue
            if kind == "ide":
                plan.place(ctrl, 0, 1, 1)
            elif kind == "usb" and model in (None, "piix3-uhci"):
                plan.place(ctrl, 0, 1, 2)
        addresses.take(0, 1, 0)
        video_slot = 2
    elif is_q35(machine) and 0 in addresses.buses:
        for ctrl in devices.each("controller"):
            kind = ctrl.get("type")
            if kind not in ("sata", "usb"):
                continue  # (the chipset fixes nothing else; PCI controllers are most)
            index, model = _int(ctrl.get("index")), ctrl.get("model")
            usb_slot = _Q35_USB2_SLOTS.get(index) if kind == "usb" else None
            if not plan.wanted(ctrl):
                continue
            if kind == "sata" and index == 0:
                plan.place(ctrl, 0, 0x1F, 2)
            elif usb_slot is not None and model == "ich9-ehci1":
                plan.place(ctrl, 0, usb_slot, 7)
            elif usb_slot is not None and (model or "").startswith("ich9-uhci"):
                plan.place(ctrl, 0, usb_slot, int(model[-1]) - 1)
        for ctrl in devices.each("controller"):
            if ctrl.get("type") != "pci" or ctrl.get("model") != "dmi-to-pci-bridge":
                continue
            if plan.wanted(ctrl) and not addresses.in_use(0, 0x1E):
                plan.place(ctrl, 0, 0x1E, 0)
                break
        for sound in devices.each("sound"):
            if sound.get("model") == "ich9" and plan.wanted(sound):
                plan.place(sound, 0, 0x1B, 0)
        addresses.take(0, 0x1F, 0)
        addresses.take(0, 0x1F, 3)
        video_slot = 1
    video = next(iter(devices.each("video")), None)
    model = first_child(video, "model") if video is not None else None
    primary = (
        video_slot is not None
        and video is not None
        and model is not None
        and model.get("type") != "none"
        and plan.wanted(video)
    )
    if primary and video is not None and video_slot is not None:
        if addresses.in_use(0, video_slot):
            plan.reserve_next(video, PCI)
        else:
            plan.place(video, 0, video_slot, 0)
    for iommu in devices.each("iommu"):
        if iommu.get("model") != "virtio":
            continue
        free = addresses.buses[0].free_slot() if 0 in addresses.buses else None
        if plan.wanted(iommu) and free is not None:
            plan.place(iommu, 0, free, 0)


def _assign(plan: _Plan) -> None:
    _fixed_slots(plan)
    for ctrl in plan.devices.pci_controllers:
        kind = controller_kind(ctrl, plan.pcie_machine)
        if kind is not None and plan.wanted(ctrl):
            plan.reserve_next(ctrl, kind)
    for el, kind in device_order(plan.devices.by_tag, plan.pcie_machine):
        if not plan.wanted(el):
            continue
        if el.tag == "controller" and el.get("model") in USB2_FAMILY:
            _place_usb2(plan, el, kind)
        else:
            plan.reserve_next(el, kind)


def _place_usb2(plan: _Plan, ctrl: etree._Element, kind: str) -> None:
    """A USB2 controller and its companions take functions of one slot: the EHCI function 7,
    each companion the function of its first port / 2."""
    if ctrl.get("model") == "ich9-ehci1":
        function = 7
    else:
        master = first_child(ctrl, "master")
        function = _int(master.get("startport")) // 2 if master is not None else 0
    for other in plan.devices.each("controller"):
        if other is ctrl or other.get("type") != "usb" or other.get("model") not in USB2_FAMILY:
            continue
        if other.get("index") != ctrl.get("index"):
            continue
        if other in plan.placed_at:  # (before its address: a dry run wrote none)
            bus, slot, _ = plan.placed_at[other]
            plan.place(ctrl, bus, slot, function)
            return
        address = plan.devices.address_of.get(other)
        if address is not None and address.get("type") == "pci":
            plan.place(ctrl, _int(address.get("bus")), _int(address.get("slot")), function)
            return
    plan.reserve_next(ctrl, kind, function)


def _multifunction(addresses: list[etree._Element]) -> None:
    """Function 0 of a slot with other functions in use says ``multifunction='on'``
    (``addresses``: the devices' PCI addresses)."""
    found = [
        (a, (_int(a.get("bus")), _int(a.get("slot"))), _int(a.get("function"))) for a in addresses
    ]
    functions: dict[tuple[int, int], set[int]] = {}
    for _, slot, function in found:
        functions.setdefault(slot, set()).add(function)
    for a, slot, function in found:
        if function == 0 and len(functions[slot]) > 1 and not a.get("multifunction"):
            a.set("multifunction", "on")


def _controller_details(plan: _Plan) -> None:
    """PCI controllers name their QEMU model; ports and bridges get their chassis and port,
    pseries host bridges their index, expander buses a bus number (libvirt's pick: two below
    the lowest one taken, 254 for the first)."""
    caps = plan.caps
    pseries = plan.machine.startswith("pseries")
    host_bridges = 0
    lowest_bus_nr = min(
        (
            _int(t.get("busNr"))
            for c in plan.devices.pci_controllers
            for t in c.iterchildren("target")
            if t.get("busNr")
        ),
        default=256,
    )
    for ctrl in plan.devices.pci_controllers:
        model = ctrl.get("model") or ""
        index = _int(ctrl.get("index"))
        name = _MODEL_NAMES.get(model)
        if model == "pcie-root-port" and not caps.has("pcie-root-port") and caps.has("ioh3420"):
            name = "ioh3420"
        if model == "pci-root" and pseries:
            name = "spapr-pci-host-bridge"
        children = first_children(ctrl)
        model_el = children.get("model")
        if name and model_el is None:
            model_el = ctrl.makeelement("model", {"name": name})
            ctrl.insert(0, model_el)
        defaults: dict[str, str] = {}
        address = children.get("address")
        if model in ("pcie-root-port", "pcie-switch-downstream-port"):
            defaults["chassis"] = str(index)
            if address is not None:  # a switch's ports are numbered by slot
                port = _int(address.get("slot"))
                if model == "pcie-root-port":
                    port = (port << 3) + _int(address.get("function"))
                defaults["port"] = f"0x{port:x}"
        elif model == "pci-bridge":
            defaults["chassisNr"] = str(index)
        elif model == "pci-root" and pseries:
            defaults["index"] = str(host_bridges)
            host_bridges += 1
        elif model in ("pci-expander-bus", "pcie-expander-bus") and lowest_bus_nr > 2:
            target = children.get("target")
            if target is None or target.get("busNr") is None:
                # two below the lowest bus number taken: the expander's own bridge uses one
                lowest_bus_nr -= 2
                defaults["busNr"] = str(lowest_bus_nr)
        if defaults:
            target = children.get("target")
            if target is None:
                target = ctrl.makeelement("target")
                ctrl.insert(1 if model_el is not None else 0, target)
            for key, value in defaults.items():
                if target.get(key) is None:
                    target.set(key, value)
        if address is not None:
            ctrl.remove(address)
            ctrl.append(address)


def _add_missing_bridges(element: etree._Element, devices: _Devices, addresses: Addresses) -> bool:
    """On a conventional PCI machine, a pci-bridge for every bus number below the highest one
    a controller or an address names that no controller has, appended in order as libvirt
    adds them; whether any was added."""
    named = [
        _int(a.get("bus"))
        for a in devices.addresses
        if a.get("type") == "pci" and not _is_empty_pci(a) and _int(a.get("domain")) == 0
    ]
    missing = [i for i in range(1, max([*addresses.buses, *named]) + 1) if i not in addresses.buses]
    for index in missing:
        append_controller(element, "pci", index, "pci-bridge")
    return bool(missing)


@creates("address", "controller", "model", "target")
def assign_pci_addresses(root: etree._Element, ctx: Context) -> None:
    """Addresses for the devices that have none, adding the buses they need."""
    element = first_child(root, "devices")
    if element is None:
        return
    devices = _Devices.read(root)
    addresses = devices.buses()
    root_bus = addresses.buses.get(0)
    if root_bus is None or root_bus.model not in ("pci-root", "pcie-root"):
        return
    if root_bus.model == "pci-root" and _add_missing_bridges(element, devices, addresses):
        devices = _Devices.read(root)
        addresses = devices.buses()
    pcie = root_bus.model == "pcie-root"
    caps = caps_of(ctx)
    machine = platform_of(root, caps)[1]
    next_index = max(addresses.buses) + 1
    # The dry run changes nothing in the tree; it finds the buses to add. When there are none,
    # its placements are the real run's.
    plan = _Plan(devices, addresses, machine, pcie, caps, dry_run=True)
    _assign(plan)
    if plan.grown:
        if pcie:
            plan.grown.append("pcie-root-port")  # a free port to hotplug a device into
        add_controllers(element, "pci", next_index, plan.grown)
        devices = _Devices.read(root)
        plan = _Plan(devices, devices.buses(), machine, pcie, caps)
        _assign(plan)
    else:
        plan.write()
    _multifunction(plan.pci_addresses())
    _controller_details(plan)


#: the kinds of devices that have zPCI identifiers, in the order libvirt walks them
#: (character devices have none, nor have PCI controllers)
_ZPCI_DEVICES = (
    "disk",
    "interface",
    "sound",
    "hostdev",
    "video",
    "controller",
    "smartcard",
    "input",
    "filesystem",
    "watchdog",
    "memballoon",
    "rng",
    "shmem",
    "memory",
    "vsock",
)

#: zPCI identifiers: (attribute, lowest value, hex digits)
_ZPCI_IDS = (("uid", 1, 4), ("fid", 0, 8))


@acts_on("address")
@creates("zpci")
def zpci_addresses(root: etree._Element, ctx: Context) -> None:
    """On s390 with zPCI, every PCI address has a ``<zpci>`` uid (from 1) and fid (from 0):
    first the addresses that give one complete it, in libvirt's device order, then the
    others get the lowest identifiers still free."""
    caps = caps_of(ctx)
    if not (caps.has("zpci") and is_s390(platform_of(root, caps)[0])):
        return
    addresses = [
        address
        for devices in root.iterchildren("devices")
        for tag in _ZPCI_DEVICES
        for device in devices.iterchildren(tag)
        if not (tag == "controller" and device.get("type") == "pci")
        for address in device.iterchildren("address")
        if address.get("type") == "pci"
    ]
    used: dict[str, set[int]] = {name: set() for name, _, _ in _ZPCI_IDS}
    given = [z for a in addresses for z in a.iterchildren("zpci") if z.get("uid") or z.get("fid")]
    for zpci in given:
        _complete_zpci(zpci, used)
    for address in addresses:
        zpci = first_child(address, "zpci")
        if zpci is None:
            _complete_zpci(etree.SubElement(address, "zpci"), used)
        elif zpci not in given:
            _complete_zpci(zpci, used)


def _complete_zpci(zpci: etree._Element, used: dict[str, set[int]]) -> None:
    """Give ``zpci`` the identifiers it lacks (the lowest free ones) and take them all."""
    values = {}
    for name, lowest, digits in _ZPCI_IDS:
        text = zpci.get(name)
        try:
            value = int(text, 0) if text is not None else None
        except ValueError:
            return  # unreadable: left for validation to refuse
        if value is None:
            value = lowest
            while value in used[name]:
                value += 1
        used[name].add(value)
        values[name] = f"0x{value:0{digits}x}"
    set_attrs_first(zpci, values)
