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
DEFAULT_SCSI_MODEL = "lsilogic"


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


@attrs.define
class PciSlots:
    """Hands out slots on the root bus; slots named in the XML are honoured first.

    i440fx: slot 1 is the PIIX3 (IDE, USB at function 2), slot 2 the primary video card, the
    rest from 3. q35: slot 1 video, the rest from 2 (0x1f is the ICH9 LPC/SATA).
    """

    machine: str
    taken: set[int] = attrs.field(factory=set)

    def __attrs_post_init__(self) -> None:
        self.taken |= {0, 0x1F} if is_q35(self.machine) else {0, 1}

    @property
    def video_slot(self) -> int:
        return 1 if is_q35(self.machine) else 2

    def reserve(self, slot: int, what: str) -> None:
        if slot in self.taken:
            raise ConfigUnsupportedError(f"PCI slot 0x{slot:02x} asked by {what} is already in use")
        self.taken.add(slot)

    def next(self, what: str) -> int:
        first = self.video_slot + 1
        for slot in range(first, 32):
            if slot not in self.taken:
                self.taken.add(slot)
                return slot
        raise ConfigUnsupportedError(f"no free PCI slot left on the root bus for {what}")
