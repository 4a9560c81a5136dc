"""Domain XML <-> VirtualBox: the ``VBoxManage`` commands that define a machine, and the domain
XML of a machine read from ``showvminfo --machinereadable``.

Rules, as libvirt's vbox driver maps them: memory in MiB; IDE targets ``hda``..``hdd`` are
port/device 0/0, 0/1, 1/0, 1/1; SATA and SCSI targets ``sdX`` use port X, device 0; floppies
``fdX`` device X. Interfaces: ``user`` = NAT, ``bridge`` = bridged (source bridge = host
interface), ``internal`` = internal network (source name), ``network`` = host-only (source
network = host-only interface). NIC models are VirtualBox's own names. Boot order: up to four
``<boot dev>`` entries. ``<graphics type='rdp'>`` = VRDE.
"""

from __future__ import annotations

import uuid as uuidlib

import attrs
from lxml import etree
from virtkit.errors import ConfigUnsupportedError, ErrorDomain, XMLError
from virtkit.xml import Context, DomainDef, canonical, format_domain, parse_domain

BUSES = {
    "ide": ("IDE", "ide", "PIIX4"),
    "sata": ("SATA", "sata", "IntelAhci"),
    "scsi": ("SCSI", "scsi", "LsiLogic"),
    "fdc": ("Floppy", "floppy", "I82078"),
}
CONTROLLER_BUS = {
    "PIIX3": "ide",
    "PIIX4": "ide",
    "ICH6": "ide",
    "IntelAhci": "sata",
    "LsiLogic": "scsi",
    "BusLogic": "scsi",
    "I82078": "fdc",
}
BOOT = {"hd": "disk", "cdrom": "dvd", "network": "net", "fd": "floppy"}
NIC_MODES = {"user": "nat", "bridge": "bridged", "internal": "intnet", "network": "hostonly"}
NIC_SOURCE = {
    "bridged": ("bridge", "bridgeadapter"),
    "intnet": ("name", "intnet"),
    "hostonly": ("network", "hostonlyadapter"),
}
NIC_MODELS = ("Am79C970A", "Am79C973", "Am79C960", "82540EM", "82543GC", "82545EM", "virtio")
MEDIUM_TYPES = {"disk": "hdd", "cdrom": "dvddrive", "floppy": "fdd"}
MAX_NICS = 8


def _unsupported(what: str) -> ConfigUnsupportedError:
    return ConfigUnsupportedError(f"VirtualBox: {what}", domain=ErrorDomain.VBOX)


@attrs.frozen
class Attachment:
    """Where a disk goes: controller bus, port, device, medium type and path (None: empty)."""

    bus: str
    port: int
    device: int
    kind: str
    path: str | None


def placement(bus: str, dev: str) -> tuple[int, int]:
    """Port and device of target ``dev`` on ``bus`` (``hdc`` on IDE -> (1, 0))."""
    prefix = {"ide": "hd", "sata": "sd", "scsi": "sd", "fdc": "fd"}[bus]
    if not dev.startswith(prefix) or len(dev) != 3 or not "a" <= dev[2] <= "z":
        raise _unsupported(f"disk target '{dev}' cannot go on the {bus} bus (expected {prefix}a..)")
    index = ord(dev[2]) - ord("a")
    if bus == "ide":
        if index > 3:
            raise _unsupported(f"IDE has four places (hda..hdd), not '{dev}'")
        return divmod(index, 2)
    return (0, index) if bus == "fdc" else (index, 0)


def _target_name(bus: str, port: int, device: int) -> str:
    index = port * 2 + device if bus == "ide" else device if bus == "fdc" else port
    return {"ide": "hd", "sata": "sd", "scsi": "sd", "fdc": "fd"}[bus] + chr(ord("a") + index)


def attachments(root: etree._Element) -> list[Attachment]:
    found = []
    for disk in root.iterfind("devices/disk"):
        device = disk.get("device", "disk")
        if device not in MEDIUM_TYPES:
            raise _unsupported(f"<disk device='{device}'> (only disk, cdrom and floppy)")
        if disk.get("type", "file") != "file":
            raise _unsupported(f"<disk type='{disk.get('type')}'> (only file)")
        target = disk.find("target")
        if target is None or not target.get("dev"):
            raise XMLError("<disk> without <target dev=...>")
        dev = target.get("dev", "")
        bus = target.get("bus") or (
            "fdc" if device == "floppy" else "ide" if dev.startswith("hd") else "sata"
        )
        if bus not in BUSES:
            raise _unsupported(f"disk bus '{bus}' of '{dev}' (only ide, sata, scsi, fdc)")
        source = disk.find("source")
        path = source.get("file") if source is not None else None
        if path is None and device == "disk":
            raise XMLError(f"<disk> '{dev}' has no <source file=...>")
        port, unit = placement(bus, dev)
        found.append(Attachment(bus, port, unit, MEDIUM_TYPES[device], path))
    return found


def define_commands(definition: DomainDef) -> list[list[str]]:
    """The ``VBoxManage`` argument lists that create and register a machine like
    ``definition`` (run in order; the first one registers it)."""
    root = definition.tree()
    name = definition.name
    uuid = definition.uuid or uuidlib.uuid4()
    memory = definition.current_memory_kib or definition.memory_kib
    if memory is None:
        raise XMLError("VirtualBox needs <memory>")
    modify = [
        "modifyvm",
        name,
        "--memory",
        str(max(1, -(-memory // 1024))),  # MiB, rounded up as libvirt's vbox driver does
        "--cpus",
        str(definition.vcpus or 1),
    ]
    if definition.description is not None:
        modify += ["--description", definition.description]
    modify += _boot_args(definition)
    modify += _nic_args(root)
    modify += _graphics_args(root)
    commands = [
        ["createvm", "--name", name, "--uuid", str(uuid), "--ostype", "Other", "--register"],
        modify,
    ]
    disks = attachments(root)
    for bus in dict.fromkeys(a.bus for a in disks):
        ctl, kind, chip = BUSES[bus]
        commands.append(["storagectl", name, "--name", ctl, "--add", kind, "--controller", chip])
    for a in disks:
        commands.append(
            [
                "storageattach",
                name,
                "--storagectl",
                BUSES[a.bus][0],
                "--port",
                str(a.port),
                "--device",
                str(a.device),
                "--type",
                a.kind,
                "--medium",
                a.path or "emptydrive",
            ]
        )
    return commands


def _boot_args(definition: DomainDef) -> list[str]:
    os_el = definition.os
    devices = list(os_el.boot_devices) if os_el is not None else []
    if len(devices) > 4:
        raise _unsupported(f"{len(devices)} <boot> devices (at most 4)")
    args: list[str] = []
    for i in range(4):
        args += [f"--boot{i + 1}", BOOT[str(devices[i])] if i < len(devices) else "none"]
    if os_el is not None and os_el.firmware in ("efi", "bios"):
        args += ["--firmware", os_el.firmware]
    return args


def _nic_args(root: etree._Element) -> list[str]:
    args: list[str] = []
    nics = root.findall("devices/interface")
    if len(nics) > MAX_NICS:
        raise _unsupported(f"{len(nics)} interfaces (at most {MAX_NICS})")
    for slot, nic in enumerate(nics, 1):
        kind = nic.get("type", "")
        mode = NIC_MODES.get(kind)
        if mode is None:
            raise _unsupported(f"<interface type='{kind}'> (only {', '.join(NIC_MODES)})")
        args += [f"--nic{slot}", mode]
        if mode in NIC_SOURCE:
            attr, option = NIC_SOURCE[mode]
            source = nic.find("source")
            value = source.get(attr) if source is not None else None
            if not value:
                raise XMLError(f"<interface type='{kind}'> needs <source {attr}=...>")
            args += [f"--{option}{slot}", value]
        model = nic.find("model")
        if model is not None:
            if model.get("type") not in NIC_MODELS:
                raise _unsupported(
                    f"NIC model '{model.get('type')}' (one of: {', '.join(NIC_MODELS)})"
                )
            args += [f"--nictype{slot}", model.get("type", "")]
        mac = nic.find("mac")
        if mac is not None and mac.get("address"):
            args += [f"--macaddress{slot}", mac.get("address", "").replace(":", "").upper()]
    return args


def _graphics_args(root: etree._Element) -> list[str]:
    for graphics in root.iterfind("devices/graphics"):
        if graphics.get("type") != "rdp":
            raise _unsupported(f"<graphics type='{graphics.get('type')}'> (only rdp)")
        port = graphics.get("port")
        return ["--vrde", "on", *(["--vrdeport", port] if port and port != "-1" else [])]
    return []


# ------------------------------------------------------------------ back to domain XML


def domain_xml(info: dict[str, str], *, inactive: bool = False, id: int = -1) -> str:
    """The domain XML of the machine ``showvminfo --machinereadable`` described."""
    root = etree.Element("domain", type="vbox")
    etree.SubElement(root, "name").text = info["name"]
    etree.SubElement(root, "uuid").text = info["UUID"]
    if info.get("description"):
        etree.SubElement(root, "description").text = info["description"]
    memory = str(int(info.get("memory", "0")) * 1024)
    etree.SubElement(root, "memory", unit="KiB").text = memory
    etree.SubElement(root, "vcpu").text = info.get("cpus", "1")
    os_el = etree.SubElement(root, "os")
    if info.get("firmware", "BIOS").upper().startswith("EFI"):
        os_el.set("firmware", "efi")
    etree.SubElement(os_el, "type").text = "hvm"
    reverse_boot = {v: k for k, v in BOOT.items()}
    for i in range(1, 5):
        dev = reverse_boot.get(info.get(f"boot{i}", "none"))
        if dev:
            etree.SubElement(os_el, "boot", dev=dev)
    devices = etree.SubElement(root, "devices")
    _disks_from(info, devices)
    _nics_from(info, devices)
    if info.get("vrde") == "on":
        graphics = etree.SubElement(devices, "graphics", type="rdp")
        graphics.set("port", info.get("vrdeport", "-1"))
    text = etree.tostring(root, encoding="unicode")
    definition = canonical(parse_domain(text), context=Context(inactive=inactive))
    return format_domain(definition, inactive=inactive, id=None if inactive else id)


def _disks_from(info: dict[str, str], devices: etree._Element) -> None:
    index = 0
    while f"storagecontrollername{index}" in info:
        ctl = info[f"storagecontrollername{index}"]
        bus = CONTROLLER_BUS.get(info.get(f"storagecontrollertype{index}", ""), "sata")
        prefix = f"{ctl}-"
        for key, value in info.items():
            rest = key[len(prefix) :] if key.startswith(prefix) else ""
            parts = rest.split("-")
            if len(parts) != 2 or not all(p.isdigit() for p in parts) or value == "none":
                continue
            port, unit = int(parts[0]), int(parts[1])
            device = (
                "floppy"
                if bus == "fdc"
                else "cdrom"
                if value == "emptydrive" or value.lower().endswith(".iso")
                else "disk"
            )
            disk = etree.SubElement(devices, "disk", type="file", device=device)
            if value != "emptydrive":
                etree.SubElement(disk, "source", file=value)
            etree.SubElement(disk, "target", dev=_target_name(bus, port, unit), bus=bus)
        index += 1


def _nics_from(info: dict[str, str], devices: etree._Element) -> None:
    modes = {v: k for k, v in NIC_MODES.items()}
    for slot in range(1, MAX_NICS + 1):
        mode = info.get(f"nic{slot}", "none")
        if mode not in modes:
            continue
        nic = etree.SubElement(devices, "interface", type=modes[mode])
        mac = info.get(f"macaddress{slot}", "")
        if len(mac) == 12:
            pairs = ":".join(mac[i : i + 2] for i in range(0, 12, 2)).lower()
            etree.SubElement(nic, "mac", address=pairs)
        if mode in NIC_SOURCE:
            attr, option = NIC_SOURCE[mode]
            etree.SubElement(nic, "source", {attr: info.get(f"{option}{slot}", "")})
        if info.get(f"nictype{slot}"):
            etree.SubElement(nic, "model", type=info[f"nictype{slot}"])
