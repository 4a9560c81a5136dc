"""What the canonical steps ask of QEMU: its architecture, machine types and device flags.

libvirt decides many defaults from the emulator's capabilities. :class:`QemuCaps` holds the
part of them the steps consult, read from a libvirt capabilities cache file (``<qemuCaps>``)
or built from a list of flags.
"""

from __future__ import annotations

from pathlib import Path

import attrs
from lxml import etree
from virtkit.xml.parser import PARSER

#: libvirt's internal flag identifiers (QEMU_CAPS_*) -> the names its capabilities XML uses,
#: for the flags the canonical steps consult
FLAG_NAMES = {
    "QEMU_CAPS_PIIX3_USB_UHCI": "piix3-usb-uhci",
    "QEMU_CAPS_PCI_OHCI": "pci-ohci",
    "QEMU_CAPS_DEVICE_QEMU_XHCI": "qemu-xhci",
    "QEMU_CAPS_NEC_USB_XHCI": "nec-usb-xhci",
    "QEMU_CAPS_ICH9_USB_EHCI1": "ich9-usb-ehci1",
    "QEMU_CAPS_OBJECT_GPEX": "gpex-pcihost",
    "QEMU_CAPS_DEVICE_ZPCI": "zpci",
    "QEMU_CAPS_DEVICE_VIRTIO_MMIO": "virtio-mmio",
    "QEMU_CAPS_DEVICE_PCIE_ROOT_PORT": "pcie-root-port",
    "QEMU_CAPS_DEVICE_IOH3420": "ioh3420",
    "QEMU_CAPS_DEVICE_PCIE_PCI_BRIDGE": "pcie-pci-bridge",
    "QEMU_CAPS_DEVICE_CIRRUS_VGA": "cirrus-vga",
    "QEMU_CAPS_DEVICE_VGA": "VGA",
    "QEMU_CAPS_SCSI_LSI": "lsi",
    "QEMU_CAPS_VIRTIO_SCSI": "virtio-scsi-pci",
    "QEMU_CAPS_SCSI_MPTSAS1068": "mptsas1068",
    "QEMU_CAPS_SCSI_MEGASAS": "megasas",
    "QEMU_CAPS_DEVICE_VIRTIO_NET": "virtio-net",
    "QEMU_CAPS_DEVICE_RTL8139": "rtl8139",
    "QEMU_CAPS_DEVICE_E1000": "e1000",
    "QEMU_CAPS_CPU_MIGRATABLE": "cpu.migratable",
}


@attrs.frozen(kw_only=True)
class Machine:
    """A machine type of one accelerator (``kvm`` or ``tcg``); ``default_cpu`` is QEMU's type
    name of its default CPU model."""

    name: str
    accel: str = "tcg"
    alias: str | None = None
    default: bool = False
    default_cpu: str | None = None


@attrs.frozen(kw_only=True)
class QemuCaps:
    """``flags``: capability names as the capabilities XML spells them; ``machines``: the
    machine types (empty: any name is taken as written)."""

    arch: str = "x86_64"
    flags: frozenset[str] = frozenset()
    machines: tuple[Machine, ...] = ()
    #: (accelerator, CPU model name, QEMU type name)
    cpu_models: tuple[tuple[str, str, str], ...] = ()
    #: the ARM GIC versions, newest first, with the accelerators that provide each
    #: (``kvm`` when the host kernel has it, ``tcg`` when QEMU emulates it)
    gic: tuple[tuple[int, frozenset[str]], ...] = ()
    #: the accelerators for which QEMU reported the host's CPU model (what a host-model CPU
    #: becomes)
    host_models: frozenset[str] = frozenset()
    #: ``machines`` by accelerator, then by name and by alias (built once: steps ask per define)
    _by_name: dict[tuple[str, str], Machine] = attrs.field(init=False, eq=False, repr=False)
    _by_alias: dict[tuple[str, str], Machine] = attrs.field(init=False, eq=False, repr=False)
    _default: dict[str, Machine] = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        by_name: dict[tuple[str, str], Machine] = {}
        by_alias: dict[tuple[str, str], Machine] = {}
        default: dict[str, Machine] = {}
        for m in self.machines:  # the first of a name, alias or default wins, as a scan finds
            by_name.setdefault((m.accel, m.name), m)
            if m.alias is not None:
                by_alias.setdefault((m.accel, m.alias), m)
            if m.default:
                default.setdefault(m.accel, m)
        object.__setattr__(self, "_by_name", by_name)
        object.__setattr__(self, "_by_alias", by_alias)
        object.__setattr__(self, "_default", default)

    def has(self, flag: str) -> bool:
        return flag in self.flags

    def canonical_machine(self, name: str, accel: str) -> str:
        """The machine type an alias (``pc``, ``q35``) stands for; other names unchanged."""
        found = self._by_alias.get((accel, name))
        return found.name if found else name

    def default_machine(self, accel: str) -> str | None:
        chosen = self._default.get(accel)
        return chosen.name if chosen else None

    def gic_version(self, accel: str) -> int:
        """The GIC version an ARM guest gets when it names none: under KVM the newest one the
        host kernel provides, else version 2."""
        if accel != "kvm":
            return 2
        return next((version for version, accels in self.gic if accel in accels), 2)

    def default_cpu(self, machine: str, accel: str) -> str | None:
        """The CPU model ``machine`` starts with, by libvirt's name of it."""
        found = self._by_name.get((accel, machine))
        typename = found.default_cpu if found else None
        if not typename:
            return None
        return next(
            (name for a, name, t in self.cpu_models if a == accel and t == typename),
            typename.split(f"-{self.arch}-cpu")[0],
        )

    @classmethod
    def from_file(cls, path: Path, *, strip_aliases: bool = False) -> QemuCaps:
        """Read a libvirt capabilities cache file; ``strip_aliases`` turns each alias into a
        machine type of its own (libvirt's tests do so for the newest file of an arch)."""
        root = etree.fromstring(path.read_bytes(), PARSER)
        machines: list[Machine] = []
        for m in root.iterfind("machine"):
            machine = Machine(
                name=m.get("name", ""),
                alias=m.get("alias"),
                default=m.get("default") == "yes",
                accel=m.get("type", "tcg"),
                default_cpu=m.get("defaultCPU"),
            )
            if strip_aliases and machine.alias:
                machines.append(attrs.evolve(machine, name=machine.alias, alias=None))
                machine = attrs.evolve(machine, alias=None, default=False)
            machines.append(machine)
        models = tuple(
            (c.get("type", ""), c.get("name", ""), c.get("typename", ""))
            for c in root.iterfind("cpu")
            if c.get("typename")
        )
        gic = tuple(
            (
                int(g.get("version", "2")),
                frozenset(
                    accel
                    for accel, attr in (("kvm", "kernel"), ("tcg", "emulated"))
                    if g.get(attr) == "yes"
                ),
            )
            for g in root.iterfind("gic")
        )
        return cls(
            gic=gic,
            host_models=frozenset(h.get("type", "") for h in root.iterfind("hostCPU")),
            arch=(root.findtext("arch") or "x86_64").strip(),
            flags=frozenset(f.get("name", "") for f in root.iterfind("flag")),
            machines=tuple(machines),
            cpu_models=models,
        )

    @classmethod
    def from_flag_ids(cls, arch: str, flag_ids: list[str], gic: tuple[int, ...] = ()) -> QemuCaps:
        """A capability set of ``arch`` with exactly the listed ``QEMU_CAPS_*`` flags (those the
        steps do not consult are ignored) and the GIC versions ``gic`` (host and emulated)."""
        names = {FLAG_NAMES[f] for f in flag_ids if f in FLAG_NAMES}
        both = frozenset(("kvm", "tcg"))
        return cls(arch=arch, flags=frozenset(names), gic=tuple((v, both) for v in gic))
