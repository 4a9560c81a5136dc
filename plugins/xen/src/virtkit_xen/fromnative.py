"""xl.cfg / xm config to domain XML (``domxml-from-native`` for ``xen-xl`` and ``xen-xm``),
with the rules of libvirt's Xen config parser. The XML is built as a tree, then libvirt's
canonical defaults and order are applied by :func:`virtkit.xml.canonical`."""

from __future__ import annotations

import uuid as uuidlib
from typing import Literal

from lxml import etree
from virtkit.xml import Context, DomainDef, canonical, format_domain, parse_domain

from virtkit_xen.cfgfile import ConfigSyntaxError, Value, parse
from virtkit_xen.chardev import parse_chardev

Flavor = Literal["xl", "xm"]

HVMLOADER = "/usr/lib/xen/boot/hvmloader"
#: where libxl keeps its firmware (OVMF) on the host
FIRMWARE_DIR = "/usr/lib/xen/boot"
BOOT_DEVICES = {"a": "fd", "c": "hd", "d": "cdrom", "n": "network"}
ACTIONS = (
    "destroy",
    "restart",
    "preserve",
    "rename-restart",
    "coredump-destroy",
    "coredump-restart",
    "soft-reset",
)
XEN_NS = "http://libvirt.org/schemas/domain/xen/1.0"
DISK_FORMATS = ("raw", "qcow", "qcow2", "vhd", "qed")


def _sub(
    parent: etree._Element, tag: str, text: str | None = None, **attrib: str
) -> etree._Element:
    el = etree.SubElement(parent, tag, attrib)
    if text is not None:
        el.text = text
    return el


def bus_of(dev: str) -> str:
    """The disk bus a Xen virtual device name implies."""
    for prefix, bus in (("xvd", "xen"), ("hd", "ide"), ("sd", "scsi"), ("vd", "virtio")):
        if dev.startswith(prefix):
            return bus
    return "xen"


class _Settings:
    """Typed access to the parsed settings."""

    def __init__(self, settings: dict[str, Value]) -> None:
        self.values = settings

    def string(self, key: str) -> str | None:
        value = self.values.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise ConfigSyntaxError(f"config value {key} was malformed: expected a string")
        return value

    def integer(self, key: str, default: int | None = None) -> int | None:
        value = self.values.get(key)
        if value is None:
            return default
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                raise ConfigSyntaxError(
                    f"config value {key} was malformed: expected a number"
                ) from None
        if isinstance(value, list):
            raise ConfigSyntaxError(f"config value {key} was malformed: expected a number")
        return value

    def strings(self, key: str) -> list[str]:
        """A list value; a single string counts as a list of one."""
        value = self.values.get(key)
        if value is None:
            return []
        items: list[Value] = value if isinstance(value, list) else [value]
        if not all(isinstance(v, str) for v in items):
            raise ConfigSyntaxError(f"config value {key} was malformed: expected strings")
        return [str(v) for v in items]

    def nested(self, key: str) -> list[list[str]]:
        """A list of lists of strings (``vnuma``)."""
        value = self.values.get(key)
        if value is None:
            return []
        if not isinstance(value, list) or not all(
            isinstance(v, list) and all(isinstance(x, str) for x in v) for v in value
        ):
            raise ConfigSyntaxError(f"config value {key} was malformed: expected lists of strings")
        return [[str(x) for x in v] for v in value]


def _options(text: str) -> dict[str, str]:
    options = {}
    for item in text.split(","):
        key, sep, value = item.strip().partition("=")
        if sep:
            options[key.strip()] = value.strip()
    return options


class _Parser:
    def __init__(self, settings: dict[str, Value], flavor: Flavor) -> None:
        self.cfg = _Settings(settings)
        self.flavor = flavor
        nsmap = {"xen": XEN_NS} if "device_model_args" in settings and flavor == "xl" else None
        self.root = etree.Element("domain", type="xen", nsmap=nsmap)
        self.devices: etree._Element
        self.os_type = "linux"

    def parse(self) -> etree._Element:
        cfg, root = self.cfg, self.root
        name = cfg.string("name")
        if not name:
            raise ConfigSyntaxError("config value name was missing")
        _sub(root, "name", name)
        _sub(root, "uuid", cfg.string("uuid") or str(uuidlib.uuid4()))
        kind = cfg.string("type") if self.flavor == "xl" else None
        if kind == "pvh":
            self.os_type = "xenpvh"
        elif kind == "hvm" or (kind is None and cfg.string("builder") == "hvm"):
            self.os_type = "hvm"
        self.memory()
        self.vcpus()
        self.os()
        self.features()
        self.clock()
        for event, default in (
            ("on_poweroff", "destroy"),
            ("on_reboot", "restart"),
            ("on_crash", "restart"),
        ):
            value = cfg.string(event) or default
            if value not in ACTIONS:
                raise ConfigSyntaxError(f"unexpected value {value!r} for {event}")
            _sub(root, event, value)
        self.devices = _sub(root, "devices")
        self.xenbus = _sub(self.devices, "controller", type="xenbus", index="0")
        emulator = cfg.string("device_model_override") or cfg.string("device_model")
        if emulator and self.hvm:
            _sub(self.devices, "emulator", emulator)
        self.disks()
        self.vifs()
        self.pci()
        self.inputs()
        self.graphics()
        self.chardevs()
        self.sound()
        if self.flavor == "xl":
            self.xl_devices()
        _sub(self.devices, "memballoon", model="xen")
        return root

    @property
    def hvm(self) -> bool:
        return self.os_type == "hvm"

    # ------------------------------------------------------------------ general

    def memory(self) -> None:
        memory = self.cfg.integer("memory", 128) or 0
        maxmem = self.cfg.integer("maxmem", memory) or 0
        _sub(self.root, "memory", str(max(memory, maxmem) * 1024), unit="KiB")
        _sub(self.root, "currentMemory", str(memory * 1024), unit="KiB")

    def vcpus(self) -> None:
        cfg = self.cfg
        current = cfg.integer("vcpus", 1) or 1
        maximum = cfg.integer("maxvcpus", current) or current
        avail = cfg.integer("vcpu_avail")
        if avail is not None:
            current = min(bin(avail).count("1"), maximum)
        vcpu = _sub(self.root, "vcpu", str(maximum), placement="static")
        if current != maximum:
            vcpu.set("current", str(current))
        cpus = cfg.string("cpus")
        if cpus:
            vcpu.set("cpuset", cpus)

    def os(self) -> None:
        cfg, root = self.cfg, self.root
        if not self.hvm:
            bootloader = cfg.string("bootloader")
            if bootloader:
                _sub(root, "bootloader", bootloader)
            if cfg.string("bootargs"):
                _sub(root, "bootloader_args", cfg.string("bootargs"))
        os = _sub(root, "os")
        machine = {"hvm": "xenfv", "xenpvh": "xenpvh"}.get(self.os_type, "xenpv")
        _sub(os, "type", self.os_type, arch="x86_64", machine=machine)
        if self.hvm:
            loader = cfg.string("kernel") if self.flavor == "xm" else None
            if self.flavor == "xl" and cfg.string("bios") == "ovmf":
                _sub(os, "loader", f"{FIRMWARE_DIR}/ovmf.bin", readonly="yes", type="pflash")
            else:
                _sub(os, "loader", loader or HVMLOADER, type="rom")
            if self.flavor == "xl":  # libxl boots an HVM guest's kernel directly too
                self._direct_boot(os)
            for letter in (cfg.string("boot") or "c")[:4]:
                if letter in BOOT_DEVICES:
                    _sub(os, "boot", dev=BOOT_DEVICES[letter])
            if self.flavor == "xl":
                for path in cfg.strings("acpi_firmware")[:1]:
                    _sub(_sub(os, "acpi"), "table", path, type="slic")
            return
        self._direct_boot(os)

    def _direct_boot(self, os: etree._Element) -> None:
        """``kernel``, ``ramdisk`` and the command line (xl's ``cmdline``, else ``root`` and
        ``extra``) into ``<os>``."""
        cfg = self.cfg
        kernel = cfg.string("kernel")
        if kernel:
            _sub(os, "kernel", kernel)
        ramdisk = cfg.string("ramdisk")
        if ramdisk:
            _sub(os, "initrd", ramdisk)
        cmdline = cfg.string("cmdline") if self.flavor == "xl" else None
        if cmdline is None:
            extra, root_dev = cfg.string("extra"), cfg.string("root")
            if root_dev:
                cmdline = f"root={root_dev} {extra}" if extra else f"root={root_dev}"
            else:
                cmdline = extra
        if cmdline:
            _sub(os, "cmdline", cmdline)

    def features(self) -> None:
        cfg = self.cfg
        features = etree.Element("features")
        if self.hvm:
            for key in ("acpi", "apic", "pae"):
                if cfg.integer(key, 1):
                    _sub(features, key)
            hap = cfg.integer("hap")
            if hap == 0:
                _sub(features, "hap", state="off")
            if cfg.integer("viridian"):
                _sub(features, "viridian")
        if cfg.integer("e820_host"):
            xen = _sub(features, "xen")
            _sub(xen, "e820_host", state="on")
            if cfg.string("passthrough") == "enabled":
                _sub(xen, "passthrough", state="on")
        if len(features):
            self.root.append(features)
        if self.flavor == "xl":
            self.cpu()

    def cpu(self) -> None:
        nested = self.cfg.integer("nestedhvm")
        cpuid = self.cfg.string("cpuid")
        if nested is None and not cpuid:
            return
        cpu = _sub(self.root, "cpu", mode="host-passthrough")
        if nested == 0:
            _sub(cpu, "feature", policy="disable", name="vmx")
        if cpuid:
            policies = {
                "1": "force",
                "0": "disable",
                "x": "optional",
                "k": "require",
                "s": "optional",
            }
            for item in cpuid.split(",")[1:]:
                flag, _, value = item.partition("=")
                name = {"sse3": "pni", "page1gb": "pdpe1gb", "lahfsahf": "lahf_lm"}.get(flag, flag)
                if value in policies:
                    _sub(cpu, "feature", policy=policies[value], name=name)

    def clock(self) -> None:
        cfg = self.cfg
        localtime = bool(cfg.integer("localtime", 0))
        clock = _sub(self.root, "clock")
        if self.hvm:
            clock.set("offset", "variable")
            clock.set("adjustment", str(cfg.integer("rtc_timeoffset", 0)))
            clock.set("basis", "localtime" if localtime else "utc")
            hpet = cfg.integer("hpet")
            if hpet is not None:
                _sub(clock, "timer", name="hpet", present="yes" if hpet else "no")
        else:
            clock.set("offset", "localtime" if localtime else "utc")
            clock.set("adjustment", "reset")
        tsc = cfg.string("tsc_mode")
        if tsc:
            mode = {
                "always_emulate": "emulate",
                "native": "native",
                "native_paravirt": "paravirt",
            }.get(tsc)
            if mode:
                _sub(clock, "timer", name="tsc", present="yes", mode=mode)

    # ------------------------------------------------------------------ devices

    def disks(self) -> None:
        for spec in self.cfg.strings("disk"):
            disk = self.xl_disk(spec) if self.flavor == "xl" else self.xm_disk(spec)
            self.devices.append(disk)

    def _disk(
        self,
        dev: str,
        device: str,
        driver: str,
        fmt: str,
        path: str | None,
        readonly: bool,
        shareable: bool = False,
        disk_type: str | None = None,
    ) -> etree._Element:
        if disk_type is None:
            disk_type = "block" if driver == "phy" else "file"
        disk = etree.Element("disk", type=disk_type, device=device)
        _sub(disk, "driver", name=driver, type=fmt)
        if path:
            _sub(disk, "source", **{"dev" if disk_type == "block" else "file": path})
        _sub(disk, "target", dev=dev, bus=bus_of(dev))
        if readonly or device == "cdrom":
            _sub(disk, "readonly")
        if shareable:
            _sub(disk, "shareable")
        return disk

    def xm_disk(self, spec: str) -> etree._Element:
        parts = spec.split(",")
        if len(parts) < 3:
            raise ConfigSyntaxError(f"disk {spec!r}: expected 'source,target,mode'")
        source, target, mode = parts[0], parts[1], parts[2]
        driver, fmt, path = "phy", "raw", None
        if source:
            kind, sep, path = source.partition(":")
            if not sep:
                kind, path = "phy", source
            driver = kind
            if kind in ("tap", "tap2"):
                sub, _, rest = path.partition(":")
                if kind == "tap2" and sub == "tapdisk":
                    sub, _, rest = rest.partition(":")
                fmt = "raw" if sub == "aio" else sub
                path = rest
        device = "disk"
        dev = target.removeprefix("ioemu:")
        dev, sep, kind = dev.partition(":")
        if sep and kind == "cdrom":
            device = "cdrom"
        elif sep and kind == "floppy":
            device = "floppy"
        return self._disk(
            dev, device, driver, fmt, path or None, mode.startswith("r"), mode == "w!"
        )

    def xl_disk(self, spec: str) -> etree._Element:
        positional = ["target", "format", "vdev", "access", "devtype"]
        values: dict[str, str] = {}
        for item in spec.split(","):
            item = item.strip()
            key, sep, value = item.partition("=")
            if sep and key in (
                "target",
                "format",
                "vdev",
                "access",
                "devtype",
                "backendtype",
                "backend",
                "script",
            ):
                values[key] = value
                if key == "target":
                    break
                continue
            if sep and key in ("cdrom",):
                values["devtype"] = "cdrom"
                continue
            if positional:
                field = positional.pop(0)
                if item:
                    values[field] = item
        if "target" in values and values["target"].count(",") == 0:
            rest = spec.split("target=", 1)
            if len(rest) == 2:
                values["target"] = rest[1]
        fmt = values.get("format", "raw")
        if fmt not in DISK_FORMATS:
            raise ConfigSyntaxError(f"disk {spec!r}: unknown format {fmt!r}")
        vdev = values.get("vdev")
        if not vdev:
            raise ConfigSyntaxError(f"disk {spec!r}: no vdev")
        backend = values.get("backendtype")
        path = values.get("target") or None
        device = "cdrom" if values.get("devtype") == "cdrom" else "disk"
        readonly = values.get("access", "rw") in ("ro", "r")
        if path and path.startswith("rbd:"):
            return self._rbd_disk(vdev, device, fmt, path, readonly)
        driver = {"phy": "phy", "tap": "tap", "qdisk": "qemu"}.get(backend or "", "qemu")
        return self._disk(vdev, device, driver, fmt, path, readonly)

    def _rbd_disk(
        self, vdev: str, device: str, fmt: str, path: str, readonly: bool
    ) -> etree._Element:
        disk = etree.Element("disk", type="network", device=device)
        _sub(disk, "driver", name="qemu", type=fmt)
        fields = _split_escaped(path[len("rbd:") :].replace("\\\\", "\\"), ":")
        source = _sub(disk, "source", protocol="rbd", name=fields[0])
        for field in fields[1:]:
            key, _, value = field.partition("=")
            if key == "mon_host":
                for host in value.split("\\;"):
                    name, _, port = host.replace("\\:", ":").rpartition(":")
                    if not name:
                        name, port = port, ""
                    attrs = {"name": name}
                    if port:
                        attrs["port"] = port
                    _sub(source, "host", **attrs)
        _sub(disk, "target", dev=vdev, bus=bus_of(vdev))
        if readonly:
            _sub(disk, "readonly")
        return disk

    def vifs(self) -> None:
        for spec in self.cfg.strings("vif"):
            opts = _options(spec)
            bridge = opts.get("bridge")
            script = opts.get("script")
            kind = "bridge" if bridge else "ethernet"
            iface = _sub(self.devices, "interface", type=kind)
            if "mac" in opts:
                _sub(iface, "mac", address=opts["mac"].lower())
            if bridge:
                name, *tags = (
                    bridge.split(":") if script == "vif-openvswitch" or ":" in bridge else [bridge]
                )
                vlan_spec = ""
                if "." in name and script == "vif-openvswitch":
                    name, _, vlan_spec = name.partition(".")
                _sub(iface, "source", bridge=name)
                if "rate" in opts:
                    self._rate(iface, opts["rate"])
                ids = ([vlan_spec] if vlan_spec else []) + tags
                if ids:
                    vlan = _sub(iface, "vlan")
                    if len(ids) > 1:
                        vlan.set("trunk", "yes")
                    for tag in ids:
                        _sub(vlan, "tag", id=tag)
                if script == "vif-openvswitch":
                    _sub(iface, "virtualport", type="openvswitch")
            elif "rate" in opts:
                self._rate(iface, opts["rate"])
            for address in opts.get("ip", "").split():
                _sub(iface, "ip", address=address, family="ipv6" if ":" in address else "ipv4")
            if script:
                _sub(iface, "script", path=script)
            if "vifname" in opts:
                _sub(iface, "target", dev=opts["vifname"])
            model = opts.get("model")
            if model:
                _sub(iface, "model", type=model)
            elif opts.get("type") == "netfront" or opts.get("type") == "vif" and self.hvm:
                _sub(iface, "model", type="netfront")
            if "backend" in opts:
                _sub(iface, "backenddomain", name=opts["backend"])

    def _rate(self, iface: etree._Element, rate: str) -> None:
        amount, _, _interval = rate.partition("@")
        number = "".join(ch for ch in amount if ch.isdigit())
        unit = amount[len(number) :].split("/")[0].upper()
        scale = {
            "B": 1 / 1024,
            "KB": 1,
            "MB": 1024,
            "GB": 1024 * 1024,
            "b": 1 / 8192,
            "KB/S": 1,
        }.get(unit, 1)
        bandwidth = _sub(iface, "bandwidth")
        _sub(bandwidth, "outbound", average=str(int(int(number) * scale)))

    def pci(self) -> None:
        for spec in self.cfg.strings("pci"):
            address, _, options = spec.partition(",")
            address = address.split("@")[0]
            domain = "0000"
            if address.count(":") == 2:
                domain, _, address = address.partition(":")
            bus, _, slot_func = address.partition(":")
            slot, _, func = slot_func.partition(".")
            hostdev = _sub(self.devices, "hostdev", mode="subsystem", type="pci", managed="no")
            _sub(hostdev, "driver", name="xen")
            source = _sub(hostdev, "source")
            if _options(options).get("permissive") in ("1", "yes", "true"):
                source.set("writeFiltering", "no")
            try:
                _sub(
                    source,
                    "address",
                    domain=f"0x{int(domain, 16):04x}",
                    bus=f"0x{int(bus, 16):02x}",
                    slot=f"0x{int(slot, 16):02x}",
                    function=f"0x{int(func, 16):x}",
                )
            except ValueError:
                raise ConfigSyntaxError(f"pci device {spec!r}: malformed address") from None

    def graphics(self) -> None:
        cfg = self.cfg
        video: str | None = None
        if self.hvm and cfg.integer("vnc", 0):
            g = _sub(self.devices, "graphics", type="vnc")
            self._vnc(
                g,
                {
                    k: str(cfg.values[k])
                    for k in ("vncunused", "vncdisplay", "vnclisten", "vncpasswd", "keymap")
                    if k in cfg.values
                },
            )
            video = "cirrus"
        if self.hvm and cfg.integer("sdl", 0):
            g = _sub(self.devices, "graphics", type="sdl")
            for key, attr in (("display", "display"), ("xauthority", "xauth")):
                if cfg.string(key):
                    g.set(attr, cfg.string(key) or "")
            video = "cirrus"
        if self.flavor == "xl" and self.hvm and cfg.integer("spice", 0):
            self.spice()
            video = "cirrus"
        if not self.hvm:
            for spec in cfg.strings("vfb")[:1]:
                opts = _options(spec)
                if opts.get("type") == "vnc" or opts.get("vnc") == "1":
                    self._vnc(_sub(self.devices, "graphics", type="vnc"), opts)
                else:
                    g = _sub(self.devices, "graphics", type="sdl")
                    if "display" in opts:
                        g.set("display", opts["display"])
                    if "xauthority" in opts:
                        g.set("xauth", opts["xauthority"])
                video = "xen"
        if self.hvm:
            _sub(self.devices, "input", type="mouse", bus="ps2")
            _sub(self.devices, "input", type="keyboard", bus="ps2")
        if not self.hvm:
            _sub(self.devices, "input", type="mouse", bus="xen")
            _sub(self.devices, "input", type="keyboard", bus="xen")
        if video:
            vram = "8192" if video == "cirrus" else "4096"
            _sub(
                _sub(self.devices, "video"),
                "model",
                type=video,
                vram=vram,
                heads="1",
                primary="yes",
            )

    def _vnc(self, g: etree._Element, opts: dict[str, str]) -> None:
        unused = opts.get("vncunused", "1") not in ("0",)
        if unused:
            g.set("port", "-1")
            g.set("autoport", "yes")
        else:
            g.set("port", str(5900 + int(opts.get("vncdisplay", "0"))))
            g.set("autoport", "no")
        if opts.get("vnclisten"):
            g.set("listen", opts["vnclisten"])
        if opts.get("vncpasswd"):
            g.set("passwd", opts["vncpasswd"])
        if opts.get("keymap"):
            g.set("keymap", opts["keymap"])

    def spice(self) -> None:
        cfg = self.cfg
        g = _sub(self.devices, "graphics", type="spice")
        port = cfg.integer("spiceport")
        tls = cfg.integer("spicetls_port")
        if port is not None:
            g.set("port", str(port))
        if tls is not None:
            g.set("tlsPort", str(tls))
        g.set("autoport", "no" if port or tls else "yes")
        if cfg.string("spicehost"):
            g.set("listen", cfg.string("spicehost") or "")
        if not cfg.integer("spicedisable_ticketing", 0) and cfg.string("spicepasswd"):
            g.set("passwd", cfg.string("spicepasswd") or "")
        _sub(g, "mouse", mode="client" if cfg.integer("spiceagent_mouse", 0) else "server")
        _sub(g, "clipboard", copypaste="yes" if cfg.integer("spice_clipboard_sharing", 0) else "no")

    def chardevs(self) -> None:
        cfg = self.cfg
        if not self.hvm:
            console = _sub(self.devices, "console", type="pty")
            _sub(console, "target", type="xen", port="0")
            return
        for tag in ("parallel", "serial"):
            for port, spec in enumerate(cfg.strings(tag)):
                if spec == "none":
                    continue
                self.devices.append(parse_chardev(tag, spec, port))

    def sound(self) -> None:
        spec = self.cfg.string("soundhw")
        if not spec or not self.hvm:
            return
        models = ["sb16", "es1370", "ac97"] if spec == "all" else spec.split(",")
        for model in models:
            _sub(self.devices, "sound", model=model)

    def inputs(self) -> None:
        if not self.hvm or not self.cfg.integer("usb", 0) and "usbdevice" not in self.cfg.values:
            return
        for device in self.cfg.strings("usbdevice"):
            if device in ("mouse", "tablet"):
                _sub(self.devices, "input", type=device, bus="usb")

    def xl_devices(self) -> None:
        cfg = self.cfg
        for spec in cfg.strings("usbctrl"):
            opts = _options(spec)
            version = opts.get("version", "2")
            model = {"1": "qusb1", "2": "qusb2"}.get(version, "qusb2")
            ctrl = _sub(self.devices, "controller", type="usb", model=model)
            if "ports" in opts:
                ctrl.set("ports", opts["ports"])
        for spec in cfg.strings("usbdev"):
            opts = _options(spec)
            hostdev = _sub(self.devices, "hostdev", mode="subsystem", type="usb", managed="no")
            source = _sub(hostdev, "source")
            _sub(source, "address", bus=opts.get("hostbus", "0"), device=opts.get("hostaddr", "0"))
        for spec in cfg.strings("channel"):
            opts = _options(spec)
            if opts.get("connection") == "socket":
                channel = _sub(self.devices, "channel", type="unix")
                _sub(channel, "source", mode="bind", path=opts.get("path", ""))
            else:
                channel = _sub(self.devices, "channel", type="pty")
            _sub(channel, "target", type="xen", name=opts.get("name", ""))
        args = cfg.strings("device_model_args")
        if args:
            ns = XEN_NS
            cmd = etree.SubElement(self.root, f"{{{ns}}}commandline")
            for arg in args:
                etree.SubElement(cmd, f"{{{ns}}}arg", value=arg)
        events = cfg.integer("max_event_channels")
        grants = cfg.integer("max_grant_frames")
        if events is not None or grants is not None:
            xenbus = self.xenbus
            if events is not None:
                xenbus.set("maxEventChannels", str(events))
            if grants is not None:
                xenbus.set("maxGrantFrames", str(grants))
        self.vnuma()

    def vnuma(self) -> None:
        nodes = self.cfg.nested("vnuma")
        if not nodes:
            return
        cpu = self.root.find("cpu")
        if cpu is None:
            cpu = etree.Element("cpu")
            self.root.find("clock").addprevious(cpu)
        numa = _sub(cpu, "numa")
        for index, node in enumerate(nodes):
            opts = dict(item.partition("=")[::2] for item in node)
            cell = _sub(
                numa,
                "cell",
                id=str(index),
                cpus=opts.get("vcpus", ""),
                memory=str(int(opts.get("size", "0")) * 1024),
                unit="KiB",
            )
            if opts.get("vdistances"):
                distances = _sub(cell, "distances")
                for sibling, value in enumerate(opts["vdistances"].split(",")):
                    _sub(distances, "sibling", id=str(sibling), value=value)


def _split_escaped(text: str, sep: str) -> list[str]:
    """``text`` split at ``sep`` where it is not escaped by a backslash."""
    parts, current, i = [], "", 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            current += text[i : i + 2]
            i += 2
            continue
        if text[i] == sep:
            parts.append(current)
            current = ""
        else:
            current += text[i]
        i += 1
    parts.append(current)
    return parts


def native_to_definition(text: str, flavor: Flavor) -> DomainDef:
    """The canonical domain definition of the xl (``flavor='xl'``) or xm config ``text``."""
    root = _Parser(parse(text), flavor).parse()
    definition = parse_domain(etree.tostring(root))
    return canonical(definition, context=Context(inactive=True, video_type=None))


def native_to_xml(text: str, flavor: Flavor) -> str:
    """Domain XML of a config, as libvirt's ``domxml-from-native`` writes it (xl: inactive form,
    xm: live form; secrets kept)."""
    return format_domain(native_to_definition(text, flavor), inactive=flavor == "xl", secure=True)
