"""Domain XML to ``.vmx``, with the rules of libvirt's VMX formatter (``domxml-to-native``).

Drive addresses follow the target names as in libvirt's VMware driver: ``sdX`` number N sits on
SCSI controller N // 15, unit N % 15 (units from 7 on shift by one: 7 is the controller);
``hdX`` on IDE bus N // 2, unit N % 2; ``fdX`` is floppy N.
"""

from __future__ import annotations

import attrs
from lxml import etree
from virtkit.xml import DomainDef
from virtkit.xml.units import to_kib

from virtkit_esx.paths import PathMapper
from virtkit_esx.vmxfile import VMXError, escape, format_vmx, vmware_uuid

SCSI_MODELS = {
    "buslogic": "buslogic",
    "lsilogic": "lsilogic",
    "lsisas1068": "lsisas1068",
    "vmpvscsi": "pvscsi",
}
NIC_MODELS = ("vlance", "vmxnet", "vmxnet2", "vmxnet3", "e1000", "e1000e")
SERIAL_SCHEMES = {"raw": "tcp", "telnet": "telnet", "telnets": "telnets", "tls": "ssl"}
PASSTHRU_PREFIX = "/vmfs/devices/cdrom/"
DISK_DEVICE_TYPES = {"scsi": "scsi-hardDisk", "ide": "ata-hardDisk", "sata": "sata-hardDisk"}


def disk_index(name: str, prefix: str) -> int:
    """``sda`` -> 0, ``sdaa`` -> 26 (libvirt's disk naming, read back)."""
    if not name.startswith(prefix) or not name[len(prefix) :].isalpha():
        raise VMXError(f"disk target '{name}' is not of the form {prefix}[a-z]+")
    index = 0
    for ch in name[len(prefix) :]:
        index = index * 26 + (ord(ch) - ord("a") + 1)
    return index - 1


@attrs.frozen
class DriveSlot:
    """Where a disk sits: ``bus`` (scsi, ide, sata, fdc), controller (IDE: bus) and unit."""

    bus: str
    controller: int
    unit: int

    @property
    def prefix(self) -> str:
        """The ``.vmx`` key prefix: ``scsi0:1``, ``ide1:0``, ``floppy0``..."""
        if self.bus == "fdc":
            return f"floppy{self.unit}"
        return f"{self.bus}{self.controller}:{self.unit}"


def drive_slot(disk: etree._Element) -> DriveSlot:
    """The slot of a ``<disk>``: its drive address, else what its target name implies."""
    target = disk.find("target")
    if target is None:
        raise VMXError("<disk> has no <target>")
    bus, dev = target.get("bus") or "", target.get("dev") or ""
    address = disk.find("address[@type='drive']")
    if bus == "scsi":
        if address is not None:
            return DriveSlot("scsi", int(address.get("controller", 0)), int(address.get("unit", 0)))
        controller, unit = divmod(disk_index(dev, "sd"), 15)
        return DriveSlot("scsi", controller, unit + (unit >= 7))
    if bus == "ide":
        if address is not None:
            return DriveSlot("ide", int(address.get("bus", 0)), int(address.get("unit", 0)))
        return DriveSlot("ide", *divmod(disk_index(dev, "hd"), 2))
    if bus == "sata":
        return DriveSlot("sata", *divmod(disk_index(dev, "sd"), 30))
    if bus == "fdc":
        return DriveSlot("fdc", 0, disk_index(dev, "fd"))
    raise VMXError(f"disk '{dev}': bus '{bus}' is not supported by VMware")


def declared_scsi_models(root: etree._Element) -> dict[int, str]:
    """The models of the ``<controller type='scsi'>`` elements, by index."""
    return {
        int(c.get("index", "0")): c.get("model", "")
        for c in root.iterfind("devices/controller[@type='scsi']")
    }


def scsi_model(disk: etree._Element, declared: dict[int, str]) -> str | None:
    """The SCSI controller model a disk asks for (``<driver name>``, the old spelling, or its
    ``<controller>``'s model); None when neither says."""
    driver = disk.find("driver")
    model = str(driver.get("name")) if driver is not None else ""
    if model in SCSI_MODELS:
        return model
    return declared.get(drive_slot(disk).controller) or None


class _Writer:
    def __init__(self, root: etree._Element, virtual_hw_version: int) -> None:
        self.root = root
        self.hw = virtual_hw_version
        self.out: list[tuple[str, str]] = []

    def put(self, key: str, value: str | int) -> None:
        self.out.append((key, str(value)))

    def flag(self, key: str, value: bool) -> None:
        self.put(key, "true" if value else "false")

    # ------------------------------------------------------------------ general

    def general(self) -> None:
        root = self.root
        if root.get("type") != "vmware":
            raise VMXError(f"expected <domain type='vmware'>, got '{root.get('type')}'")
        self.put(".encoding", "UTF-8")
        self.put("config.version", 8)
        self.put("virtualHW.version", self.hw)
        os_type = root.find("os/type")
        arch = os_type.get("arch") if os_type is not None else None
        if arch not in (None, "i686", "x86_64"):
            raise VMXError(f"<os><type arch='{arch}'> is not supported: use i686 or x86_64")
        self.put("guestOS", "other-64" if arch == "x86_64" else "other")
        if root.find("os/smbios[@mode='host']") is not None:
            self.flag("smbios.reflecthost", True)
        uuid = root.findtext("uuid")
        if uuid:
            self.put("uuid.bios", vmware_uuid(uuid.strip()))
        self.put("displayName", escape(root.findtext("name") or "", '"|'))
        description = root.findtext("description")
        if description:
            self.put("annotation", escape(description, '"|').replace("|7C", "|7c"))
        self._memory()
        self._cpus()

    def _kib(self, path: str) -> int | None:
        el = self.root.find(path)
        if el is None:
            return None
        text = (el.text or "").strip()
        return to_kib(int(text), el.get("unit")) if text else None

    def _memory(self) -> None:
        maximum = self._kib("memory") or 0
        memsize = -(-maximum // 1024)
        memsize = -(-memsize // 4) * 4  # VMware wants a multiple of 4 MiB
        self.put("memsize", memsize)
        current = self._kib("currentMemory")
        if current is not None and -(-current // 1024) < memsize:
            self.put("sched.mem.max", -(-current // 1024))
        guarantee = self._kib("memtune/min_guarantee")
        if guarantee:
            self.put("sched.mem.minsize", -(-guarantee // 1024))

    def _cpus(self) -> None:
        vcpu = self.root.find("vcpu")
        vcpus = int(vcpu.text) if vcpu is not None and vcpu.text else 1
        if vcpus > 1 and vcpus % 2:
            raise VMXError(f"<vcpu> must be 1 or a multiple of 2 for VMware, got {vcpus}")
        self.put("numvcpus", vcpus)
        topology = self.root.find("cpu/topology")
        if topology is not None:
            sockets, cores = int(topology.get("sockets", "1")), int(topology.get("cores", "1"))
            threads = int(topology.get("threads", "1"))
            if threads != 1:
                raise VMXError("<cpu><topology threads> must be 1 for VMware")
            if sockets * cores != vcpus:
                raise VMXError(
                    f"<cpu><topology> gives {sockets * cores} CPUs but <vcpu> is {vcpus}"
                )
            self.put("cpuid.coresPerSocket", cores)
        cpuset = vcpu.get("cpuset") if vcpu is not None else None
        if cpuset:
            cpus = _expand(cpuset)
            if len(cpus) < vcpus:
                raise VMXError(f"<vcpu cpuset='{cpuset}'> names fewer CPUs than <vcpu> ({vcpus})")
            self.put("sched.cpu.affinity", ",".join(str(c) for c in cpus))
        shares = self.root.findtext("cputune/shares")
        if shares:
            value = int(shares)
            named = {500 * vcpus: "low", 1000 * vcpus: "normal", 2000 * vcpus: "high"}
            self.put("sched.cpu.shares", named.get(value, value))

    # ------------------------------------------------------------------ devices

    def graphics(self) -> None:
        for graphics in self.root.iterfind("devices/graphics"):
            if graphics.get("type") != "vnc":
                raise VMXError(
                    f"<graphics type='{graphics.get('type')}'> is not supported: "
                    "VMware offers VNC only"
                )
            self.flag("RemoteDisplay.vnc.enabled", True)
            port = graphics.get("port")
            if graphics.get("autoport") != "yes" and port and int(port) > 0:
                self.put("RemoteDisplay.vnc.port", port)
            listen = graphics.get("listen")
            if listen:
                self.put("RemoteDisplay.vnc.ip", listen)
            for attr, key in (("keymap", "keymap"), ("passwd", "password")):
                if graphics.get(attr):
                    self.put(f"RemoteDisplay.vnc.{key}", str(graphics.get(attr)))

    def disks(self) -> None:
        placed = []
        scsi_models: dict[int, str] = {}
        declared = declared_scsi_models(self.root)
        for disk in self.root.iterfind("devices/disk"):
            slot = drive_slot(disk)
            if slot.bus == "scsi":
                model = scsi_model(disk, declared)
                known = scsi_models.get(slot.controller)
                if model and known and known != model:
                    raise VMXError(
                        f"SCSI controller {slot.controller} cannot be both '{known}' and '{model}'"
                    )
                scsi_models[slot.controller] = model or known or ""
            placed.append((slot.prefix, slot.bus, disk))
        for controller in sorted(scsi_models):
            self.flag(f"scsi{controller}.present", True)
            # without a model VMware picks one itself (libvirt's harness autodetects lsilogic)
            if scsi_models[controller]:
                self.put(f"scsi{controller}.virtualDev", SCSI_MODELS[scsi_models[controller]])
        floppies = set()
        for prefix, bus, disk in placed:
            if bus == "fdc":
                floppies.add(prefix)
                self._floppy(prefix, disk)
            else:
                self._disk(prefix, bus, disk)
        for unit in range(2):
            if f"floppy{unit}" not in floppies:
                self.flag(f"floppy{unit}.present", False)

    def _disk(self, prefix: str, bus: str, disk: etree._Element) -> None:
        device, kind = disk.get("device", "disk"), disk.get("type", "file")
        source = disk.find("source")
        self.flag(f"{prefix}.present", True)
        if device == "disk":
            path = source.get("file") if source is not None else None
            if kind != "file" or not path or not path.lower().endswith(".vmdk"):
                raise VMXError(f"hard disk {prefix} must be a file ending in .vmdk")
            self.put(f"{prefix}.deviceType", DISK_DEVICE_TYPES[bus])
            self.put(f"{prefix}.fileName", PathMapper.to_vmx(path))
        elif device == "cdrom" and kind == "file":
            self.put(f"{prefix}.deviceType", "cdrom-image")
            path = source.get("file") if source is not None else None
            self.put(
                f"{prefix}.fileName", PathMapper.to_vmx(path) if path else "emptyBackingString"
            )
        elif device in ("cdrom", "lun") and kind == "block":
            path = source.get("dev") if source is not None else None
            if device == "cdrom":
                device_type = "atapi-cdrom"
            elif bus == "scsi" and path and path.startswith(PASSTHRU_PREFIX):
                device_type = "scsi-passthru"
            else:
                device_type = "cdrom-raw"
            self.put(f"{prefix}.deviceType", device_type)
            if path:
                self.put(f"{prefix}.fileName", path)
            else:
                self.flag(f"{prefix}.autodetect", True)
                self.put(f"{prefix}.fileName", "auto detect")
        else:
            raise VMXError(
                f"disk {prefix}: <disk type='{kind}' device='{device}'> is not supported by VMware"
            )
        driver = disk.find("driver")
        if driver is not None and driver.get("cache") == "writethrough":
            self.flag(f"{prefix}.writeThrough", True)
        if disk.find("transient") is not None:
            self.put(f"{prefix}.mode", "independent-nonpersistent")

    def _floppy(self, prefix: str, disk: etree._Element) -> None:
        source = disk.find("source")
        self.flag(f"{prefix}.present", True)
        if disk.get("type") == "file":
            path = source.get("file") if source is not None else None
            self.put(f"{prefix}.fileType", "file")
            if path:
                self.put(f"{prefix}.fileName", PathMapper.to_vmx(path))
        elif disk.get("type") == "block":
            path = source.get("dev") if source is not None else None
            self.put(f"{prefix}.fileType", "device")
            if path:
                self.put(f"{prefix}.fileName", path)
        else:
            raise VMXError(f"floppy {prefix}: type '{disk.get('type')}' is not supported")

    def interfaces(self) -> None:
        for port, iface in enumerate(self.root.iterfind("devices/interface")):
            prefix = f"ethernet{port}"
            self.flag(f"{prefix}.present", True)
            model = iface.find("model")
            if model is not None:
                name = model.get("type", "")
                if name not in NIC_MODELS:
                    raise VMXError(
                        f"interface {port}: model '{name}' is not one VMware has "
                        f"({', '.join(NIC_MODELS)})"
                    )
                self.put(f"{prefix}.virtualDev", "vmxnet" if name == "vmxnet2" else name)
                if name == "vmxnet2":
                    self.put(f"{prefix}.features", 15)
            source = iface.find("source")
            kind = iface.get("type")
            if kind == "bridge":
                self.put(
                    f"{prefix}.networkName", source.get("bridge", "") if source is not None else ""
                )
                target = iface.find("target")
                if target is not None and target.get("dev"):
                    self.put(f"{prefix}.connectionType", "custom")
                    self.put(f"{prefix}.vnet", str(target.get("dev")))
                else:
                    self.put(f"{prefix}.connectionType", "bridged")
            elif kind == "user":
                self.put(f"{prefix}.connectionType", "nat")
            elif kind == "vds" and source is not None:
                self.put(f"{prefix}.dvs.switchId", vmware_uuid(source.get("switchid", "")))
                self.put(f"{prefix}.dvs.portId", source.get("portid", ""))
                self.put(f"{prefix}.dvs.portgroupId", source.get("portgroupid", ""))
                self.put(f"{prefix}.dvs.connectionId", source.get("connectionid", ""))
            elif kind != "null":
                raise VMXError(f"interface {port}: type '{kind}' is not supported by VMware")
            self._mac(prefix, iface.find("mac"))

    def _mac(self, prefix: str, mac: etree._Element | None) -> None:
        if mac is None:
            return
        address = mac.get("address", "").lower()
        octets = [int(x, 16) for x in address.split(":")]
        head = (octets[0] << 16) | (octets[1] << 8) | octets[2]
        tail = (octets[3] << 16) | (octets[4] << 8) | octets[5]
        check = mac.get("check")
        wanted = mac.get("type")
        vmware = head == 0x000C29 or (
            head == 0x005056 and (tail <= 0x3FFFFF or 0x800000 <= tail <= 0xBFFFFF)
        )
        if wanted == "static" or (
            wanted is None
            and not (head == 0x000C29 or (head == 0x005056 and 0x800000 <= tail <= 0xBFFFFF))
        ):
            self.put(f"{prefix}.addressType", "static")
            self.put(f"{prefix}.address", address)
            if check is None and not vmware:
                check = "no"
        elif head == 0x005056 and 0x800000 <= tail <= 0xBFFFFF:
            self.put(f"{prefix}.addressType", "vpx")
            self.put(f"{prefix}.generatedAddress", address)
        else:
            self.put(f"{prefix}.addressType", "generated")
            self.put(f"{prefix}.generatedAddress", address)
            self.put(f"{prefix}.generatedAddressOffset", 0)
        if check is not None:
            self.flag(f"{prefix}.checkMACAddress", check == "yes")

    def chardevs(self) -> None:
        for kind in ("serial", "parallel"):
            for number, dev in enumerate(self.root.iterfind(f"devices/{kind}")):
                target = dev.find("target")
                port = int(target.get("port", number)) if target is not None else number
                self._chardev(kind, f"{kind}{port}", dev)

    def _chardev(self, kind: str, prefix: str, dev: etree._Element) -> None:
        source = dev.find("source")
        chr_type = dev.get("type")
        self.flag(f"{prefix}.present", True)
        if chr_type == "dev" and source is not None:
            self.put(f"{prefix}.fileType", "device")
            self.put(f"{prefix}.fileName", source.get("path", ""))
        elif chr_type == "file" and source is not None:
            self.put(f"{prefix}.fileType", "file")
            self.put(f"{prefix}.fileName", PathMapper.to_vmx(source.get("path", "")))
        elif chr_type == "pipe" and kind == "serial" and source is not None:
            self.put(f"{prefix}.fileType", "pipe")
            # domain XML cannot say which end is the VM's: libvirt writes a client pipe
            self.put(f"{prefix}.pipe.endPoint", "client")
            self.flag(f"{prefix}.tryNoRxLoss", False)
            self.put(f"{prefix}.fileName", source.get("path", ""))
        elif chr_type == "tcp" and kind == "serial" and source is not None:
            protocol = dev.find("protocol")
            name = protocol.get("type", "raw") if protocol is not None else "raw"
            if name not in SERIAL_SCHEMES:
                raise VMXError(f"{prefix}: protocol '{name}' is not supported by VMware")
            self.put(f"{prefix}.fileType", "network")
            self.put(
                f"{prefix}.fileName",
                f"{SERIAL_SCHEMES[name]}://{source.get('host')}:{source.get('service')}",
            )
            self.put(
                f"{prefix}.network.endPoint", "server" if source.get("mode") == "bind" else "client"
            )
        else:
            raise VMXError(f"{prefix}: <{kind} type='{chr_type}'> is not supported by VMware")
        if kind == "serial":
            self.flag(f"{prefix}.yieldOnMsrRead", True)

    def video(self) -> None:
        videos = self.root.findall("devices/video")
        if len(videos) > 1:
            raise VMXError("VMware supports one <video> device only")
        if not videos and self.root.find("devices/graphics") is None:
            return
        if videos:
            model = videos[0].find("model")
            if model is not None and model.get("type", "vmvga") != "vmvga":
                raise VMXError(
                    f"<video><model type='{model.get('type')}'> is not supported: "
                    "VMware has vmvga only"
                )
        else:
            model = None  # libvirt adds a default video card to a domain with graphics
        vram = int(model.get("vram", "4096")) if model is not None else 4096
        self.put("svga.vramSize", vram * 1024)

    def hardware(self) -> None:
        if self.hw >= 8:
            self.flag("pciBridge0.present", True)
            for bridge in range(4, 8):
                self.flag(f"pciBridge{bridge}.present", True)
                self.put(f"pciBridge{bridge}.virtualDev", "pcieRootPort")
                self.put(f"pciBridge{bridge}.functions", 8)
        if self.hw >= 7:
            self.flag("vmci0.present", True)
        if self.root.get("firmware") or self.root.find("os[@firmware='efi']") is not None:
            self.put("firmware", "efi")


def _expand(cpuset: str) -> list[int]:
    """``0-2,5`` as ``[0, 1, 2, 5]`` (``^N`` removes N)."""
    cpus: set[int] = set()
    for part in cpuset.split(","):
        part = part.strip()
        if part.startswith("^"):
            cpus.discard(int(part[1:]))
        elif "-" in part:
            low, high = part.split("-")
            cpus.update(range(int(low), int(high) + 1))
        else:
            cpus.add(int(part))
    return sorted(cpus)


def xml_to_vmx(definition: DomainDef, virtual_hw_version: int = 7) -> str:
    """The ``.vmx`` text for ``definition``; :class:`VMXError` names what VMware cannot hold."""
    if virtual_hw_version < 4:
        raise VMXError(f"virtualHW.version {virtual_hw_version} is too old: 4 is the minimum")
    writer = _Writer(definition.tree(), virtual_hw_version)
    try:
        writer.general()
        writer.graphics()
        writer.disks()
        writer.interfaces()
        writer.chardevs()
        writer.video()
        writer.hardware()
    except ValueError as exc:
        raise VMXError(f"cannot convert to VMX: {exc}") from None
    return format_vmx(writer.out)
