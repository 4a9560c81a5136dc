"""The QEMU driver's canonical domain XML: libvirt's generic post-parse defaults plus the QEMU
driver's own (machine type, default devices, models, PCI addresses), driven by capabilities.

``canonical_qemu(definition, caps)`` gives the form libvirt's QEMU driver stores at define
and shows in ``dumpxml --inactive``.
"""

from __future__ import annotations

from lxml import etree
from virtkit.xml import GENERIC_STEPS, DomainDef, Step, canonical
from virtkit.xml.canonical import devices as generic

from virtkit_qemu.canonical import (
    chardevs,
    cpu,
    devices,
    features,
    firmware,
    generated_sockets,
    pci,
    virtio_addresses,
)
from virtkit_qemu.canonical.caps import QemuCaps
from virtkit_qemu.canonical.context import QemuContext, SocketFolders, caps_of

#: QEMU steps that run just before a generic step (libvirt's domain defaults come before the
#: device defaults; the addresses are assigned once every device is in place)
_BEFORE: dict[Step, tuple[Step, ...]] = {
    generic.order_disks: (
        devices.resolve_machine,
        devices.default_emulator,
        devices.default_devices,
        devices.default_audio,
        cpu.default_cpu_model,
        cpu.cpu_check,
        cpu.numa_fill_node0,
        features.default_gic,
        features.feature_switches,
        firmware.nvram_path,
    ),
    generic.chardev_sources: (generated_sockets.forget_channel_sockets,),
    generic.graphics_listens: (generated_sockets.forget_vnc_sockets,),
    generic.video_defaults: (devices.video_models,),
    generic.pci_addresses: (
        chardevs.serial_targets,
        chardevs.spapr_vio_addresses,
        chardevs.virtio_serial_addresses,
        devices.dimm_slots,
        virtio_addresses.ccw_addresses,
        virtio_addresses.mmio_addresses,
        pci.assign_pci_addresses,
        pci.zpci_addresses,
        chardevs.console_addresses,
    ),
}

#: QEMU steps that run just after a generic step (device models)
_AFTER: dict[Step, tuple[Step, ...]] = {
    generic.disk_defaults: (
        devices.disk_drivers,
        devices.network_sources,
        devices.net_models,
        devices.panic_models,
        devices.vsock_models,
        devices.tpm_defaults,
        devices.shmem_defaults,
    ),
    generic.controller_indexes: (devices.usb_controller_models, devices.scsi_controller_models),
    generic.device_defaults: (devices.hostdev_attributes,),
}


def _steps() -> tuple[Step, ...]:
    """GENERIC_STEPS with the QEMU driver's steps where libvirt runs them."""
    steps: list[Step] = []
    for step in GENERIC_STEPS:
        steps += [*_BEFORE.get(step, ()), step, *_AFTER.get(step, ())]
    return tuple(steps)


QEMU_STEPS = _steps()


def qemu_context(
    root: etree._Element,
    caps: QemuCaps,
    *,
    inactive: bool,
    emulator: str | None = None,
    sockets: SocketFolders | None = None,
    nvram_dir: str | None = None,
) -> QemuContext:
    """What :data:`QEMU_STEPS` run with for the ``<domain>`` ``root`` (read, not changed) on
    the emulator ``emulator`` with ``caps``, in the inactive form or the live one, forgetting
    the sockets made in ``sockets``' folders, placing UEFI variable stores in ``nvram_dir``."""
    return QemuContext(
        arch=caps.arch,
        inactive=inactive,
        caps=caps,
        video_type=devices.default_video_model(root, caps),
        emulator=emulator,
        sockets=sockets,
        nvram_dir=nvram_dir,
    )


def canonical_qemu(
    definition: DomainDef,
    caps: QemuCaps | None = None,
    *,
    inactive: bool = False,
    emulator: str | None = None,
    sockets: SocketFolders | None = None,
    nvram_dir: str | None = None,
) -> DomainDef:
    """``definition`` in the QEMU driver's canonical form for the emulator binary
    ``emulator`` (named when the definition names none) with ``caps``; an inactive form
    forgets the sockets libvirt made in ``sockets``' folders; a UEFI variable store without
    a file gets one in ``nvram_dir``."""
    context = qemu_context(
        definition.read_tree(),
        caps or QemuCaps(),
        inactive=inactive,
        emulator=emulator,
        sockets=sockets,
        nvram_dir=nvram_dir,
    )
    return canonical(definition, steps=QEMU_STEPS, context=context)


__all__ = [
    "QEMU_STEPS",
    "QemuCaps",
    "QemuContext",
    "SocketFolders",
    "caps_of",
    "canonical_qemu",
    "qemu_context",
]
