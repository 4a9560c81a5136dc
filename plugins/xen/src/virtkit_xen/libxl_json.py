"""Domain XML to libxl's ``libxl_domain_config``, as the JSON libxl serialises it (what
libvirt's libxl driver hands to libxenlight), and the semantic comparison of two such configs.

``xl create`` accepts this JSON (``xl create -j``), so it is also how the driver starts
domains from a definition.
"""

from __future__ import annotations

from typing import Any

from lxml import etree
from virtkit.errors import ConfigUnsupportedError
from virtkit.xml import Context, DomainDef, canonical
from virtkit.xml.bitmap import parse_bitmap

from virtkit_xen.chardev import format_chardev

#: libxl's bit positions of the CPUID leaf 1 features libvirt can name: (register, bit)
LEAF1_FEATURES = {
    "pni": ("ecx", 0),
    "pclmulqdq": ("ecx", 1),
    "monitor": ("ecx", 3),
    "vmx": ("ecx", 5),
    "smx": ("ecx", 6),
    "est": ("ecx", 7),
    "tm2": ("ecx", 8),
    "ssse3": ("ecx", 9),
    "fma": ("ecx", 12),
    "cx16": ("ecx", 13),
    "pdcm": ("ecx", 15),
    "sse4.1": ("ecx", 19),
    "sse4.2": ("ecx", 20),
    "x2apic": ("ecx", 21),
    "movbe": ("ecx", 22),
    "popcnt": ("ecx", 23),
    "aes": ("ecx", 25),
    "xsave": ("ecx", 26),
    "avx": ("ecx", 28),
    "f16c": ("ecx", 29),
    "rdrand": ("ecx", 30),
    "hypervisor": ("ecx", 31),
    "fpu": ("edx", 0),
    "vme": ("edx", 1),
    "de": ("edx", 2),
    "pse": ("edx", 3),
    "tsc": ("edx", 4),
    "msr": ("edx", 5),
    "pae": ("edx", 6),
    "mce": ("edx", 7),
    "cx8": ("edx", 8),
    "apic": ("edx", 9),
    "sep": ("edx", 11),
    "mtrr": ("edx", 12),
    "pge": ("edx", 13),
    "mca": ("edx", 14),
    "cmov": ("edx", 15),
    "pat": ("edx", 16),
    "pse36": ("edx", 17),
    "clflush": ("edx", 19),
    "ds": ("edx", 21),
    "acpi": ("edx", 22),
    "mmx": ("edx", 23),
    "fxsr": ("edx", 24),
    "sse": ("edx", 25),
    "sse2": ("edx", 26),
    "ss": ("edx", 27),
    "ht": ("edx", 28),
    "tm": ("edx", 29),
    "pbe": ("edx", 31),
}
_POLICY_BITS = {"force": "1", "require": "1", "optional": "x", "disable": "0", "forbid": "0"}

#: values libxl fills in when a config leaves them out (absent and default compare equal)
DEFAULTS = {"on_poweroff": "destroy", "on_crash": "destroy", "on_reboot": "restart"}


def _bool(value: bool) -> str:
    return "True" if value else "False"


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


def shadow_memory_kib(max_memkb: int, vcpus: int) -> int:
    """libxl's default shadow memory of a domain: 4 KiB per (256 per vCPU + 2 per MiB)."""
    return 4 * (256 * vcpus + 2 * (max_memkb // 1024))


class _Builder:
    def __init__(
        self, root: etree._Element, *, legacy_nested: bool, shadow_memkb: int | None
    ) -> None:
        self.root = root
        self.legacy_nested = legacy_nested
        self.shadow_memkb = shadow_memkb
        os_type = root.findtext("os/type") or "linux"
        self.kind = {"hvm": "hvm", "xenpvh": "pvh", "pvh": "pvh"}.get(os_type, "pv")

    def build(self) -> dict[str, Any]:
        root = self.root
        features = root.find("features")
        present = {el.tag: el for el in features} if features is not None else {}
        c_info: dict[str, Any] = {
            "type": self.kind,
            "name": root.findtext("name"),
            "uuid": root.findtext("uuid"),
        }
        if "hap" in present:
            c_info["hap"] = _bool(present["hap"].get("state", "on") == "on")
        config: dict[str, Any] = {"c_info": c_info, "b_info": self.build_info(present)}
        config["disks"] = [self.disk(d) for d in root.iterfind("devices/disk")] or None
        config["nics"] = self.nics() or None
        config["pcidevs"] = self.pcidevs() or None
        graphics = [g for g in root.iterfind("devices/graphics") if g.get("type") in ("vnc", "sdl")]
        if graphics:
            config["vfbs"] = [{"devid": -1, **self.vnc_sdl(graphics)}]
            config["vkbs"] = [{"devid": -1}]
        for event in ("on_poweroff", "on_reboot", "on_crash"):
            action = root.findtext(event)
            if action:
                config[event] = action.replace("-", "_")
        return _drop_none(config)  # type: ignore[no-any-return]

    def build_info(self, present: dict[str, etree._Element]) -> dict[str, Any]:
        root = self.root
        vcpu = root.find("vcpu")
        maximum = int(vcpu.text or 1) if vcpu is not None else 1
        current = int(vcpu.get("current", maximum)) if vcpu is not None else maximum
        max_memkb = int(root.findtext("memory") or 0)
        info: dict[str, Any] = {
            "max_vcpus": maximum,
            "avail_vcpus": list(range(current)),
            "max_memkb": max_memkb,
            "target_memkb": int(root.findtext("currentMemory") or max_memkb),
            "shadow_memkb": self.shadow_memkb
            if self.shadow_memkb is not None
            else shadow_memory_kib(max_memkb, maximum),
            "sched_params": {},
            "arch_arm": {},
        }
        shares = root.findtext("cputune/shares")
        if shares:
            info["sched_params"]["weight"] = int(shares)
        for timer in root.iterfind("clock/timer[@name='tsc']"):
            mode = {
                "native": "native",
                "emulate": "always_emulate",
                "paravirt": "native_paravirt",
            }.get(timer.get("mode", ""))
            if mode:
                info["tsc_mode"] = mode
        xenbus = root.find("devices/controller[@type='xenbus']")
        if xenbus is not None and xenbus.get("maxEventChannels"):
            info["event_channels"] = int(xenbus.get("maxEventChannels", "0"))
        if xenbus is not None and xenbus.get("maxGrantFrames"):
            info["max_grant_frames"] = int(xenbus.get("maxGrantFrames", "0"))
        clock = root.find("clock")
        if clock is not None and self.kind == "hvm":
            offset = clock.get("offset", "utc")
            if offset == "localtime" or clock.get("basis") == "localtime":
                info["localtime"] = "True"
            adjustment = (
                int(clock.get("adjustment", "0") or 0)
                if clock.get("adjustment") not in (None, "reset")
                else 0
            )
            if adjustment:
                info["rtc_timeoffset"] = adjustment
        os = root.find("os")
        assert os is not None
        for tag, key in (("kernel", "kernel"), ("initrd", "ramdisk"), ("cmdline", "cmdline")):
            if os.findtext(tag):  # direct kernel boot, HVM guests included
                info[key] = os.findtext(tag)
        if self.kind == "hvm":
            self.hvm_info(info, present)
        elif self.kind == "pv":
            pv: dict[str, Any] = {}
            if root.findtext("bootloader"):
                pv["bootloader"] = root.findtext("bootloader")
            elif not os.findtext("kernel"):
                pv["bootloader"] = "pygrub"  # libxl's driver boots what the disk holds
            if root.findtext("bootloader_args"):
                pv["bootloader_args"] = root.findtext("bootloader_args", "").split()
            info["type.pv"] = pv
        else:
            info["type.pvh"] = {}
        self.cpu(info)
        return info

    def hvm_info(self, info: dict[str, Any], present: dict[str, etree._Element]) -> None:
        root = self.root
        emulator = root.findtext("devices/emulator")
        if emulator:
            info["device_model_version"] = "qemu_xen"
            info["device_model"] = emulator
        info["apic"] = _bool("apic" in present)
        info["acpi"] = _bool("acpi" in present)
        hvm: dict[str, Any] = {"pae": _bool("pae" in present)}
        for timer in root.iterfind("clock/timer[@name='hpet']"):
            hvm["hpet"] = _bool(timer.get("present", "yes") == "yes")
        if "viridian" in present:
            hvm["viridian"] = "True"
        loader = root.find("os/loader")
        if loader is not None and loader.get("type") == "pflash":
            hvm["bios"] = "ovmf"
        slic = root.findtext("os/acpi/table[@type='slic']")
        if slic:
            hvm["acpi_firmware"] = slic
        video = root.find("devices/video/model")
        graphics = [g for g in root.iterfind("devices/graphics") if g.get("type") in ("vnc", "sdl")]
        if video is not None:
            hvm["vga"] = {
                "kind": {"vga": "std", "xen": "none"}.get(video.get("type", ""), video.get("type"))
            }
            if video.get("vram"):
                info["video_memkb"] = int(video.get("vram", "0"))
        elif graphics:
            hvm["vga"] = {"kind": "cirrus"}
            info["video_memkb"] = 8192
        else:
            hvm["vga"] = {"kind": "none"}
        if graphics:
            hvm.update(self.vnc_sdl(graphics))
        else:
            hvm["nographic"] = "True"
            hvm["vnc"] = {"enable": "False"}
            hvm["sdl"] = {"enable": "False"}
        hvm["spice"] = {}
        serials = root.findall("devices/serial")
        if len(serials) == 1:
            hvm["serial"] = format_chardev(serials[0])
        elif serials:
            hvm["serial_list"] = [format_chardev(s) for s in serials]
        boots = "".join(
            {"hd": "c", "cdrom": "d", "fd": "a", "network": "n"}.get(b.get("dev", ""), "")
            for b in root.iterfind("os/boot")
        )
        hvm["boot"] = boots or "c"
        usb = [i.get("type") for i in root.iterfind("devices/input[@bus='usb']")]
        if usb:
            hvm["usbdevice_list"] = usb
        hvm["rdm"] = {}
        info["type.hvm"] = hvm

    def cpu(self, info: dict[str, Any]) -> None:
        cpu = self.root.find("cpu")
        if cpu is None:
            return
        if self.kind == "hvm" and cpu.get("mode") == "host-passthrough":
            nested = not any(
                f.get("name") in ("vmx", "svm") and f.get("policy") in ("disable", "forbid")
                for f in cpu.iterfind("feature")
            )
            if self.legacy_nested:
                info["type.hvm"]["nested_hvm"] = _bool(nested)
            else:
                info["nested_hvm"] = _bool(nested)
        registers: dict[str, list[str]] = {}
        for feature in cpu.iterfind("feature"):
            name = feature.get("name", "")
            if name in ("vmx", "svm") or name not in LEAF1_FEATURES:
                continue
            register, bit = LEAF1_FEATURES[name]
            bits = registers.setdefault(register, ["x"] * 32)
            bits[31 - bit] = _POLICY_BITS.get(feature.get("policy", ""), "1")
        if registers:
            info["cpuid"] = [{"leaf": 1, **{r: "".join(b) for r, b in sorted(registers.items())}}]
        cells = cpu.findall("numa/cell")
        if cells:
            info["vnuma_nodes"] = [self.vnuma_node(cell, len(cells)) for cell in cells]

    def vnuma_node(self, cell: etree._Element, count: int) -> dict[str, Any]:
        dist = {s.get("id"): int(s.get("value", "0")) for s in cell.iterfind("distances/sibling")}
        node: dict[str, Any] = {
            "memkb": int(cell.get("memory", "0")),
            "distances": [
                dist.get(str(i), 10 if str(i) == cell.get("id") else 20) for i in range(count)
            ],
            "vcpus": sorted(parse_bitmap(cell.get("cpus", ""))),
        }
        if int(cell.get("id", "0")) and not self.legacy_nested:
            node["pnode"] = int(cell.get("id", "0"))
        return node

    def vnc_sdl(self, graphics: list[etree._Element]) -> dict[str, Any]:
        vnc = next((g for g in graphics if g.get("type") == "vnc"), None)
        sdl = next((g for g in graphics if g.get("type") == "sdl"), None)
        out: dict[str, Any] = {
            "vnc": {"enable": _bool(vnc is not None)},
            "sdl": {"enable": _bool(sdl is not None)},
        }
        if vnc is not None:
            listen = vnc.get("listen") or next(
                (
                    el.get("address")
                    for el in vnc.iterfind("listen[@type='address']")
                    if el.get("address")
                ),
                None,
            )
            if listen:
                out["vnc"]["listen"] = listen
            if vnc.get("passwd"):
                out["vnc"]["passwd"] = vnc.get("passwd")
            port = int(vnc.get("port", "-1") or -1)
            if port >= 5900:
                out["vnc"]["display"] = port - 5900
            out["vnc"]["findunused"] = "False"
            if vnc.get("keymap"):
                out["keymap"] = vnc.get("keymap")
        return out

    def disk(self, disk: etree._Element) -> dict[str, Any]:
        driver = disk.find("driver")
        name = driver.get("name") if driver is not None else None
        source = disk.find("source")
        path = None if source is None else source.get("file") or source.get("dev")
        target = disk.find("target")
        vdev = target.get("dev", "") if target is not None else ""
        backend = {"phy": "phy", "qemu": "qdisk", "tap": "tap", "tap2": "tap"}.get(name or "")
        if backend is None:
            backend = "phy" if disk.get("type") == "block" else "qdisk"
        out: dict[str, Any] = {
            "pdev_path": path,
            "vdev": vdev,
            "backend": backend,
            "format": (driver.get("type") if driver is not None else None) or "raw",
            "removable": 1,
        }
        if disk.find("readonly") is None and disk.get("device") != "cdrom":
            out["readwrite"] = 1
        if disk.get("device") == "cdrom":
            out["is_cdrom"] = 1
        return out

    def nics(self) -> list[dict[str, Any]]:
        nics = []
        for devid, iface in enumerate(
            i for i in self.root.iterfind("devices/interface") if i.get("type") != "hostdev"
        ):
            nic: dict[str, Any] = {"devid": devid}
            model = iface.find("model")
            if model is not None:
                nic["model"] = model.get("type")
            mac = iface.find("mac")
            if mac is not None:
                nic["mac"] = mac.get("address")
            ips = [ip.get("address") for ip in iface.iterfind("ip")]
            if ips:
                nic["ip"] = " ".join(str(ip) for ip in ips)
            source = iface.find("source")
            kind = iface.get("type")
            if kind == "bridge" and source is not None:
                nic["bridge"] = source.get("bridge")
            elif kind not in ("ethernet", "bridge", "network"):
                raise ConfigUnsupportedError(f"interface type {kind!r} is not supported by libxl")
            script = iface.find("script")
            if script is not None:
                nic["script"] = script.get("path")
            target = iface.find("target")
            if target is not None and target.get("dev"):
                nic["ifname"] = target.get("dev")
            emulated = self.kind == "hvm" and (model is None or model.get("type") != "netfront")
            nic["nictype"] = "vif_ioemu" if emulated else "vif"
            rate = iface.find("bandwidth/outbound")
            if rate is not None and rate.get("average"):
                nic["rate_bytes_per_interval"] = int(rate.get("average", "0")) * 1024 // 20
                nic["rate_interval_usecs"] = 50000
            nics.append(nic)
        return nics

    def pcidevs(self) -> list[dict[str, Any]]:
        devs = []
        for el in self.root.iterfind("devices/*"):
            if el.tag == "hostdev" and el.get("type") == "pci":
                address = el.find("source/address")
                permissive = el.find("source[@writeFiltering='no']") is not None
            elif el.tag == "interface" and el.get("type") == "hostdev":
                address = el.find("source/address")
                permissive = False
            else:
                continue
            if address is None:
                continue
            dev: dict[str, Any] = {}
            for key, attr in (
                ("domain", "domain"),
                ("bus", "bus"),
                ("dev", "slot"),
                ("func", "function"),
            ):
                value = int(address.get(attr, "0"), 0)
                if value:
                    dev[key] = value
            if permissive:
                dev["permissive"] = True
            dev["rdm_policy"] = "invalid"
            devs.append(
                dict(
                    sorted(
                        dev.items(),
                        key=lambda kv: [
                            "dev",
                            "bus",
                            "domain",
                            "func",
                            "permissive",
                            "rdm_policy",
                        ].index(kv[0]),
                    )
                )
            )
        return devs


def domain_config(
    definition: DomainDef, *, legacy_nested: bool = False, shadow_memkb: int | None = None
) -> dict[str, Any]:
    """The ``libxl_domain_config`` of a Xen domain definition, as a JSON-ready dict.

    ``legacy_nested``: put ``nested_hvm`` where libxl before 4.10 kept it (``type.hvm``).
    ``shadow_memkb``: the shadow memory to request (default: libxl's own estimate).
    """
    root = canonical(definition, context=Context(inactive=True)).tree()
    if root.get("type") != "xen":
        raise ConfigUnsupportedError(f"domain type {root.get('type')!r} is not a Xen domain")
    return _Builder(root, legacy_nested=legacy_nested, shadow_memkb=shadow_memkb).build()


def normalise(config: Any) -> Any:
    """``config`` with what libxl treats as unset removed: empty objects and lists, and the
    lifecycle actions equal to libxl's defaults. Two configs libxl reads the same way
    normalise to the same value."""
    if isinstance(config, dict):
        out = {}
        for key, value in config.items():
            value = normalise(value)
            if value in ({}, []) or DEFAULTS.get(key) == value:
                continue
            out[key] = value
        return out
    if isinstance(config, list):
        return [normalise(v) for v in config]
    return config
