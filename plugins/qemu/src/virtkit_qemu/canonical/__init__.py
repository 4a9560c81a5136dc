"""The QEMU driver's canonical domain XML: libvirt's generic post-parse defaults plus the QEMU
driver's own (machine type, default devices, models, PCI addresses), driven by capabilities.

``canonical_qemu(definition)`` is what ``define`` stores and ``dumpxml --inactive`` shows.
"""

from __future__ import annotations

from virtkit.xml import GENERIC_STEPS, DomainDef, Step, canonical
from virtkit.xml.canonical import devices as generic

from virtkit_qemu.canonical import chardevs, cpu, devices, features, pci, virtio_addresses
from virtkit_qemu.canonical.caps import QemuCaps
from virtkit_qemu.canonical.context import QemuContext, caps_of


def _steps() -> tuple[Step, ...]:
    """GENERIC_STEPS with the QEMU driver's steps where libvirt runs them: its domain defaults
    before the device defaults, its device models with them, PCI addresses at the end."""
    steps: list[Step] = []
    for step in GENERIC_STEPS:
        if step is generic.order_disks:
            steps += [
                devices.resolve_machine,
                devices.default_devices,
                devices.default_audio,
                cpu.default_cpu_model,
                cpu.cpu_check,
                features.default_gic,
            ]
        if step is generic.device_defaults:
            steps.append(devices.hostdev_attributes)
        if step is generic.video_defaults:
            steps.append(devices.video_models)
        if step is generic.pci_addresses:
            steps += [
                chardevs.serial_targets,
                chardevs.spapr_vio_addresses,
                chardevs.virtio_serial_addresses,
            ]
            steps += [
                virtio_addresses.ccw_addresses,
                virtio_addresses.mmio_addresses,
                pci.assign_pci_addresses,
                chardevs.console_addresses,
            ]
        steps.append(step)
        if step is generic.disk_defaults:
            steps += [devices.disk_drivers, devices.network_sources, devices.net_models]
            steps += [devices.panic_models, devices.vsock_models]
        if step is generic.controller_indexes:
            steps += [devices.usb_controller_models, devices.scsi_controller_models]
    return tuple(steps)


QEMU_STEPS = _steps()


def canonical_qemu(
    definition: DomainDef, caps: QemuCaps | None = None, *, inactive: bool = False
) -> DomainDef:
    """``definition`` in the QEMU driver's canonical form for an emulator with ``caps``."""
    caps = caps or QemuCaps()
    context = QemuContext(
        arch=caps.arch,
        inactive=inactive,
        caps=caps,
        video_type=devices.default_video_model(definition.tree(), caps),
    )
    return canonical(definition, steps=QEMU_STEPS, context=context)


__all__ = ["QEMU_STEPS", "QemuCaps", "QemuContext", "caps_of", "canonical_qemu"]
