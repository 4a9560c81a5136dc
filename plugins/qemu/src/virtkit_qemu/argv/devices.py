"""The other ``<devices>`` children: interfaces, graphics, video, input, USB and PCI
controllers, memory balloon, RNG, sound."""

from __future__ import annotations

import random

from lxml import etree
from virtkit.errors import XMLError
from virtkit.xml.canonical.order import first_child

from virtkit_qemu.argv.context import (
    BuildContext,
    allowed,
    check_children,
    integer,
    unsupported,
    where,
)
from virtkit_qemu.argv.defaults import (
    DEFAULT_NET_MODEL,
    DEFAULT_VIDEO_MODEL,
    DEFAULT_VNC_LISTEN,
    default_usb_model,
    is_q35,
)

NET_MODELS = {
    "virtio": "virtio-net-pci",
    "e1000": "e1000",
    "e1000e": "e1000e",
    "rtl8139": "rtl8139",
}
VIDEO_MODELS = {
    "vga": "VGA",
    "cirrus": "cirrus-vga",
    "virtio": "virtio-vga",
    "bochs": "bochs-display",
}
CIRRUS_VRAM_KIB = 16384
#: sound model -> QEMU device; the HD Audio controllers carry codecs (``<codec type>``)
SOUND_MODELS = {"ich6": "intel-hda", "ich9": "ich9-intel-hda", "ac97": "AC97", "es1370": "ES1370"}
HDA_CODECS = {"duplex": "hda-duplex", "micro": "hda-micro", "output": "hda-output"}
USB_MODELS = {"piix3-uhci": "piix3-usb-uhci", "qemu-xhci": "qemu-xhci", "nec-xhci": "nec-usb-xhci"}
PCI_CONTROLLERS = {
    # libvirt's model -> QEMU device
    "pcie-root-port": "pcie-root-port",
    "dmi-to-pci-bridge": "i82801b11-bridge",
    "pcie-to-pci-bridge": "pcie-pci-bridge",
    "pci-bridge": "pci-bridge",
}
PIIX3_USB = (0, 1, 2)
"""The PIIX3's USB function on i440fx machines."""
INPUT_DEVICES = {
    ("tablet", "usb"): "usb-tablet",
    ("mouse", "usb"): "usb-mouse",
    ("keyboard", "usb"): "usb-kbd",
}


def random_mac() -> str:
    """A MAC in QEMU's locally administered 52:54:00 range."""
    return "52:54:00:" + ":".join(f"{random.randrange(256):02x}" for _ in range(3))


def add_interface(ctx: BuildContext, iface: etree._Element) -> None:
    check_children(iface, {"source", "target", "model", "mac", "boot", "address", "alias", "link"})
    kind = iface.get("type")
    if kind not in ("user", "bridge", "ethernet"):
        raise unsupported(iface, f"interface type '{kind}' (supported: user, bridge, ethernet)")
    index = ctx.count("net")
    netdev = f"hostnet{index}"
    if kind == "user":
        ctx.add("-netdev", f"user,id={netdev}")
    else:
        target = first_child(iface, "target")
        ifname = target.get("dev") if target is not None else None
        bridge = None
        if kind == "bridge":
            source = first_child(iface, "source")
            bridge = source.get("bridge") if source is not None else None
            if not bridge:
                raise XMLError(f"{where(iface)}: type 'bridge' needs <source bridge=...>")
        if not ifname:
            if kind == "ethernet":
                raise XMLError(f"{where(iface)}: type 'ethernet' needs <target dev=...>")
            ifname = f"vk{random.randrange(16**8):08x}"
        ctx.add("-netdev", f"tap,id={netdev},ifname={ifname},script=no,downscript=no")
        ctx.taps.append((ifname, bridge))
    model_el = first_child(iface, "model")
    model = model_el.get("type", DEFAULT_NET_MODEL) if model_el is not None else DEFAULT_NET_MODEL
    if model not in NET_MODELS:
        raise unsupported(model_el, f"network model '{model}' (supported: {', '.join(NET_MODELS)})")
    mac_el = first_child(iface, "mac")
    mac = mac_el.get("address") if mac_el is not None else None
    props = [NET_MODELS[model], f"netdev={netdev}", f"id=net{index}", f"mac={mac or random_mac()}"]
    link = first_child(iface, "link")
    if link is not None:
        allowed(link, "state", ("up",), "up")
    boot = first_child(iface, "boot")
    if boot is not None:
        props.append(f"bootindex={integer(boot, 'order')}")
    props.append(ctx.pci_address(iface, where(iface)))
    ctx.add("-device", ",".join(props))


def add_graphics(ctx: BuildContext, graphics: etree._Element) -> None:
    check_children(graphics, {"listen"})
    allowed(graphics, "type", ("vnc",), "vnc")
    for attr in ("passwd", "keymap", "socket", "sharePolicy"):
        if graphics.get(attr) is not None:
            raise unsupported(graphics, f"the VNC attribute '{attr}'")
    listen = graphics.get("listen")
    listen_el = first_child(graphics, "listen")
    if listen_el is not None:
        allowed(listen_el, "type", ("address",), "address")
        listen = listen_el.get("address", listen)
    host = listen or DEFAULT_VNC_LISTEN
    host = f"[{host}]" if ":" in host else host
    port = integer(graphics, "port", -1)
    autoport = graphics.get("autoport", "yes" if port == -1 else "no") == "yes"
    if autoport:
        ctx.add("-vnc", f"{host}:0,to=99")
    elif port < 5900:
        raise XMLError(f"{where(graphics)}: VNC port {port} is below 5900")
    else:
        ctx.add("-vnc", f"{host}:{port - 5900}")
    ctx.counters["graphics"] = 1


def add_video(ctx: BuildContext, video: etree._Element) -> None:
    check_children(video, {"model", "address", "alias"})
    model_el = first_child(video, "model")
    model = (
        model_el.get("type", DEFAULT_VIDEO_MODEL) if model_el is not None else DEFAULT_VIDEO_MODEL
    )
    if model == "none":
        return
    if model not in VIDEO_MODELS:
        raise unsupported(
            model_el, f"video model '{model}' (supported: none, {', '.join(VIDEO_MODELS)})"
        )
    index = ctx.count("video")
    if index:
        raise unsupported(video, "more than one video device")
    props = [VIDEO_MODELS[model], "id=video0", *_video_memory(model_el, model)]
    if first_child(video, "address") is None:
        slot = (0, ctx.pci.video_slot, 0)
        ctx.pci.reserve(slot, "the primary video card")
        props.append(ctx.placement(slot))
    else:
        props.append(ctx.pci_address(video, where(video)))
    ctx.add("-device", ",".join(props))


def _video_memory(model_el: etree._Element | None, model: str) -> list[str]:
    """The video RAM the ``<model>`` asks (``vram`` in KiB; one head only)."""
    if model_el is None:
        return []
    if integer(model_el, "heads", 1) != 1:
        raise unsupported(model_el, f"heads='{model_el.get('heads')}' (one head only)")
    allowed(model_el, "primary", ("yes",), "yes")
    vram = model_el.get("vram")
    if vram is None:
        return []
    if model == "vga":
        return [f"vgamem_mb={integer(model_el, 'vram') // 1024}"]
    if model == "cirrus" and integer(model_el, "vram") == CIRRUS_VRAM_KIB:
        return []  # cirrus-vga's fixed size
    raise unsupported(model_el, f"vram='{vram}' for video model '{model}'")


def add_input(ctx: BuildContext, inp: etree._Element) -> None:
    check_children(inp, {"address", "alias"})
    kind, bus = inp.get("type"), inp.get("bus", "ps2")
    if bus == "ps2" and kind in ("mouse", "keyboard"):
        return  # the i8042 of every PC machine
    device = INPUT_DEVICES.get((kind or "", bus))
    if device is None:
        raise unsupported(inp, f"input type '{kind}' on bus '{bus}'")
    if ctx.counters.get("usb") == 0:
        raise unsupported(inp, "a USB device with USB controller model 'none'")
    ensure_usb(ctx)
    ctx.add("-device", f"{device},id=input{ctx.count('input')},bus=usb.0")


def ensure_usb(ctx: BuildContext, ctrl: etree._Element | None = None) -> None:
    """Add the USB controller: the one ``ctrl`` describes, else the machine's default."""
    if "usb" in ctx.counters:
        return
    model = default_usb_model(ctx.machine)
    placement = None
    if ctrl is not None:
        model = ctrl.get("model", model)
        if model == "none":
            ctx.counters["usb"] = 0
            return
        if model not in USB_MODELS:
            raise unsupported(
                ctrl, f"USB controller model '{model}' (supported: none, {', '.join(USB_MODELS)})"
            )
        if first_child(ctrl, "address") is not None:
            placement = ctx.pci_address(ctrl, where(ctrl))
    ctx.counters["usb"] = 1
    if placement is None and model == "piix3-uhci" and not is_q35(ctx.machine):
        ctx.pci.reserve(PIIX3_USB, "the USB controller")
        placement = ctx.placement(PIIX3_USB)
    elif placement is None:
        placement = ctx.next_pci("usb")
    ctx.add("-device", f"{USB_MODELS[model]},id=usb,{placement}")


def add_pci_controller(ctx: BuildContext, ctrl: etree._Element) -> None:
    """The root bus (index 0, the machine's own) or a bus added to it: ``pci.<index>``."""
    model = ctrl.get("model")
    index = integer(ctrl, "index", 0)
    root = "pcie-root" if is_q35(ctx.machine) else "pci-root"
    if index == 0:
        if model not in (None, root):
            raise unsupported(ctrl, f"PCI controller model '{model}' at index 0 (the {root})")
        return
    if model not in PCI_CONTROLLERS:
        raise unsupported(
            ctrl, f"PCI controller model '{model}' (supported: {', '.join(PCI_CONTROLLERS)})"
        )
    if model != "pci-bridge" and root != "pcie-root":
        raise unsupported(ctrl, f"PCI controller model '{model}' on a machine without PCIe (q35)")
    model_el = first_child(ctrl, "model")
    if (
        model_el is not None
        and model_el.get("name", PCI_CONTROLLERS[model]) != PCI_CONTROLLERS[model]
    ):
        raise unsupported(model_el, f"model name '{model_el.get('name')}' for a {model}")
    if index in ctx.pci_buses:
        raise XMLError(f"{where(ctrl)}: a second PCI controller with index {index}")
    if first_child(ctrl, "address") is None:
        raise XMLError(f"{where(ctrl)}: PCI controller {index} has no <address>")
    props = [PCI_CONTROLLERS[model], f"id=pci.{index}"]
    target = first_child(ctrl, "target")
    if model == "pcie-root-port":
        if target is None or target.get("chassis") is None or target.get("port") is None:
            raise XMLError(f"{where(ctrl)}: a pcie-root-port needs <target chassis=... port=...>")
        props += [f"port=0x{integer(target, 'port'):x}", f"chassis={integer(target, 'chassis')}"]
    elif model == "pci-bridge":
        chassis = integer(target, "chassisNr", index) if target is not None else index
        props.append(f"chassis_nr={chassis}")
    props.append(ctx.pci_address(ctrl, where(ctrl)))
    ctx.add("-device", ",".join(props))
    ctx.pci_buses.add(index)


def add_memballoon(ctx: BuildContext, balloon: etree._Element) -> None:
    check_children(balloon, {"address", "alias", "stats"})
    if allowed(balloon, "model", ("virtio", "none"), "virtio") == "virtio":
        ctx.add(
            "-device", f"virtio-balloon-pci,id=balloon0,{ctx.pci_address(balloon, where(balloon))}"
        )


def add_rng(ctx: BuildContext, rng: etree._Element) -> None:
    check_children(rng, {"backend", "address", "alias", "rate"})
    allowed(rng, "model", ("virtio",), "virtio")
    backend = first_child(rng, "backend")
    if backend is None:
        raise XMLError(f"{where(rng)} has no <backend>")
    allowed(backend, "model", ("random",), "random")
    index = ctx.count("rng")
    ctx.add(
        "-object",
        f"rng-random,id=objrng{index},filename={(backend.text or '/dev/urandom').strip()}",
    )
    ctx.add(
        "-device",
        f"virtio-rng-pci,rng=objrng{index},id=rng{index},{ctx.pci_address(rng, where(rng))}",
    )


def add_sound(ctx: BuildContext, sound: etree._Element) -> None:
    """A sound card on the PCI bus playing through the domain's ``<audio>`` backend (its own
    ``<audio id>`` or the first one); an HD Audio card gets its codecs, one duplex codec by
    default, as libvirt gives it."""
    check_children(sound, {"codec", "address", "alias", "audio"})
    model = allowed(sound, "model", tuple(SOUND_MODELS), "")
    audio = first_child(sound, "audio")
    devices = sound.getparent()
    if audio is None and devices is not None:
        audio = first_child(devices, "audio")
    if audio is None:
        raise unsupported(sound, "a sound device without an <audio> backend")
    audiodev = f"audio{integer(audio, 'id', 1)}"
    alias = f"sound{ctx.count('sound')}"
    placement = ctx.pci_address(sound, where(sound))
    codecs = list(sound.iterchildren("codec"))
    if model not in ("ich6", "ich9"):
        if codecs:
            raise unsupported(codecs[0], f"codecs on a sound model '{model}' (HD Audio only)")
        ctx.add("-device", f"{SOUND_MODELS[model]},id={alias},audiodev={audiodev},{placement}")
        return
    ctx.add("-device", f"{SOUND_MODELS[model]},id={alias},{placement}")
    kinds = [allowed(codec, "type", tuple(HDA_CODECS), "duplex") for codec in codecs]
    for cad, kind in enumerate(kinds or ["duplex"]):
        ctx.add(
            "-device",
            f"{HDA_CODECS[kind]},id={alias}-codec{cad},bus={alias}.0,cad={cad},audiodev={audiodev}",
        )
