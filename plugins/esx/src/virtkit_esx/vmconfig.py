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
from virtkit_esx.xml2vmx import SCSI_MODELS as XML_TO_VMX_SCSI
from virtkit_esx.xml2vmx import declared_scsi_models, drive_slot, scsi_model

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
            out += [(f"{eth}.present", "true"), *_mac_entries(eth, dev)]
            if type(dev) in NIC_TYPES:
                out.append((f"{eth}.virtualDev", NIC_TYPES[type(dev)]))
            if isinstance(backing, vim.vm.device.VirtualEthernetCard.NetworkBackingInfo):
                out.append((f"{eth}.networkName", backing.deviceName))
    return out


def _mac_entries(eth: str, nic: Any) -> list[tuple[str, str]]:
    """vSphere's ``addressType`` (manual, generated, assigned) as the ``.vmx`` writes it."""
    if nic.addressType == "manual":
        return [(f"{eth}.addressType", "static"), (f"{eth}.address", nic.macAddress or "")]
    kind = "vpx" if nic.addressType == "assigned" else "generated"
    return [(f"{eth}.addressType", kind), (f"{eth}.generatedAddress", nic.macAddress or "")]


def config_to_definition(config: Any) -> DomainDef:
    """The domain definition of a VM's configuration, through the VMX converter."""
    datastore, path = split_datastore_path(config.files.vmPathName)
    mapper = PathMapper(datastore=datastore, directory=path.rpartition("/")[0])
    return vmx_to_definition(format_vmx(config_entries(config)), mapper)


MODEL_CONTROLLERS: dict[str, Any] = {model: cls for cls, model in SCSI_TYPES.items()}
MODEL_NICS: dict[str, Any] = {model: cls for cls, model in NIC_TYPES.items()}
IDE_KEY, SCSI_KEY = 200, 1000  # vSphere's device keys of IDE bus 0 and SCSI controller 0
IGNORED_DEVICES = ("video", "graphics", "input", "memballoon", "controller")


def config_spec(definition: DomainDef, datastore: str | None) -> Any:
    """A ``ConfigSpec`` for ``definition``: name, UUID, memory, vCPUs, description, guest
    architecture, and for a new VM (``datastore`` for its files) its disks, CD-ROM images and
    bridged interfaces. Other devices are refused: say so rather than drop them."""
    root = definition.tree()
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
        spec.deviceChange = _device_changes(root)
    if definition.uuid is not None:
        spec.uuid = str(definition.uuid)
    spec.annotation = root.findtext("description") or ""
    return spec


def device_summary(definition: DomainDef) -> list[tuple[str, ...]]:
    """What ``define`` makes of a definition's devices, to tell whether a redefinition changes
    them: disk sources with their slots, interface networks with their MACs."""
    root = definition.tree()
    out: list[tuple[str, ...]] = []
    for disk in root.iterfind("devices/disk"):
        source = disk.find("source")
        path = source.get("file", "") if source is not None else ""
        out.append(("disk", disk.get("device", "disk"), drive_slot(disk).prefix, path))
    for nic in root.iterfind("devices/interface"):
        source, mac = nic.find("source"), nic.find("mac")
        bridge = source.get("bridge", "") if source is not None else ""
        out.append(("interface", bridge, mac.get("address", "") if mac is not None else ""))
    return sorted(out)


def _device_changes(root: Any) -> list[Any]:
    """The device specs adding ``root``'s disks and interfaces to a new VM."""
    dev: Any = vim.vm.device
    changes: list[Any] = []
    controllers: set[int] = set()
    declared = declared_scsi_models(root)
    for number, el in enumerate(root.iterfind("devices/*"), 1):
        if el.tag == "disk":
            device = _disk(el, declared, controllers, changes)
        elif el.tag == "interface" and el.get("type") == "bridge":
            device = _nic(el)
        elif el.tag in IGNORED_DEVICES:
            continue
        else:
            kind = f" type='{el.get('type')}'" if el.get("type") else ""
            raise ConfigUnsupportedError(
                f"the ESX driver cannot define <{el.tag}{kind}> devices: define the domain "
                "without it and add it in vSphere"
            )
        device.key = -number
        changes.append(dev.VirtualDeviceSpec(operation="add", device=device))
    return changes


def _disk(el: Any, declared: dict[int, str], controllers: set[int], changes: list[Any]) -> Any:
    """A hard disk (an existing ``.vmdk``) or CD-ROM image; adds the SCSI controller it needs."""
    dev: Any = vim.vm.device
    slot = drive_slot(el)
    source = el.find("source")
    path = source.get("file") if source is not None else None
    if el.get("type") != "file" or not path or slot.bus not in ("scsi", "ide"):
        raise ConfigUnsupportedError(
            f"the ESX driver defines file-backed SCSI or IDE disks only, not <disk "
            f"type='{el.get('type')}' device='{el.get('device')}'> on bus '{slot.bus}'"
        )
    if slot.bus == "scsi":
        key = SCSI_KEY + slot.controller
        if slot.controller not in controllers:
            controllers.add(slot.controller)
            model = scsi_model(el, declared) or "lsilogic"
            controller = MODEL_CONTROLLERS[XML_TO_VMX_SCSI[model]](
                key=key, busNumber=slot.controller, sharedBus="noSharing"
            )
            changes.append(dev.VirtualDeviceSpec(operation="add", device=controller))
    else:
        key = IDE_KEY + slot.controller
    if el.get("device", "disk") == "disk":
        mode = "independent_nonpersistent" if el.find("transient") is not None else "persistent"
        driver = el.find("driver")
        backing = dev.VirtualDisk.FlatVer2BackingInfo(
            fileName=path,
            diskMode=mode,
            writeThrough=driver is not None and driver.get("cache") == "writethrough",
        )
        return dev.VirtualDisk(controllerKey=key, unitNumber=slot.unit, backing=backing)
    if el.get("device") == "cdrom":
        backing = dev.VirtualCdrom.IsoBackingInfo(fileName=path)
        return dev.VirtualCdrom(controllerKey=key, unitNumber=slot.unit, backing=backing)
    raise ConfigUnsupportedError(f"the ESX driver cannot define <disk device='{el.get('device')}'>")


def _nic(el: Any) -> Any:
    """A bridged interface: the ``<source bridge>`` names the vSphere network."""
    dev: Any = vim.vm.device
    source, model, mac = el.find("source"), el.find("model"), el.find("mac")
    name = model.get("type") if model is not None else "e1000"
    if name not in MODEL_NICS:
        raise ConfigUnsupportedError(
            f"interface model '{name}' is not one the ESX driver defines "
            f"({', '.join(sorted(MODEL_NICS))})"
        )
    nic = MODEL_NICS[name](
        backing=dev.VirtualEthernetCard.NetworkBackingInfo(
            deviceName=source.get("bridge", "") if source is not None else ""
        ),
        addressType="generated",
    )
    if mac is not None and mac.get("address"):
        nic.addressType, nic.macAddress = "manual", mac.get("address")
    return nic
