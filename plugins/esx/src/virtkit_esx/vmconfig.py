"""A VM's vSphere configuration as ``.vmx`` entries (read back as domain XML by the VMX
converter, as libvirt's driver reads the ``.vmx`` file), and domain XML as a ``ConfigSpec``."""

from __future__ import annotations

from typing import Any

from pyVmomi import vim
from virtkit.errors import ConfigUnsupportedError
from virtkit.xml import DomainDef

from virtkit_esx.paths import PathMapper, split_datastore_path
from virtkit_esx.vmx2xml import vmx_to_definition
from virtkit_esx.vmxfile import escape, format_vmx, vmware_uuid

VM_TYPES: Any = vim.vm  # pyvmomi builds its types at run time
SCSI_TYPES = {
    vim.vm.device.VirtualBusLogicController: "buslogic",
    vim.vm.device.VirtualLsiLogicController: "lsilogic",
    vim.vm.device.VirtualLsiLogicSASController: "lsisas1068",
    vim.vm.device.ParaVirtualSCSIController: "pvscsi",
}
NIC_TYPES = {
    vim.vm.device.VirtualE1000: "e1000",
    vim.vm.device.VirtualE1000e: "e1000e",
    vim.vm.device.VirtualVmxnet3: "vmxnet3",
    vim.vm.device.VirtualPCNet32: "vlance",
}


def config_entries(config: Any) -> list[tuple[str, str]]:
    """``.vmx`` entries for a ``vim.vm.ConfigInfo``."""
    hw = config.hardware
    out = [
        ("config.version", "8"),
        ("virtualHW.version", config.version.rsplit("-", 1)[-1]),
        ("displayName", escape(config.name)),
        ("guestOS", config.guestId or "other"),
        ("memsize", str(hw.memoryMB)),
        ("numvcpus", str(hw.numCPU)),
    ]
    if config.uuid:
        out.append(("uuid.bios", vmware_uuid(config.uuid)))
    if config.annotation:
        out.append(("annotation", escape(config.annotation)))
    if config.firmware == "efi":
        out.append(("firmware", "efi"))
    if hw.numCoresPerSocket and hw.numCoresPerSocket > 1:
        out.append(("cpuid.coresPerSocket", str(hw.numCoresPerSocket)))
    controllers: dict[int, str] = {}
    for dev in hw.device:
        model = SCSI_TYPES.get(type(dev))
        if model is not None:
            controllers[dev.key] = f"scsi{dev.busNumber}"
            out += [
                (f"scsi{dev.busNumber}.present", "true"),
                (f"scsi{dev.busNumber}.virtualDev", model),
            ]
        elif isinstance(dev, vim.vm.device.VirtualIDEController):
            controllers[dev.key] = f"ide{dev.busNumber}"
        elif isinstance(dev, vim.vm.device.VirtualAHCIController):
            controllers[dev.key] = f"sata{dev.busNumber}"
            out.append((f"sata{dev.busNumber}.present", "true"))
    nic = 0
    taken: set[str] = set()
    # disks first: a slot holds one device (vcsim puts a CD-ROM and a disk on SCSI 0:0; the
    # disk is the one the .vmx would name)
    devices = sorted(hw.device, key=lambda d: not isinstance(d, vim.vm.device.VirtualDisk))
    for dev in devices:
        prefix = f"{controllers.get(dev.controllerKey, '')}:{dev.unitNumber}"
        if prefix in taken:
            continue
        if dev.controllerKey in controllers:
            taken.add(prefix)
        backing: Any = dev.backing
        if isinstance(dev, vim.vm.device.VirtualDisk) and dev.controllerKey in controllers:
            out += [
                (f"{prefix}.present", "true"),
                (f"{prefix}.fileName", PathMapper.to_vmx(backing.fileName)),
            ]
        elif isinstance(dev, vim.vm.device.VirtualCdrom) and dev.controllerKey in controllers:
            iso = isinstance(backing, vim.vm.device.VirtualCdrom.IsoBackingInfo)
            out += [
                (f"{prefix}.present", "true"),
                (f"{prefix}.deviceType", "cdrom-image" if iso else "atapi-cdrom"),
            ]
            if iso and backing.fileName:
                out.append((f"{prefix}.fileName", PathMapper.to_vmx(backing.fileName)))
        elif isinstance(dev, vim.vm.device.VirtualEthernetCard):
            eth = f"ethernet{nic}"
            nic += 1
            out += [
                (f"{eth}.present", "true"),
                (f"{eth}.addressType", "static"),
                (f"{eth}.address", dev.macAddress or ""),
            ]
            if type(dev) in NIC_TYPES:
                out.append((f"{eth}.virtualDev", NIC_TYPES[type(dev)]))
            if isinstance(backing, vim.vm.device.VirtualEthernetCard.NetworkBackingInfo):
                out.append((f"{eth}.networkName", backing.deviceName))
    return out


def config_to_definition(config: Any) -> DomainDef:
    """The domain definition of a VM's configuration, through the VMX converter."""
    datastore, path = split_datastore_path(config.files.vmPathName)
    mapper = PathMapper(datastore=datastore, directory=path.rpartition("/")[0])
    return vmx_to_definition(format_vmx(config_entries(config)), mapper)


def config_spec(definition: DomainDef, datastore: str | None) -> Any:
    """A ``ConfigSpec`` for ``definition``: name, UUID, memory, vCPUs, description and the guest
    architecture; with ``datastore``, where a new VM's files go. Devices are refused: say so
    rather than drop them."""
    root = definition.tree()
    for dev in root.iterfind("devices/*"):
        if dev.tag not in ("video", "graphics", "input", "memballoon"):
            raise ConfigUnsupportedError(
                f"the ESX driver cannot define <{dev.tag}> devices yet: define the domain "
                f"without it and add it in vSphere"
            )
    arch = root.find("os/type")
    guest = "otherGuest64" if arch is not None and arch.get("arch") == "x86_64" else "otherGuest"
    memory_kib = definition.memory_kib or 32 * 1024
    spec = VM_TYPES.ConfigSpec(
        name=definition.name,
        memoryMB=-(-memory_kib // 1024),
        numCPUs=definition.vcpus or 1,
        guestId=guest,
    )
    if datastore is not None:
        spec.files = VM_TYPES.FileInfo(vmPathName=f"[{datastore}]")
    if definition.uuid is not None:
        spec.uuid = str(definition.uuid)
    spec.annotation = root.findtext("description") or ""
    return spec
