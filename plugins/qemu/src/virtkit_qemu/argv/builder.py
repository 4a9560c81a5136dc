"""Domain XML to a ``qemu-system`` command line.

Everything the XML asks for is either translated or refused with
:class:`~virtkit.errors.ConfigUnsupportedError` naming the element; nothing is silently dropped.
Runtime plumbing (monitors, pidfile, ``-S``, ``-daemonize``) is added by
:mod:`virtkit_qemu.launch`, not here.
"""

from __future__ import annotations

import os
import shutil
import uuid as uuidlib
from collections.abc import Callable

import attrs
from lxml import etree
from virtkit.errors import ConfigUnsupportedError, XMLError
from virtkit.xml import DomainDef
from virtkit.xml.canonical.order import device_children, first_child

from virtkit_qemu.argv import chardevs, devices, disks
from virtkit_qemu.argv.accel import kvm_problem
from virtkit_qemu.argv.context import (
    BuildContext,
    allowed,
    check_children,
    child_text,
    first_children,
    integer,
    local_name,
    text_of,
    unsupported,
    where,
)
from virtkit_qemu.argv.defaults import DEFAULT_ARCH, DEFAULT_MACHINE, is_i440fx, is_q35

DEFAULT_EMULATOR = "qemu-system-x86_64"
TOP_LEVEL = {
    "name",
    "uuid",
    "genid",
    "title",
    "description",
    "metadata",
    "memory",
    "currentMemory",
    "vcpu",
    "os",
    "features",
    "cpu",
    "clock",
    "on_poweroff",
    "on_reboot",
    "on_crash",
    "devices",
    "pm",
    "seclabel",
}
UNITS = {
    "b": 1,
    "bytes": 1,
    "kb": 1000,
    "k": 1024,
    "kib": 1024,
    "mb": 1000**2,
    "m": 1024**2,
    "mib": 1024**2,
    "gb": 1000**3,
    "g": 1024**3,
    "gib": 1024**3,
    "tb": 1000**4,
    "t": 1024**4,
    "tib": 1024**4,
}
DEVICE_HANDLERS: dict[str, Callable[[BuildContext, etree._Element], None]] = {
    "disk": disks.add_disk,
    "interface": devices.add_interface,
    "serial": chardevs.add_serial,
    "graphics": devices.add_graphics,
    "video": devices.add_video,
    "input": devices.add_input,
    "memballoon": devices.add_memballoon,
    "rng": devices.add_rng,
    "channel": chardevs.add_channel,
    "sound": devices.add_sound,
}


@attrs.frozen(kw_only=True)
class QemuCommand:
    """The translated domain: the emulator, its arguments, and taps to plug into bridges."""

    emulator: str
    args: tuple[str, ...]
    taps: tuple[tuple[str, str | None], ...] = ()
    accel: str = "tcg"

    @property
    def argv(self) -> list[str]:
        return [self.emulator, *self.args]


def memory_kib(el: etree._Element) -> int:
    """An element holding a size with an optional ``unit`` attribute, in KiB."""
    unit = el.get("unit", "KiB").lower()
    if unit not in UNITS:
        raise XMLError(f"{where(el)}: unknown unit '{el.get('unit')}'")
    try:
        value = int((el.text or "").strip())
    except ValueError:
        raise XMLError(f"{where(el)}: '{el.text}' is not a whole number") from None
    return value * UNITS[unit] // 1024


def build_command(definition: DomainDef, *, runtime_dir: str | None = None) -> QemuCommand:
    """Translate ``definition``; raise ``ConfigUnsupportedError`` for what QEMU cannot do here.
    Its tree is read, never changed. ``runtime_dir``: the folder of the QEMU's sockets (see
    :func:`~virtkit_qemu.argv.chardevs.channel_socket`), when it is to run."""
    root = definition.read_tree()
    check_children(root, TOP_LEVEL)
    top = first_children(root)
    name = (text_of(top.get("name")) or "").strip()
    dom_type = allowed(root, "type", ("kvm", "qemu"), "qemu")
    if dom_type == "kvm" and (problem := kvm_problem()):
        raise ConfigUnsupportedError(
            f"domain '{name}' asks for type='kvm' but KVM is not usable here: "
            f"{problem}; use type='qemu' for software emulation"
        )
    os_el = top.get("os")
    type_el = first_child(os_el, "type") if os_el is not None else None
    machine = DEFAULT_MACHINE
    if type_el is not None:
        if (type_el.text or "hvm").strip() != "hvm":
            raise unsupported(type_el, f"OS type '{type_el.text}' (only hvm)")
        allowed(type_el, "arch", (DEFAULT_ARCH,), DEFAULT_ARCH)
        machine = type_el.get("machine", DEFAULT_MACHINE)
        if not (is_q35(machine) or is_i440fx(machine)):
            raise unsupported(type_el, f"machine type '{machine}' (pc, q35 and their versions)")
    ctx = BuildContext(machine=machine, runtime_dir=runtime_dir)
    emulator = emulator_path(root)
    accel = "kvm" if dom_type == "kvm" else "tcg"

    ctx.add("-name", f"guest={name},debug-threads=on")
    uuid = text_of(top.get("uuid"))
    if uuid is not None:
        ctx.add("-uuid", str(uuidlib.UUID(uuid.strip())))
    _genid(ctx, top.get("genid"))
    ctx.add("-no-user-config")
    ctx.add("-nodefaults")
    machine_opts = [machine, f"accel={accel}", "usb=off", "dump-guest-core=off"]
    machine_opts += _features(top.get("features"))
    ctx.add("-machine", ",".join(machine_opts))
    _cpu(ctx, top.get("vcpu"), top.get("cpu"))
    _memory(ctx, root, top.get("memory"))
    _os(ctx, os_el)
    _clock(ctx, top.get("clock"))
    _events(ctx, top)
    _pm(ctx, top.get("pm"))
    _seclabel(root)
    _devices(ctx, top.get("devices"))
    return QemuCommand(emulator=emulator, args=tuple(ctx.args), taps=tuple(ctx.taps), accel=accel)


def _genid(ctx: BuildContext, genid: etree._Element | None) -> None:
    """The guest's VM generation ID device; the canonical XML holds its value."""
    if genid is None:
        return
    value = (genid.text or "").strip()
    if not value:
        raise unsupported(genid, "a <genid> without its value (define the domain to draw one)")
    ctx.add("-device", f"vmgenid,guid={uuidlib.UUID(value)},id=vmgenid0")


def emulator_path(root: etree._Element) -> str:
    """The emulator binary the domain names (or the default), found on PATH."""
    emulator = next(device_children(root, "emulator"), None)
    text = emulator.text if emulator is not None else None
    name = text.strip() if text else DEFAULT_EMULATOR
    path = _find_on_path(name)
    if path is None:
        raise ConfigUnsupportedError(
            f"emulator '{name}' not found: install QEMU (Debian: qemu-system-x86) or name an "
            "existing binary in <devices><emulator>"
        )
    return path


_FOUND: dict[tuple[str, str | None], str] = {}
"""Emulators found by :func:`_find_on_path`, by name and ``PATH``."""


def _find_on_path(name: str) -> str | None:
    """``shutil.which(name)``, remembered: a path found before is checked with one
    ``access(2)`` call instead of the three ``which`` makes (every define and start looks)."""
    key = (name, os.environ.get("PATH"))
    path = _FOUND.get(key)
    if path is not None and os.access(path, os.X_OK):
        return path
    path = shutil.which(name)
    if path is not None:
        _FOUND[key] = path
    return path


def _features(features: etree._Element | None) -> list[str]:
    names = set()
    if features is not None:
        check_children(features, {"acpi", "apic", "pae", "vmport", "smm"})
        names = {local_name(f) for f in features if isinstance(f.tag, str)}
    opts = [] if "acpi" in names else ["acpi=off"]
    for name in ("vmport", "smm"):
        el = first_child(features, name) if features is not None else None
        if el is not None:
            opts.append(f"{name}={allowed(el, 'state', ('on', 'off'), 'on')}")
    return opts


def _cpu(ctx: BuildContext, vcpu_el: etree._Element | None, cpu: etree._Element | None) -> None:
    vcpus = 1
    current = None
    if vcpu_el is not None:
        allowed(vcpu_el, "placement", ("static",), "static")
        if vcpu_el.get("cpuset"):
            raise unsupported(vcpu_el, "cpuset (CPU pinning)")
        vcpus = int((vcpu_el.text or "1").strip())
        current = integer(vcpu_el, "current", vcpus)
    smp = [str(current if current is not None else vcpus), f"maxcpus={vcpus}"]
    if cpu is not None:
        check_children(cpu, {"model", "topology", "feature", "vendor"})
        mode = allowed(cpu, "mode", ("custom", "host-passthrough", "maximum"), "custom")
        model = {"host-passthrough": "host", "maximum": "max"}.get(mode)
        if mode == "custom":
            model = child_text(cpu, "model") or None
        flags = []
        for feature in list(cpu.iterchildren("feature")):
            policy = allowed(
                feature, "policy", ("require", "force", "disable", "forbid"), "require"
            )
            flags.append(("+" if policy in ("require", "force") else "-") + feature.get("name", ""))
        if model is None and flags:
            model = "qemu64"
        if model:
            ctx.add("-cpu", ",".join([model, *flags]))
        topology = first_child(cpu, "topology")
        if topology is not None:
            for key in ("sockets", "dies", "cores", "threads"):
                if topology.get(key):
                    smp.append(f"{key}={integer(topology, key)}")
    ctx.add("-smp", ",".join(smp))


def _memory(ctx: BuildContext, root: etree._Element, memory: etree._Element | None) -> None:
    if memory is None:
        raise XMLError(f"{where(root)} has no <memory>")
    kib = memory_kib(memory)
    if kib < 1024:
        raise XMLError(f"{where(memory)}: {kib} KiB is less than 1 MiB of memory")
    ctx.add("-m", f"size={kib}k")


def _nvram(ctx: BuildContext, nvram: etree._Element | None) -> None:
    """The variable store of a pflash loader: a file (made from ``template`` at start when it
    does not exist: see :mod:`virtkit_qemu.nvram`)."""
    if nvram is None:
        return
    check_children(nvram, set())
    for attribute in nvram.attrib:
        if attribute not in ("template", "type", "format", "templateFormat"):
            raise unsupported(nvram, f"the <nvram> attribute '{attribute}'")
    allowed(nvram, "type", ("file",), "file")
    allowed(nvram, "format", ("raw",), "raw")
    allowed(nvram, "templateFormat", ("raw",), "raw")
    path = (nvram.text or "").strip()
    if path:
        ctx.add("-drive", f"if=pflash,format=raw,unit=1,file={path}")


def _os(ctx: BuildContext, os_el: etree._Element | None) -> None:
    if os_el is None:
        return
    check_children(
        os_el, {"type", "loader", "nvram", "boot", "bootmenu", "kernel", "initrd", "cmdline"}
    )
    if os_el.get("firmware"):
        raise unsupported(os_el, "automatic firmware selection (name the <loader>)")
    children = first_children(os_el)
    loader = children.get("loader")
    if loader is not None:
        kind = allowed(loader, "type", ("rom", "pflash"), "rom")
        allowed(loader, "secure", ("no",), "no")
        allowed(loader, "stateless", ("no",), "no")
        path = (loader.text or "").strip()
        if kind == "rom":
            ctx.add("-bios", path)
        else:
            readonly = loader.get("readonly") == "yes"
            ctx.add(
                "-drive",
                f"if=pflash,format=raw,unit=0,file={path}" + (",readonly=on" if readonly else ""),
            )
            _nvram(ctx, children.get("nvram"))
    order = ""
    for boot in list(os_el.iterchildren("boot")):
        dev = allowed(boot, "dev", ("hd", "cdrom", "network", "fd"), "hd")
        order += {"hd": "c", "cdrom": "d", "network": "n", "fd": "a"}[dev]
    boot_opts = [f"order={order}"] if order else []
    menu = children.get("bootmenu")
    if menu is not None:
        boot_opts.append(f"menu={'on' if menu.get('enable') == 'yes' else 'off'}")
    if boot_opts:
        ctx.add("-boot", ",".join(boot_opts))
    for tag, option in (("kernel", "-kernel"), ("initrd", "-initrd"), ("cmdline", "-append")):
        text = text_of(children.get(tag))
        if text is not None:
            ctx.add(option, text.strip())


def _clock(ctx: BuildContext, clock: etree._Element | None) -> None:
    rtc = ["base=utc"]
    if clock is not None:
        check_children(clock, {"timer"})
        offset = allowed(clock, "offset", ("utc", "localtime"), "utc")
        rtc = [f"base={offset}"]
        for timer in list(clock.iterchildren("timer")):
            name = allowed(timer, "name", ("rtc", "pit", "hpet"), "rtc")
            present = timer.get("present", "yes")
            policy = timer.get("tickpolicy")
            if name == "hpet":
                if present == "no":
                    ctx.add("-no-hpet")
            elif name == "rtc" and policy:
                allowed(timer, "tickpolicy", ("catchup", "delay"), "catchup")
                if policy == "catchup":
                    rtc.append("driftfix=slew")
            elif name == "pit" and policy:
                allowed(timer, "tickpolicy", ("delay",), "delay")
                ctx.add("-global", "kvm-pit.lost_tick_policy=delay")
    ctx.add("-rtc", ",".join(rtc))


def _events(ctx: BuildContext, top: dict[str, etree._Element]) -> None:
    """``top``: the domain's first child of each tag."""
    for tag, values in (
        ("on_poweroff", ("destroy",)),
        ("on_reboot", ("restart", "destroy")),
        ("on_crash", ("destroy", "restart")),
    ):
        el = top.get(tag)
        if el is not None and (el.text or "").strip() not in values:
            raise unsupported(el, f"<{tag}>{el.text}</{tag}> (supported: {', '.join(values)})")
    if (text_of(top.get("on_reboot")) or "").strip() == "destroy":
        ctx.add("-no-reboot")


def _pm(ctx: BuildContext, pm: etree._Element | None) -> None:
    if pm is None:
        return
    check_children(pm, {"suspend-to-mem", "suspend-to-disk"})
    device = "ICH9-LPC" if is_q35(ctx.machine) else "PIIX4_PM"
    for tag, prop in (("suspend-to-mem", "disable_s3"), ("suspend-to-disk", "disable_s4")):
        el = first_child(pm, tag)
        if el is not None:
            enabled = allowed(el, "enabled", ("yes", "no"), "yes")
            ctx.add("-global", f"{device}.{prop}={0 if enabled == 'yes' else 1}")


def _seclabel(root: etree._Element) -> None:
    for label in list(root.iterchildren("seclabel")):
        allowed(label, "type", ("none",), "none")


def _devices(ctx: BuildContext, devices_el: etree._Element | None) -> None:
    if devices_el is None:
        ctx.add("-display", "none")
        return
    children = [c for c in devices_el if isinstance(c.tag, str)]
    # Controllers first, so the devices on them find them whatever the XML's order; PCI ones
    # by index, so a bus exists before the bridges and devices on it.
    controllers = [c for c in children if c.tag == "controller"]
    pci = sorted((c for c in controllers if c.get("type") == "pci"), key=_index)
    for ctrl in pci + [c for c in controllers if c.get("type") != "pci"]:
        _controller(ctx, ctrl)
    serial_count = len(list(devices_el.iterchildren("serial")))
    has_video = False
    for child in children:
        tag = local_name(child)
        if tag in ("emulator", "controller"):
            continue
        if tag == "audio":
            _audio(ctx, child)
            continue
        if tag == "console":
            chardevs.add_console(ctx, child, serial_count)
        elif tag in DEVICE_HANDLERS:
            DEVICE_HANDLERS[tag](ctx, child)
            has_video = has_video or tag == "video"
        else:
            raise unsupported(child, f"<{tag}> devices")
    if "graphics" not in ctx.counters:
        ctx.add("-display", "none")
    elif not has_video:
        devices.add_video(ctx, etree.Element("video"))  # the default card, not in the XML


def _index(ctrl: etree._Element) -> int:
    return integer(ctrl, "index", 0)


def _audio(ctx: BuildContext, audio: etree._Element) -> None:
    """``<audio type='none'>``: the silent backend libvirt adds for graphics and sound cards
    (the only one here: a guest's sound plays nowhere)."""
    check_children(audio, set())
    allowed(audio, "type", ("none",), "none")
    ctx.add("-audiodev", f"none,id=audio{integer(audio, 'id', 1)}")


def _controller(ctx: BuildContext, ctrl: etree._Element) -> None:
    check_children(ctrl, {"address", "alias", "model", "target", "driver"})
    kind = ctrl.get("type")
    if kind in ("ide", "sata", "scsi"):
        disks.add_storage_controller(ctx, ctrl)
    elif kind == "usb":
        devices.ensure_usb(ctx, ctrl)
    elif kind in ("pci",):
        devices.add_pci_controller(ctx, ctrl)
    elif kind == "virtio-serial":
        if _index(ctrl) != 0:
            raise unsupported(ctrl, f"a second virtio-serial controller (index {_index(ctrl)})")
        chardevs.add_virtio_serial(ctx, ctx.pci_address(ctrl, where(ctrl)))
    else:
        raise unsupported(ctrl, f"controller type '{kind}'")
