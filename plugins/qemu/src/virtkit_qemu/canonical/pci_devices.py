"""Which devices want a PCI address, in the order libvirt's QEMU driver hands them out, and
how each connects: a conventional PCI endpoint, a PCI Express one, or a controller that fits
particular buses only."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from lxml import etree
from virtkit.xml.canonical.order import first_child

#: how a device or controller connects: a conventional PCI endpoint, a PCI Express endpoint,
#: or the controllers that only fit particular buses
PCI, PCIE, ROOT_PORT, DMI_BRIDGE, PCIE_PCI_BRIDGE, PCI_BRIDGE, DOWNSTREAM_PORT = (
    "pci",
    "pcie",
    "root-port",
    "dmi-to-pci-bridge",
    "pcie-to-pci-bridge",
    "pci-bridge",
    "switch-downstream-port",
)

_PCIE_MODELS = {"virtio", "e1000e", "qemu-xhci", "nec-xhci", "vmxnet3", "igb"}


#: PCI controller model -> how it connects
_PCI_CONTROLLER_KINDS = {
    "pcie-root-port": ROOT_PORT,
    "dmi-to-pci-bridge": DMI_BRIDGE,
    "pcie-to-pci-bridge": PCIE_PCI_BRIDGE,
    "pci-bridge": PCI_BRIDGE,
    "pcie-switch-upstream-port": PCIE,
    "pcie-switch-downstream-port": DOWNSTREAM_PORT,
    "pci-expander-bus": PCI,
    "pcie-expander-bus": ROOT_PORT,
}


def controller_kind(ctrl: etree._Element, pcie: bool) -> str | None:
    kind, model = ctrl.get("type"), ctrl.get("model")
    if kind == "pci":
        return _PCI_CONTROLLER_KINDS.get(model or "")
    if kind == "usb":
        if model in ("none", "qusb1", "qusb2"):
            return None
        return PCIE if pcie and model in _PCIE_MODELS else PCI
    if kind == "scsi":
        if model in ("ibmvscsi",):
            return None
        if model == "vhost-scsi":
            return PCIE if pcie else PCI
        return _model_kind(model, pcie) if (model or "").startswith("virtio") else PCI
    if kind == "virtio-serial":
        return _model_kind(model or "virtio", pcie)
    if kind == "sata":
        return PCIE if pcie else PCI
    return None


def _model_kind(model: str | None, pcie: bool) -> str:
    """A transitional virtio device is conventional PCI; a modern or non-transitional one,
    and the PCI Express models, are PCI Express on a PCI Express machine."""
    name = model or ""
    transitional = name.endswith("-transitional") and not name.endswith("-non-transitional")
    if pcie and (name in _PCIE_MODELS or name.startswith("virtio")):
        return PCI if transitional else PCIE
    return PCI


def device_order(
    kinds: Mapping[str, list[etree._Element]], pcie: bool
) -> Iterator[tuple[etree._Element, str]]:
    """The devices (``kinds``: the devices by tag) that want a PCI address, in the order
    libvirt hands them out, with their connection kind."""
    for fs in kinds.get("filesystem", ()):
        if fs.find("driver[@type='virtiofs']") is not None or fs.get("type") == "mount":
            yield fs, _model_kind(fs.get("model") or "virtio", pcie)
    for net in kinds.get("interface", ()):
        model = first_child(net, "model")
        name = model.get("type") if model is not None else None
        if net.get("type") == "hostdev" or name in ("spapr-vlan", "usb-net"):
            continue
        yield net, PCIE if pcie and name is None else _model_kind(name or "rtl8139", pcie)
    for sound in kinds.get("sound", ()):
        if sound.get("model") in ("es1370", "ac97", "ich6", "ich7", "ich9"):
            yield sound, PCI
    for ctrl in kinds.get("controller", ()):
        if ctrl.get("type") != "pci":
            kind = controller_kind(ctrl, pcie)
            if kind:
                yield ctrl, kind
    for disk in kinds.get("disk", ()):
        target = first_child(disk, "target")
        if target is not None and target.get("bus") == "virtio":
            yield disk, _model_kind(disk.get("model") or "virtio", pcie)
    for net in kinds.get("interface", ()):
        if net.get("type") == "hostdev":
            yield net, PCIE if pcie else PCI
    for hostdev in kinds.get("hostdev", ()):
        kind = hostdev.get("type")
        if kind == "scsi_host":  # a vhost-scsi device: virtio, transitional or not
            yield hostdev, _model_kind(hostdev.get("model") or "virtio", pcie)
        elif kind == "pci" or hostdev.get("model") == "vfio-pci":
            yield hostdev, PCIE if pcie else PCI
    for balloon in kinds.get("memballoon", ()):
        if balloon.get("model") in ("virtio", "virtio-transitional", "virtio-non-transitional"):
            yield balloon, _model_kind(balloon.get("model"), pcie)
    for rng in kinds.get("rng", ()):
        yield rng, _model_kind(rng.get("model"), pcie)
    for watchdog in kinds.get("watchdog", ()):
        if watchdog.get("model") == "i6300esb":
            yield watchdog, PCI
    for video in kinds.get("video", ()):
        model = first_child(video, "model")
        name = model.get("type") if model is not None else None
        if name not in ("none", None):
            yield video, _model_kind(name, pcie)
    for shmem in kinds.get("shmem", ()):
        yield shmem, PCI
    for device in kinds.get("input", ()):
        if device.get("bus") == "virtio":
            yield device, _model_kind(device.get("model") or "virtio", pcie)
    for serial in kinds.get("serial", ()):
        target = first_child(serial, "target")
        if target is not None and target.get("type") == "pci-serial":
            yield serial, PCI
    for vsock in kinds.get("vsock", ()):
        yield vsock, _model_kind(vsock.get("model") or "virtio", pcie)
