"""Domain XML to xl.cfg / xm config (``domxml-to-native`` for ``xen-xl`` and ``xen-xm``), with
the rules and setting order of libvirt's Xen config writer."""

from __future__ import annotations

from lxml import etree
from virtkit.errors import ConfigUnsupportedError
from virtkit.xml import Context, DomainDef, canonical, parse_domain

from virtkit_xen.cfgfile import Value, format_settings
from virtkit_xen.chardev import format_chardev
from virtkit_xen.fromnative import BOOT_DEVICES, XEN_NS, Flavor

_BOOT_LETTERS = {dev: letter for letter, dev in BOOT_DEVICES.items()}
_XL_BACKENDS = {"phy": "phy", "qemu": "qdisk", "tap": "tap"}


def _kib_to_mib(text: str | None) -> int:
    return int(text or 0) // 1024


def _listen_address(graphics: etree._Element) -> str | None:
    listen = graphics.find("listen[@type='address']")
    return graphics.get("listen") or (listen.get("address") if listen is not None else None)


class _Writer:
    def __init__(self, root: etree._Element, flavor: Flavor) -> None:
        self.root = root
        self.flavor = flavor
        self.out: list[tuple[str, Value]] = []
        os_type = root.findtext("os/type") or "linux"
        self.hvm = os_type == "hvm"
        self.pvh = os_type in ("xenpvh", "pvh")

    def put(self, key: str, value: Value) -> None:
        self.out.append((key, value))

    def write(self) -> str:
        root = self.root
        self.put("name", root.findtext("name") or "")
        self.put("uuid", root.findtext("uuid") or "")
        self.put("maxmem", _kib_to_mib(root.findtext("memory")))
        self.put("memory", _kib_to_mib(root.findtext("currentMemory") or root.findtext("memory")))
        self.vcpus()
        self.features()
        self.clock()
        for event in ("on_poweroff", "on_reboot", "on_crash"):
            value = root.findtext(event)
            if value:
                self.put(event, value)
        if self.hvm:
            emulator = root.findtext("devices/emulator")
            if emulator:
                self.put("device_model_override", emulator)
        self.graphics()
        self.vifs()
        self.pci()
        if self.hvm:
            self.chardevs()
            self.sound()
        if self.flavor == "xl":
            self.xl_os()
            self.xl_cpu()
            self.xl_limits()
            self.disks()
            self.spice()
            self.inputs()
            self.xl_usb()
            self.xl_channels()
            self.xl_passthrough()
        else:
            self.xm_os()
            self.disks()
            self.inputs()
        return format_settings(self.out)

    # ------------------------------------------------------------------ general

    def vcpus(self) -> None:
        vcpu = self.root.find("vcpu")
        maximum = int(vcpu.text or 1) if vcpu is not None else 1
        current = int(vcpu.get("current", maximum)) if vcpu is not None else maximum
        if maximum != current:
            self.put("maxvcpus", maximum)
        self.put("vcpus", current)
        if vcpu is not None and vcpu.get("cpuset"):
            self.put("cpus", vcpu.get("cpuset", ""))

    def features(self) -> None:
        features = self.root.find("features")
        present = {el.tag: el for el in features} if features is not None else {}
        if self.hvm:
            for key in ("pae", "acpi", "apic"):
                self.put(key, int(key in present))
            hap = present.get("hap")
            if hap is not None:
                self.put("hap", int(hap.get("state", "on") == "on"))
            self.put("viridian", int("viridian" in present))
            for timer in self.root.iterfind("clock/timer[@name='hpet']"):
                self.put("hpet", int(timer.get("present", "yes") == "yes"))
        for timer in self.root.iterfind("clock/timer[@name='tsc']"):
            mode = {
                "emulate": "always_emulate",
                "native": "native",
                "paravirt": "native_paravirt",
            }.get(timer.get("mode", ""))
            if mode:
                self.put("tsc_mode", mode)
        xen = present.get("xen")
        if xen is not None:
            if xen.find("e820_host[@state='on']") is not None:
                self.put("e820_host", 1)
            if xen.find("passthrough[@state='on']") is not None:
                self.put("passthrough", "enabled")

    def clock(self) -> None:
        clock = self.root.find("clock")
        offset = clock.get("offset", "utc") if clock is not None else "utc"
        localtime = offset == "localtime"
        if self.hvm:
            adjustment = 0
            if clock is not None and offset == "variable":
                adjustment = int(clock.get("adjustment", "0"))
                localtime = clock.get("basis") == "localtime"
            self.put("rtc_timeoffset", adjustment)
        self.put("localtime", int(localtime))

    # ------------------------------------------------------------------ devices

    def graphics(self) -> None:
        graphics = self.root.findall("devices/graphics")
        first = graphics[0] if graphics else None
        if self.hvm:
            if first is not None and first.get("type") == "spice":
                return
            self.put("sdl", int(first is not None and first.get("type") == "sdl"))
            self.put("vnc", int(first is not None and first.get("type") == "vnc"))
            if first is not None and first.get("type") == "vnc":
                for key, value in self._vnc_options(first):
                    self.put(key, int(value) if key in ("vncunused", "vncdisplay") else value)
            return
        if first is None:
            return
        if first.get("type") == "vnc":
            spec = "type=vnc," + ",".join(f"{k}={v}" for k, v in self._vnc_options(first))
        elif first.get("type") == "sdl":
            spec = "type=sdl"
            if first.get("display"):
                spec += f",display={first.get('display')}"
            if first.get("xauth"):
                spec += f",xauthority={first.get('xauth')}"
        else:
            return
        self.put("vfb", [spec])

    @staticmethod
    def _vnc_options(g: etree._Element) -> list[tuple[str, str]]:
        options = []
        if g.get("autoport") == "yes":
            options.append(("vncunused", "1"))
        else:
            options.append(("vncunused", "0"))
            port = int(g.get("port", "-1"))
            if port >= 5900:
                options.append(("vncdisplay", str(port - 5900)))
        listen = _listen_address(g)
        if listen:
            options.append(("vnclisten", listen))
        if g.get("passwd"):
            options.append(("vncpasswd", g.get("passwd", "")))
        if g.get("keymap"):
            options.append(("keymap", g.get("keymap", "")))
        return options

    def vifs(self) -> None:
        specs: list[str | int] = []
        for iface in self.root.iterfind("devices/interface"):
            parts = []
            mac = iface.find("mac")
            if mac is not None:
                parts.append(f"mac={mac.get('address')}")
            kind = iface.get("type")
            if kind == "bridge":
                bridge = iface.find("source").get("bridge", "")
                tags = [t.get("id", "") for t in iface.iterfind("vlan/tag")]
                if tags and iface.find("vlan").get("trunk") == "yes":
                    bridge += "".join(f":{t}" for t in tags)
                elif tags:
                    bridge += f".{tags[0]}"
                parts.append(f"bridge={bridge}")
            elif kind not in ("ethernet", "network"):
                raise ConfigUnsupportedError(
                    f"unsupported interface type {kind!r} for a Xen config"
                )
            elif kind == "network":
                parts.append(f"bridge={iface.find('source').get('network', '')}")
            ips = [ip.get("address", "") for ip in iface.iterfind("ip")]
            if ips:
                parts.append("ip=" + " ".join(ips))
            script = iface.find("script")
            if script is not None:
                parts.append(f"script={script.get('path')}")
            model = iface.find("model")
            if model is not None:
                if model.get("type") == "netfront":
                    parts.append("type=vif" if self.flavor == "xl" else "type=netfront")
                else:
                    parts.append(f"model={model.get('type')}")
            target = iface.find("target")
            if target is not None and target.get("dev"):
                parts.append(f"vifname={target.get('dev')}")
            backend = iface.find("backenddomain")
            if backend is not None:
                parts.append(f"backend={backend.get('name')}")
            outbound = iface.find("bandwidth/outbound")
            if outbound is not None and outbound.get("average"):
                parts.append(f"rate={outbound.get('average')}KB/s")
            specs.append(",".join(parts))
        if specs:
            self.put("vif", specs)

    def pci(self) -> None:
        specs: list[str | int] = []
        for hostdev in self.root.iterfind("devices/hostdev[@type='pci']"):
            address = hostdev.find("source/address")
            if address is None:
                continue
            spec = "{:04x}:{:02x}:{:02x}.{:x}".format(
                *(int(address.get(k, "0"), 0) for k in ("domain", "bus", "slot", "function"))
            )
            if hostdev.find("source").get("writeFiltering") == "no":
                spec += ",permissive=1"
            specs.append(spec)
        if specs:
            self.put("pci", specs)

    def chardevs(self) -> None:
        parallels = self.root.findall("devices/parallel")
        self.put("parallel", format_chardev(parallels[0]) if parallels else "none")
        serials = self.root.findall("devices/serial")
        if len(serials) > 1 and self.flavor == "xl":
            self.put("serial", [format_chardev(s) for s in serials])
        else:
            self.put("serial", format_chardev(serials[0]) if serials else "none")

    def sound(self) -> None:
        models = [s.get("model", "") for s in self.root.iterfind("devices/sound")]
        if models:
            self.put("soundhw", ",".join(models))

    def inputs(self) -> None:
        if not self.hvm:
            return
        devices = [i.get("type", "") for i in self.root.iterfind("devices/input[@bus='usb']")]
        if devices:
            self.put("usb", 1)
            self.put(
                "usbdevice",
                list[str | int](devices) if self.flavor == "xl" or len(devices) > 1 else devices[0],
            )

    def disks(self) -> None:
        specs: list[str | int] = []
        for disk in self.root.iterfind("devices/disk"):
            specs.append(self.xl_disk(disk) if self.flavor == "xl" else self.xm_disk(disk))
        if specs:
            self.put("disk", specs)

    def _source(self, disk: etree._Element) -> str | None:
        source = disk.find("source")
        if source is None:
            return None
        path: str | None = source.get("file") or source.get("dev") or source.get("volume")
        return path

    def xm_disk(self, disk: etree._Element) -> str:
        driver = disk.find("driver")
        name = driver.get("name") if driver is not None else None
        fmt = driver.get("type", "raw") if driver is not None else "raw"
        path = self._source(disk)
        source = ""
        if path:
            if name in ("tap", "tap2"):
                source = f"{name}:{'aio' if fmt == 'raw' else fmt}:{path}"
            else:
                kind = name or ("phy" if disk.get("type") == "block" else "file")
                source = f"{kind}:{path}"
        target = disk.find("target").get("dev", "")
        if self.hvm and disk.get("device") == "cdrom":
            target += ":cdrom"
        elif disk.get("device") == "floppy":
            target += ":floppy"
        mode = (
            "r"
            if disk.find("readonly") is not None
            else "w!"
            if disk.find("shareable") is not None
            else "w"
        )
        return f"{source},{target},{mode}"

    def xl_disk(self, disk: etree._Element) -> str:
        driver = disk.find("driver")
        fmt = driver.get("type", "raw") if driver is not None else "raw"
        name = driver.get("name") if driver is not None else None
        target = disk.find("target").get("dev", "")
        access = "ro" if disk.find("readonly") is not None else "rw"
        parts = [f"format={fmt}", f"vdev={target}", f"access={access}"]
        if name in _XL_BACKENDS:
            parts.append(f"backendtype={_XL_BACKENDS[name]}")
        if disk.get("device") == "cdrom":
            parts.append("devtype=cdrom")
        if disk.get("type") == "network":
            parts.append(f"target={self._rbd(disk)}")
        else:
            path = self._source(disk)
            if path:
                parts.append(f"target={path}")
        return ",".join(parts)

    @staticmethod
    def _rbd(disk: etree._Element) -> str:
        source = disk.find("source")
        assert source is not None
        if source.get("protocol") != "rbd":
            raise ConfigUnsupportedError(
                f"network disk protocol {source.get('protocol')!r} has no xl form"
            )
        spec = f"rbd:{source.get('name')}"
        hosts = source.findall("host")
        if disk.find("auth") is None:
            spec += ":auth_supported=none"
        if hosts:
            spec += ":mon_host=" + "\\\\;".join(
                h.get("name", "") + (f"\\\\:{h.get('port')}" if h.get("port") else "")
                for h in hosts
            )
        return spec

    # ------------------------------------------------------------------ xm / xl tails

    def xm_os(self) -> None:
        os = self.root.find("os")
        assert os is not None
        if self.hvm:
            self.put("builder", "hvm")
            self.put("kernel", os.findtext("loader") or "/usr/lib/xen/boot/hvmloader")
            self.put("boot", self._boot(os))
            return
        self._pv_boot(os, extra_key="extra")

    def _boot(self, os: etree._Element) -> str:
        letters = "".join(_BOOT_LETTERS.get(b.get("dev", ""), "") for b in os.iterfind("boot"))
        return letters or "c"

    def _pv_boot(self, os: etree._Element, extra_key: str) -> None:
        bootloader = self.root.findtext("bootloader")
        if bootloader:
            self.put("bootloader", bootloader)
            args = self.root.findtext("bootloader_args")
            if args:
                self.put("bootargs", args)
        self._direct_boot(os, extra_key)

    def _direct_boot(self, os: etree._Element, extra_key: str) -> None:
        """The kernel, initrd and command line of ``<os>``; the command line as ``extra_key``."""
        for tag, key in (("kernel", "kernel"), ("initrd", "ramdisk")):
            value = os.findtext(tag)
            if value:
                self.put(key, value)
        cmdline = os.findtext("cmdline")
        if cmdline:
            self.put(extra_key, cmdline)

    def xl_os(self) -> None:
        os = self.root.find("os")
        assert os is not None
        if self.hvm:
            self.put("builder", "hvm")
            loader = os.find("loader")
            if loader is not None and loader.get("type") == "pflash":
                self.put("bios", "ovmf")
            slic = os.findtext("acpi/table[@type='slic']")
            if slic:
                self.put("acpi_firmware", slic)
            self._direct_boot(os, extra_key="cmdline")
            self.put("boot", self._boot(os))
            return
        if self.pvh:
            self.put("type", "pvh")
        self._pv_boot(os, extra_key="cmdline")

    def xl_cpu(self) -> None:
        cpu = self.root.find("cpu")
        if cpu is None or not self.hvm:
            self.xl_vnuma(cpu)
            return
        if cpu.get("mode") == "host-passthrough":
            nested = 1
            for feature in cpu.iterfind("feature"):
                if feature.get("name") in ("vmx", "svm") and feature.get("policy") == "disable":
                    nested = 0
            self.put("nestedhvm", nested)
        flags = []
        letters = {"force": "1", "require": "1", "optional": "x", "disable": "0", "forbid": "0"}
        names = {"pni": "sse3", "pdpe1gb": "page1gb", "lahf_lm": "lahfsahf"}
        for feature in cpu.iterfind("feature"):
            name = feature.get("name", "")
            if name in ("vmx", "svm"):
                continue
            flags.append(f"{names.get(name, name)}={letters.get(feature.get('policy', ''), '1')}")
        if flags:
            self.put("cpuid", ",".join(["host", *flags]))
        self.xl_vnuma(cpu)

    def xl_vnuma(self, cpu: etree._Element | None) -> None:
        cells = cpu.findall("numa/cell") if cpu is not None else []
        if not cells:
            return
        given = {
            (cell.get("id"), s.get("id")): s.get("value", "")
            for cell in cells
            for s in cell.iterfind("distances/sibling")
        }

        def distance(a: str, b: str) -> str:
            """libvirt completes a missing distance from its mirror, else 10 local, 20 remote."""
            return given.get((a, b)) or given.get((b, a)) or ("10" if a == b else "20")

        nodes = []
        for cell in cells:
            size = int(cell.get("memory", "0")) // 1024
            spec = [f"pnode={cell.get('id')}", f"size={size}", f"vcpus={cell.get('cpus')}"]
            values = [distance(cell.get("id", ""), str(i)) for i in range(len(cells))]
            spec.append("vdistances=" + ",".join(values))
            nodes.append(spec)
        self.out.append(("vnuma", nodes))

    def xl_limits(self) -> None:
        xenbus = self.root.find("devices/controller[@type='xenbus']")
        if xenbus is None:
            return
        if xenbus.get("maxEventChannels"):
            self.put("max_event_channels", int(xenbus.get("maxEventChannels", "0")))
        if xenbus.get("maxGrantFrames"):
            self.put("max_grant_frames", int(xenbus.get("maxGrantFrames", "0")))

    def spice(self) -> None:
        g = self.root.find("devices/graphics[@type='spice']")
        if g is None or not self.hvm:
            return
        self.put("sdl", 0)
        self.put("vnc", 0)
        self.put("spice", 1)
        listen = _listen_address(g)
        if listen:
            self.put("spicehost", listen)
        if g.get("port"):
            self.put("spiceport", int(g.get("port", "0")))
        if g.get("tlsPort"):
            self.put("spicetls_port", int(g.get("tlsPort", "0")))
        if g.get("passwd"):
            self.put("spicedisable_ticketing", 0)
            self.put("spicepasswd", g.get("passwd", ""))
        else:
            self.put("spicedisable_ticketing", 1)
        mouse = g.find("mouse")
        if mouse is not None:
            self.put("spiceagent_mouse", int(mouse.get("mode") == "client"))
        clipboard = g.find("clipboard")
        if clipboard is not None and clipboard.get("copypaste") == "yes":
            self.put("spicevdagent", 1)
            self.put("spice_clipboard_sharing", 1)

    def xl_usb(self) -> None:
        ctrls = []
        for ctrl in self.root.iterfind("devices/controller[@type='usb']"):
            model = ctrl.get("model", "")
            version = {"qusb1": "1", "qusb2": "2"}.get(model)
            if version is None:
                continue
            spec = f"type=qusb,version={version}"
            if ctrl.get("ports"):
                spec += f",ports={ctrl.get('ports')}"
            ctrls.append(spec)
        if ctrls:
            self.put("usbctrl", list[str | int](ctrls))
        devs: list[str | int] = []
        for hostdev in self.root.iterfind("devices/hostdev[@type='usb']"):
            address = hostdev.find("source/address")
            if address is not None:
                devs.append(
                    f"hostbus={int(address.get('bus', '0'), 0)},"
                    f"hostaddr={int(address.get('device', '0'), 0)}"
                )
        if devs:
            self.put("usbdev", devs)

    def xl_channels(self) -> None:
        specs: list[str | int] = []
        for channel in self.root.iterfind("devices/channel"):
            target = channel.find("target")
            if target is None or target.get("type") != "xen":
                continue
            spec = ""
            if channel.get("type") == "unix":
                spec = f"connection=socket,path={channel.find('source').get('path')}"
            elif channel.get("type") == "pty":
                spec = "connection=pty"
            if target.get("name"):
                spec += f",name={target.get('name')}"
            specs.append(spec)
        if specs:
            self.put("channel", specs)

    def xl_passthrough(self) -> None:
        args: list[str | int] = [
            a.get("value", "")
            for a in self.root.iterfind(f"{{{XEN_NS}}}commandline/{{{XEN_NS}}}arg")
        ]
        if args:
            self.put("device_model_args", args)


def definition_to_config(definition: DomainDef, flavor: Flavor) -> str:
    """The xl (``flavor='xl'``) or xm config of a domain definition."""
    root = canonical(definition, context=Context(inactive=True)).tree()
    if root.get("type") != "xen":
        raise ConfigUnsupportedError(f"domain type {root.get('type')!r} has no Xen config form")
    return _Writer(root, flavor).write()


def definition_to_native(xml: str, flavor: Flavor) -> str:
    """``domxml-to-native``: the Xen config of the domain XML document ``xml``."""
    return definition_to_config(parse_domain(xml.encode()), flavor)
