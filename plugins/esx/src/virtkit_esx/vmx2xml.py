"""``.vmx`` to domain XML, with the rules of libvirt's VMX parser (``domxml-from-native``).

File names in the ``.vmx`` become datastore paths through a :class:`~virtkit_esx.paths.PathMapper`;
a hard disk whose file is missing is an error, a CD-ROM or floppy image that is missing becomes an
empty drive.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from lxml import etree
from virtkit.xml import GENERIC_STEPS, Context, DomainDef, canonical, format_domain, parse_domain
from virtkit.xml.canonical import devices as canonical_devices
from virtkit.xml.canonical import general as canonical_general

from virtkit_esx.paths import MissingFileError, PathMapper
from virtkit_esx.vmxfile import VMXConfig, VMXError, unescape

#: libvirt builds a VMX definition in memory, so the defaults only its XML parser adds
#: (``<boot dev='hd'/>``, video heads) do not apply
STEPS = tuple(
    s
    for s in GENERIC_STEPS
    if s not in (canonical_general.default_os, canonical_devices.video_defaults)
)

SCSI_MODELS = {
    "buslogic": "buslogic",
    "lsilogic": "lsilogic",
    "lsisas1068": "lsisas1068",
    "pvscsi": "vmpvscsi",
}
NIC_MODELS = ("vlance", "vmxnet", "vmxnet3", "e1000", "e1000e")
SERIAL_PROTOCOLS = {
    "tcp": "raw",
    "telnet": "telnet",
    "telnets": "telnets",
    "ssl": "tls",
    "tcp+ssl": "tls",
    "tls": "tls",
    "tcp+tls": "tls",
}
SCSI_UNITS = [u for u in range(64) if u != 7]  # unit 7 is the controller itself


def disk_name(prefix: str, index: int) -> str:
    """libvirt's disk naming: 0 -> ``sda``, 25 -> ``sdz``, 26 -> ``sdaa``."""
    letters = ""
    index += 1
    while index > 0:
        index, rem = divmod(index - 1, 26)
        letters = chr(ord("a") + rem) + letters
    return prefix + letters


def _sub(
    parent: etree._Element, tag: str, text: str | None = None, **attrib: str
) -> etree._Element:
    el = etree.SubElement(parent, tag, {k: v for k, v in attrib.items()})
    if text is not None:
        el.text = text
    return el


class _Reader:
    """One conversion: the config, the path mapper and the ``<domain>`` being built."""

    def __init__(self, vmx: VMXConfig, paths: PathMapper) -> None:
        self.vmx = vmx
        self.paths = paths
        self.root = etree.Element("domain", type="vmware")
        self.devices: etree._Element

    # ------------------------------------------------------------------ general

    def general(self) -> None:
        vmx, root = self.vmx, self.root
        version = vmx.integer("config.version")
        if version != 8:
            raise VMXError(f"expected VMX entry 'config.version' to be 8, got {version}")
        hw = vmx.integer("virtualHW.version")
        if hw is None or hw < 4:
            raise VMXError(f"expected VMX entry 'virtualHW.version' to be 4 or higher, got {hw}")
        name = vmx.string("displayName")
        _sub(root, "name", unescape(name) if name is not None else None)
        # libvirt leaves the UUID all zero when the file has none
        _sub(root, "uuid", vmx.uuid("uuid.bios") or "00000000-0000-0000-0000-000000000000")
        self._genid()
        annotation = vmx.string("annotation")
        if annotation:
            _sub(root, "description", unescape(annotation))
        memsize = vmx.integer("memsize", 32)
        assert memsize is not None
        if memsize <= 0 or memsize % 4:
            raise VMXError(
                f"expected VMX entry 'memsize' to be a positive multiple of 4, got {memsize}"
            )
        current = vmx.integer("sched.mem.max", memsize)
        if current is None or current < 0 or current > memsize:
            current = memsize
        _sub(root, "memory", str(memsize * 1024), unit="KiB")
        _sub(root, "currentMemory", str(current * 1024), unit="KiB")
        minsize = vmx.integer("sched.mem.minsize", 0) or 0
        if minsize > memsize:
            minsize = memsize
        if minsize > 0:
            tune = _sub(root, "memtune")
            _sub(tune, "min_guarantee", str(minsize * 1024), unit="KiB")
        vcpus = self._vcpus()
        shares = self._shares(vcpus)
        if shares is not None:
            _sub(_sub(root, "cputune"), "shares", str(shares))
        self._os()
        cores = vmx.integer("cpuid.coresPerSocket", 0) or 0
        if cores > 0:
            if vcpus % cores:
                raise VMXError(
                    f"VMX entry 'numvcpus' ({vcpus}) is not a multiple of "
                    f"'cpuid.coresPerSocket' ({cores})"
                )
            _sub(
                _sub(root, "cpu"),
                "topology",
                sockets=str(vcpus // cores),
                dies="1",
                cores=str(cores),
                threads="1",
            )
        _sub(root, "clock", offset="utc")

    def _genid(self) -> None:
        high, low = self.vmx.integer("vm.genid"), self.vmx.integer("vm.genidX")
        if high is None or low is None:
            return
        raw = (high % 2**64).to_bytes(8, "big") + (low % 2**64).to_bytes(8, "big")
        h = raw.hex()
        _sub(self.root, "genid", f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")

    def _vcpus(self) -> int:
        vcpus = self.vmx.integer("numvcpus", 1)
        assert vcpus is not None
        if vcpus <= 0 or (vcpus > 1 and vcpus % 2):
            raise VMXError(f"expected VMX entry 'numvcpus' to be 1 or a multiple of 2, got {vcpus}")
        vcpu = _sub(self.root, "vcpu", str(vcpus), placement="static")
        affinity = self.vmx.string("sched.cpu.affinity")
        if affinity and affinity.lower() != "all":
            try:
                cpus = sorted({int(part.strip()) for part in affinity.split(",")})
            except ValueError:
                raise VMXError(
                    f"VMX entry 'sched.cpu.affinity' must be 'all' or a list of CPU numbers, "
                    f"not {affinity!r}"
                ) from None
            if len(cpus) < vcpus:
                raise VMXError(
                    f"VMX entry 'sched.cpu.affinity' names {len(cpus)} CPUs, fewer than "
                    f"'numvcpus' ({vcpus})"
                )
            vcpu.set("cpuset", _ranges(cpus))
        return vcpus

    def _shares(self, vcpus: int) -> int | None:
        value = self.vmx.string("sched.cpu.shares")
        if value is None:
            return None
        per_vcpu = {"low": 500, "normal": 1000, "high": 2000}.get(value.lower())
        if per_vcpu is not None:
            return per_vcpu * vcpus
        try:
            return int(value)
        except ValueError:
            raise VMXError(
                f"VMX entry 'sched.cpu.shares' must be low, normal, high or a number, not {value!r}"
            ) from None

    def _os(self) -> None:
        guest = self.vmx.string("guestOS") or ""
        os_el = _sub(self.root, "os")
        if (self.vmx.string("firmware") or "").lower() == "efi":
            os_el.set("firmware", "efi")
        arch = "x86_64" if guest.lower().endswith("-64") else "i686"
        _sub(os_el, "type", "hvm", arch=arch)
        if self.vmx.boolean("smbios.reflecthost"):
            _sub(os_el, "smbios", mode="host")

    # ------------------------------------------------------------------ devices

    def all_devices(self) -> None:
        self.devices = _sub(self.root, "devices")
        self._graphics()
        scsi_models: dict[int, str] = {}
        for controller in range(4):
            prefix = f"scsi{controller}"
            if not self.vmx.boolean(f"{prefix}.present"):
                continue
            virtual_dev = self.vmx.string(f"{prefix}.virtualDev")
            if virtual_dev:
                model = SCSI_MODELS.get(virtual_dev.lower())
                if model is None:
                    raise VMXError(
                        f"VMX entry '{prefix}.virtualDev' has an unknown SCSI controller model "
                        f"{virtual_dev!r}"
                    )
                scsi_models[controller] = model
            for unit in SCSI_UNITS:
                index = controller * 15 + (unit if unit < 7 else unit - 1)
                self._disk(
                    f"{prefix}:{unit}",
                    "scsi",
                    disk_name("sd", index),
                    (str(controller), "0", "0", str(unit)),
                )
        for bus in range(2):
            for unit in range(2):
                self._disk(
                    f"ide{bus}:{unit}",
                    "ide",
                    disk_name("hd", bus * 2 + unit),
                    ("0", str(bus), "0", str(unit)),
                )
        for controller in range(4):
            if not self.vmx.boolean(f"sata{controller}.present"):
                continue
            for unit in range(30):
                self._disk(
                    f"sata{controller}:{unit}",
                    "sata",
                    disk_name("sd", controller * 30 + unit),
                    (str(controller), "0", "0", str(unit)),
                )
        for unit in range(2):
            self._floppy(unit)
        self._controllers(scsi_models)
        for port in range(10):
            self._ethernet(port)
        for port in range(4):
            self._chardev("serial", port)
        for port in range(3):
            self._chardev("parallel", port)
        vram = self.vmx.integer("svga.vramSize", 4096 * 1024) or 4096 * 1024
        video = _sub(self.devices, "video")
        _sub(video, "model", type="vmvga", vram=str(vram // 1024), primary="yes")

    def _controllers(self, scsi_models: dict[int, str]) -> None:
        """The controllers the disks' addresses need, added as libvirt adds implicit ones:
        SCSI, then floppy, IDE and SATA, each from index 0 to the highest used."""
        highest: dict[str, int] = {}
        for disk in self.devices.iter("disk"):
            target, address = disk.find("target"), disk.find("address")
            if target is not None and address is not None:
                bus = str(target.get("bus"))
                highest[bus] = max(highest.get(bus, -1), int(address.get("controller", "0")))
        for bus in ("scsi", "fdc", "ide", "sata"):
            for index in range(highest.get(bus, -1) + 1):
                attrib = {"type": bus, "index": str(index)}
                if bus == "scsi" and index in scsi_models:
                    attrib["model"] = scsi_models[index]
                _sub(self.devices, "controller", **attrib)

    def _graphics(self) -> None:
        if not self.vmx.boolean("RemoteDisplay.vnc.enabled"):
            return
        port = self.vmx.integer("RemoteDisplay.vnc.port", -1)
        attrib = {"type": "vnc", "port": str(port), "autoport": "yes" if port == -1 else "no"}
        listen = self.vmx.string("RemoteDisplay.vnc.ip")
        if listen:
            attrib["listen"] = listen
        keymap = self.vmx.string("RemoteDisplay.vnc.keymap")
        if keymap:
            attrib["keymap"] = keymap
        password = self.vmx.string("RemoteDisplay.vnc.password")
        if password:
            attrib["passwd"] = password
        _sub(self.devices, "graphics", **attrib)

    def _disk(self, prefix: str, bus: str, target: str, address: tuple[str, ...]) -> None:
        vmx = self.vmx
        if not vmx.boolean(f"{prefix}.present") or vmx.boolean(f"{prefix}.clientDevice"):
            return
        device_type = (vmx.string(f"{prefix}.deviceType") or "").lower()
        file_name = vmx.string(f"{prefix}.fileName") or ""
        lower = file_name.lower()
        readonly = True
        source: dict[str, str] = {}
        if lower.endswith(".vmdk"):
            if device_type and device_type not in (
                f"{'ata' if bus == 'ide' else bus}-harddisk",
                "disk",
            ):
                raise VMXError(
                    f"VMX entry '{prefix}.deviceType' is {device_type!r}, which does not go "
                    f"with the hard disk '{file_name}'"
                )
            kind, device, readonly = "file", "disk", False
            try:
                source["file"] = self.paths.from_vmx(file_name)
            except MissingFileError as exc:
                raise VMXError(f"hard disk {prefix}: {exc}") from None
        elif (
            device_type == "cdrom-image"
            or lower.endswith(".iso")
            or (not device_type and lower == "emptybackingstring")
        ):
            kind, device = "file", "cdrom"
            if lower != "emptybackingstring" and file_name:
                source.update(self._image(file_name))
        elif device_type in ("atapi-cdrom", "cdrom-raw"):
            kind, device = "block", "cdrom" if device_type == "atapi-cdrom" else "lun"
            if lower == "auto detect":
                source["startupPolicy"] = "optional"
            elif file_name:
                source["dev"] = file_name
        elif device_type == "scsi-passthru":
            kind, device = "block", "lun"
            source["dev"] = file_name
        elif not file_name and not device_type:
            return
        else:
            raise VMXError(
                f"VMX entry '{prefix}.fileName' ({file_name!r}) with deviceType "
                f"{device_type!r} is not a disk or CD-ROM libvirt knows"
            )
        disk = _sub(self.devices, "disk", type=kind, device=device)
        if vmx.boolean(f"{prefix}.writeThrough"):
            _sub(disk, "driver", cache="writethrough")
        if source:
            _sub(disk, "source", **source)
        _sub(disk, "target", dev=target, bus=bus)
        if readonly:
            _sub(disk, "readonly")
        mode = (vmx.string(f"{prefix}.mode") or "").lower()
        if mode == "independent-nonpersistent":
            _sub(disk, "transient")
        _sub(
            disk,
            "address",
            type="drive",
            controller=address[0],
            bus=address[1],
            target=address[2],
            unit=address[3],
        )

    def _image(self, file_name: str) -> dict[str, str]:
        """The ``<source>`` of a CD-ROM or floppy image: none when the file is missing (libvirt
        keeps such a drive, empty)."""
        try:
            return {"file": self.paths.from_vmx(file_name)}
        except MissingFileError:
            return {}

    def _floppy(self, unit: int) -> None:
        prefix = f"floppy{unit}"
        vmx = self.vmx
        if not vmx.boolean(f"{prefix}.present") or vmx.boolean(f"{prefix}.clientDevice"):
            return
        file_type = (vmx.string(f"{prefix}.fileType") or "device").lower()
        file_name = vmx.string(f"{prefix}.fileName") or ""
        source: dict[str, str] = {}
        if file_type == "device":
            kind = "block"
            if file_name and file_name.lower() != "auto detect":
                source["dev"] = file_name
        elif file_type == "file":
            kind = "file"
            if file_name:
                source.update(self._image(file_name))
        else:
            raise VMXError(f"VMX entry '{prefix}.fileType' has an unknown value {file_type!r}")
        disk = _sub(self.devices, "disk", type=kind, device="floppy")
        if source:
            _sub(disk, "source", **source)
        _sub(disk, "target", dev=disk_name("fd", unit), bus="fdc")
        _sub(disk, "address", type="drive", controller="0", bus="0", target="0", unit=str(unit))

    def _ethernet(self, port: int) -> None:
        prefix = f"ethernet{port}"
        vmx = self.vmx
        if not vmx.boolean(f"{prefix}.present"):
            return
        connection = (vmx.string(f"{prefix}.connectionType") or "bridged").lower()
        network = vmx.string(f"{prefix}.networkName")
        switch = vmx.uuid(f"{prefix}.dvs.switchId")
        target = None
        source: dict[str, str] = {}
        if switch:
            kind = "vds"
            source = {"switchid": switch}
            for key in ("portId", "portgroupId", "connectionId"):
                value = vmx.string(f"{prefix}.dvs.{key}")
                if value is None:
                    raise VMXError(f"VMX entry '{prefix}.dvs.{key}' is missing")
                source[key.lower()] = value
        elif connection == "bridged":
            kind = "bridge" if network is not None else "null"
            if network is not None:
                source = {"bridge": network}
        elif connection == "custom":
            kind, source = "bridge", {"bridge": network or ""}
            target = vmx.string(f"{prefix}.vnet")
            if not target:
                raise VMXError(f"VMX entry '{prefix}.vnet' is missing for a custom connection")
        elif connection == "nat":
            kind = "user"
        else:
            raise VMXError(
                f"VMX entry '{prefix}.connectionType' has a value libvirt cannot represent: "
                f"{connection!r}"
            )
        iface = _sub(self.devices, "interface", type=kind)
        self._mac(iface, prefix)
        if source:
            _sub(iface, "source", **source)
        if target:
            _sub(iface, "target", dev=target)
        virtual_dev = vmx.string(f"{prefix}.virtualDev")
        if virtual_dev:
            model = virtual_dev.lower()
            if model not in NIC_MODELS:
                raise VMXError(f"VMX entry '{prefix}.virtualDev' has an unknown model {model!r}")
            if model == "vmxnet" and vmx.integer(f"{prefix}.features", 0) == 15:
                model = "vmxnet2"
            _sub(iface, "model", type=model)

    def _mac(self, iface: etree._Element, prefix: str) -> None:
        vmx = self.vmx
        address_type = (vmx.string(f"{prefix}.addressType") or "").lower()
        if address_type == "static":
            address, kind = vmx.string(f"{prefix}.address"), "static"
        elif address_type in ("generated", "vpx", ""):
            address, kind = vmx.string(f"{prefix}.generatedAddress"), "generated"
        else:
            raise VMXError(
                f"VMX entry '{prefix}.addressType' has an unknown value {address_type!r}"
            )
        if not address:
            return
        attrib = {"address": address.lower(), "type": kind}
        check = vmx.string(f"{prefix}.checkMACAddress")
        if check is not None:
            attrib["check"] = "yes" if vmx.boolean(f"{prefix}.checkMACAddress") else "no"
        _sub(iface, "mac", **attrib)

    def _chardev(self, kind: str, port: int) -> None:
        prefix = f"{kind}{port}"
        vmx = self.vmx
        if not vmx.boolean(f"{prefix}.present"):
            return
        file_type = (vmx.string(f"{prefix}.fileType") or "").lower()
        file_name = vmx.string(f"{prefix}.fileName") or ""
        protocol = None
        if file_type == "device":
            chr_type, source = "dev", {"path": file_name}
        elif file_type == "file":
            chr_type = "file"
            try:
                source = {"path": self.paths.from_vmx(file_name)}
            except MissingFileError as exc:
                raise VMXError(f"{prefix}: {exc}") from None
        elif file_type == "pipe" and kind == "serial":
            chr_type, source = "pipe", {"path": file_name}
        elif file_type == "network" and kind == "serial":
            chr_type = "tcp"
            parts = urlsplit(file_name if "://" in file_name else f"tcp://{file_name}")
            protocol = SERIAL_PROTOCOLS.get(parts.scheme.lower())
            if protocol is None or not parts.hostname or parts.port is None:
                raise VMXError(
                    f"VMX entry '{prefix}.fileName' is not a network URI libvirt "
                    f"knows: {file_name!r}"
                )
            end = (vmx.string(f"{prefix}.network.endPoint") or "client").lower()
            source = {
                "mode": "bind" if end == "server" else "connect",
                "host": parts.hostname,
                "service": str(parts.port),
            }
        else:
            raise VMXError(f"VMX entry '{prefix}.fileType' has an unknown value {file_type!r}")
        dev = _sub(self.devices, kind, type=chr_type)
        _sub(dev, "source", **source)
        if protocol:
            _sub(dev, "protocol", type=protocol)
        _sub(dev, "target", port=str(port))


def _ranges(cpus: list[int]) -> str:
    """``[0, 1, 2, 5]`` as ``0-2,5``."""
    out: list[str] = []
    start = prev = cpus[0]
    for cpu in cpus[1:] + [-2]:
        if cpu != prev + 1:
            out.append(str(start) if start == prev else f"{start}-{prev}")
            start = cpu
        prev = cpu
    return ",".join(out)


def vmx_to_definition(text: str, paths: PathMapper) -> DomainDef:
    """The canonical domain definition of the ``.vmx`` file ``text``."""
    reader = _Reader(VMXConfig.parse(text), paths)
    reader.general()
    for tag, value in (
        ("on_poweroff", "destroy"),
        ("on_reboot", "restart"),
        ("on_crash", "destroy"),
    ):
        _sub(reader.root, tag, value)
    reader.all_devices()
    definition = parse_domain(etree.tostring(reader.root))
    return canonical(definition, steps=STEPS, context=Context(arch="i686"))


def vmx_to_xml(text: str, paths: PathMapper) -> str:
    """The domain XML of the ``.vmx`` file ``text``, as libvirt formats it (secrets kept)."""
    return format_domain(vmx_to_definition(text, paths), secure=True)
