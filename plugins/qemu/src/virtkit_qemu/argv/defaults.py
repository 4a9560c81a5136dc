"""The QEMU driver's defaults: machine type, implicit controllers and PCI slot assignment.

Kept apart from the command-line builder so the canonical-XML step (libvirt's post-parse
defaults) applies the very same choices.
"""

from __future__ import annotations

import attrs
from virtkit.errors import ConfigUnsupportedError

DEFAULT_ARCH = "x86_64"
DEFAULT_MACHINE = "pc"
DEFAULT_NET_MODEL = "rtl8139"
DEFAULT_VIDEO_MODEL = "vga"
DEFAULT_VNC_LISTEN = "127.0.0.1"  # (libvirt's vnc_listen)
DEFAULT_SCSI_MODEL = "lsilogic"
SOCKET_PATH_MAX = 107
"""Longest unix socket path Linux accepts (``sun_path`` is 108 bytes with the NUL)."""


def is_q35(machine: str) -> bool:
    return machine == "q35" or machine.startswith("pc-q35")


def is_i440fx(machine: str) -> bool:
    return machine == "pc" or machine.startswith("pc-i440fx") or machine.startswith("pc-")


def root_bus(machine: str) -> str:
    """The QEMU id of the root PCI bus: ``pcie.0`` on q35, ``pci.0`` on i440fx."""
    return "pcie.0" if is_q35(machine) else "pci.0"


def implicit_controllers(machine: str) -> list[tuple[str, int, str | None]]:
    """Controllers the machine always has, as ``(type, index, model)`` (libvirt adds them to the
    canonical XML)."""
    if is_q35(machine):
        return [("pci", 0, "pcie-root"), ("sata", 0, None)]
    return [("pci", 0, "pci-root"), ("ide", 0, None)]


def default_usb_model(machine: str) -> str:
    return "qemu-xhci" if is_q35(machine) else "piix3-uhci"


PciAddress = tuple[int, int, int]
"""(bus, slot, function) on PCI domain 0."""


def builtin_functions(machine: str) -> dict[PciAddress, str]:
    """The PCI functions the machine itself provides (QEMU creates them with the machine).
    i440fx: the PIIX3 in slot 1 (ISA bridge, IDE at 1.1, USB at 1.2, power management at
    1.3); q35: the ICH9 in slot 0x1f (LPC, SATA at 1f.2, SMBus)."""
    if is_q35(machine):
        return {
            (0, 0, 0): "the host bridge",
            (0, 0x1F, 0): "the ICH9 LPC bridge",
            (0, 0x1F, 2): "the built-in SATA controller",
            (0, 0x1F, 3): "the ICH9 SMBus",
        }
    return {
        (0, 0, 0): "the host bridge",
        (0, 1, 0): "the PIIX3 ISA bridge",
        (0, 1, 1): "the built-in IDE controller",
        (0, 1, 3): "the PIIX4 power management",
    }


def format_pci(address: PciAddress) -> str:
    bus, slot, function = address
    return f"0000:{bus:02x}:{slot:02x}.{function:x}"


@attrs.define
class PciSlots:
    """The PCI functions in use. Addresses the XML names are honoured (each once); devices
    without one get the next free slot of the root bus.

    i440fx: slot 1 is the PIIX3 (the USB controller is its function 2), slot 2 the primary
    video card, the rest from 3. q35: slot 1 video, the rest from 2 (0x1f is the ICH9).
    """

    machine: str
    taken: dict[PciAddress, str] = attrs.field(factory=dict)

    def __attrs_post_init__(self) -> None:
        self.taken.update(builtin_functions(self.machine))

    @property
    def video_slot(self) -> int:
        return 1 if is_q35(self.machine) else 2

    def reserve(self, address: PciAddress, what: str) -> None:
        if address in self.taken:
            raise ConfigUnsupportedError(
                f"PCI address {format_pci(address)} asked by {what} is already in use by "
                f"{self.taken[address]}"
            )
        self.taken[address] = what

    def slot_free(self, bus: int, slot: int) -> bool:
        return not any(b == bus and s == slot for b, s, _ in self.taken)

    def next(self, what: str) -> int:
        """A whole free slot on the root bus, taken for ``what``."""
        for slot in range(self.video_slot + 1, 32):
            if self.slot_free(0, slot):
                self.taken[(0, slot, 0)] = what
                return slot
        raise ConfigUnsupportedError(f"no free PCI slot left on the root bus for {what}")
