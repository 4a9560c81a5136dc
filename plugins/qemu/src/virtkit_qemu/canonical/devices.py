"""The devices the QEMU driver adds to every definition of a machine type (libvirt's
``qemuDomainDefAddDefaultDevices`` and default audio backend), and its device model
defaults."""

from __future__ import annotations

from lxml import etree
from virtkit.xml import Context
from virtkit.xml.canonical.census import acts_on, creates
from virtkit.xml.canonical.devices import append_controller
from virtkit.xml.canonical.order import (
    DEVICES_ORDER,
    device_children,
    first_child,
    insert_child,
    set_attrs_first,
)

from virtkit_qemu.argv.defaults import is_q35
from virtkit_qemu.canonical.caps import QemuCaps
from virtkit_qemu.canonical.context import (
    QemuContext,
    accel_of,
    caps_of,
    controllers,
    device_parts,
    devices_named,
    is_arm_virt,
    is_i440fx,
    is_ppc64,
    is_s390,
    is_x86,
    os_type,
    platform_of,
)


@creates()
def resolve_machine(root: etree._Element, ctx: Context) -> None:
    """A missing machine type is the emulator's default; an alias (``pc``, ``q35``) becomes the
    machine type it stands for."""
    type_el = os_type(root)
    if type_el is None:
        return
    caps, accel = caps_of(ctx), accel_of(root)
    machine = type_el.get("machine") or caps.default_machine(accel)
    if machine:
        machine = caps.canonical_machine(machine, accel)
        type_el.set("machine", machine)
    arch = type_el.get("arch")
    if arch is None:
        arch = _emulator_arch(root) or caps.arch
        type_el.set("arch", arch)
    set_attrs_first(type_el, {k: v for k, v in (("arch", arch), ("machine", machine)) if v})


#: the suffix of ``qemu-system-*`` -> libvirt's name of the architecture
_EMULATOR_ARCHES = {"i386": "i686", "arm": "armv7l"}


@creates("emulator")
def default_emulator(root: etree._Element, ctx: Context) -> None:
    """A definition that names no emulator names the one the driver runs for it."""
    emulator = ctx.emulator if isinstance(ctx, QemuContext) else None
    devices = first_child(root, "devices")
    if emulator and devices is not None and first_child(devices, "emulator") is None:
        insert_child(devices, "emulator", DEVICES_ORDER).text = emulator


def _emulator_arch(root: etree._Element) -> str | None:
    """The architecture the ``<emulator>`` binary emulates (``qemu-system-aarch64``)."""
    name = (root.findtext("devices/emulator") or "").strip().rsplit("/", 1)[-1]
    if not name.startswith("qemu-system-"):
        return None
    suffix = name.removeprefix("qemu-system-")
    return _EMULATOR_ARCHES.get(suffix, suffix)


def _find_controller(devices: etree._Element, kind: str, index: int) -> etree._Element | None:
    for ctrl in devices.iterchildren("controller"):
        if ctrl.get("type") == kind and int(ctrl.get("index", "0")) == index:
            return ctrl
    return None


def insert_controller(
    devices: etree._Element, kind: str, index: int, model: str | None = None
) -> etree._Element:
    """A new controller placed as libvirt inserts one: before the first controller of its type
    with a higher index, else after all controllers."""
    attrib = {"type": kind, "index": str(index)}
    if model:
        attrib["model"] = model
    higher = next(
        (
            c
            for c in devices.iterchildren("controller")
            if c.get("type") == kind and int(c.get("index", "0")) > index
        ),
        None,
    )
    if higher is None:
        return insert_child(devices, "controller", DEVICES_ORDER, attrib)
    el = etree.Element("controller", attrib)
    higher.addprevious(el)
    el.tail = None
    return el


def add_controllers(
    devices: etree._Element, kind: str, first_index: int, models: list[str]
) -> None:
    """Controllers of ``kind`` and ``models`` indexed from ``first_index`` on, above every
    controller of their type: together, where :func:`insert_controller` puts the first."""
    previous = insert_controller(devices, kind, first_index, models[0])
    for index, model in enumerate(models[1:], first_index + 1):
        el = devices.makeelement("controller", {"type": kind, "index": str(index), "model": model})
        previous.addnext(el)
        previous = el


def _has_input(devices: etree._Element, kind: str, bus: str) -> bool:
    return any(i.get("type") == kind and i.get("bus") == bus for i in devices.iterchildren("input"))


def _add_input(devices: etree._Element, kind: str, bus: str) -> None:
    if not _has_input(devices, kind, bus):
        insert_child(devices, "input", DEVICES_ORDER, {"type": kind, "bus": bus})


@creates("input", "controller", "memballoon", "panic", "master")
def default_devices(root: etree._Element, ctx: Context) -> None:
    """USB controller 0, the root PCI controller, SATA on q35, PS/2 inputs on x86 PCs, the
    memory balloon and the panic notifier the machine type comes with."""
    devices = first_child(root, "devices")
    if devices is None:
        return
    caps = caps_of(ctx)
    arch, machine = platform_of(root, caps)
    add_usb, usb_model, sata, pci_root, pcie_root = True, None, False, False, False
    balloon, usb_inputs, panic = True, False, False
    if is_x86(arch):
        if machine == "isapc":
            add_usb = False
        elif is_q35(machine):
            pcie_root = sata = True
            usb_model = next((m for m, flag in _Q35_USB if caps.has(flag)), None)
            add_usb = usb_model is not None
        else:
            pci_root = is_i440fx(machine)
    elif arch == "armv6l":
        add_usb = balloon = False
        pci_root = machine == "versatilepb"
    elif arch in ("armv7l", "aarch64"):
        add_usb = balloon = False
        pcie_root = is_arm_virt(arch, machine) and caps.has("gpex-pcihost")
    elif is_ppc64(arch):
        pci_root = usb_inputs = True
        panic = machine.startswith("pseries")
    elif arch in ("alpha", "ppc", "ppcemb", "sh4", "sh4eb", "sparc", "sparc64"):
        pci_root = True
    elif arch in ("riscv32", "riscv64"):
        add_usb = False
        pcie_root = (machine == "virt" or machine.startswith("virt-")) and caps.has("gpex-pcihost")
    elif is_s390(arch):
        add_usb = False
        panic = True
        pci_root = caps.has("zpci")
    if (
        is_x86(arch)
        and (is_i440fx(machine) or is_q35(machine) or machine == "isapc")
        and _ps2_state(root) != "off"
    ):
        _add_input(devices, "mouse", "ps2")
        _add_input(devices, "keyboard", "ps2")
    if add_usb and _find_controller(devices, "usb", 0) is None:
        insert_controller(devices, "usb", 0, usb_model)
        if usb_model == "ich9-ehci1":
            _add_usb_companions(devices)
    if sata and _find_controller(devices, "sata", 0) is None:
        insert_controller(devices, "sata", 0)
    if (pci_root or pcie_root) and _find_controller(devices, "pci", 0) is None:
        # appended, as libvirt adds it: after the PCI controllers the definition has
        append_controller(devices, "pci", 0, "pcie-root" if pcie_root else "pci-root")
    if balloon and first_child(devices, "memballoon") is None:
        insert_child(devices, "memballoon", DEVICES_ORDER, {"model": "virtio"})
    if usb_inputs and first_child(devices, "graphics") is not None:
        tablet = _has_input(devices, "tablet", "usb")
        _add_input(devices, "keyboard", "usb")
        if not tablet:
            _add_input(devices, "mouse", "usb")
    if panic and not _has_machine_panic(devices, arch):
        insert_child(devices, "panic", DEVICES_ORDER)


def _ps2_state(root: etree._Element) -> str | None:
    """The state of ``<features><ps2>``."""
    features = first_child(root, "features")
    ps2 = first_child(features, "ps2") if features is not None else None
    return ps2.get("state") if ps2 is not None else None


#: USB controllers of a q35 machine by preference, with the capability each needs
_Q35_USB = (
    ("qemu-xhci", "qemu-xhci"),
    ("nec-xhci", "nec-usb-xhci"),
    ("ich9-ehci1", "ich9-usb-ehci1"),
)


def _add_usb_companions(devices: etree._Element) -> None:
    master = _find_controller(devices, "usb", 0)
    assert master is not None
    for number, start in ((1, 0), (2, 2), (3, 4)):
        companion = etree.Element("controller", {"type": "usb", "index": "0"})
        companion.set("model", f"ich9-uhci{number}")
        etree.SubElement(companion, "master", {"startport": str(start)})
        master.addnext(companion)
        master = companion


def _has_machine_panic(devices: etree._Element, arch: str) -> bool:
    own = "pseries" if is_ppc64(arch) else "s390"
    return any(p.get("model") in (None, own) for p in devices.iterchildren("panic"))


@acts_on("panic")
@creates()
def panic_models(root: etree._Element, ctx: Context) -> None:
    """A panic device without a model is the machine's own: pseries, s390, else ISA."""
    bare = [p for p in devices_named(root, "panic") if p.get("model") is None]
    if not bare:
        return
    arch, machine = platform_of(root, caps_of(ctx))
    if is_ppc64(arch) and machine.startswith("pseries"):
        model = "pseries"
    elif is_s390(arch):
        model = "s390"
    else:
        model = "isa"
    for panic in bare:
        panic.set("model", model)


@creates("audio")
def default_audio(root: etree._Element, ctx: Context) -> None:
    """A domain without ``<audio>`` gets one when it has no graphics or a VNC or SPICE console:
    SPICE audio for a SPICE console, else a silent backend. None when a local display (SDL,
    D-Bus) passes the host's audio through, nor for consoles without sound (egl-headless,
    RDP, desktop)."""
    devices = first_child(root, "devices")
    if devices is None or first_child(devices, "audio") is not None:
        return
    kinds = {graphics.get("type") for graphics in devices.iterchildren("graphics")}
    if kinds & {"sdl", "dbus"} or (kinds and not kinds & {"vnc", "spice"}):
        return
    kind = "spice" if "spice" in kinds else "none"
    insert_child(devices, "audio", DEVICES_ORDER, {"id": "1", "type": kind})


@acts_on("controller")
@creates("master")
def usb_controller_models(root: etree._Element, ctx: Context) -> None:
    """A USB controller without a model gets the machine's usual one when QEMU has it; a USB1
    companion of a USB2 controller says which of its ports it serves."""
    bare = []
    for ctrl in controllers(root, "usb"):
        model = ctrl.get("model")
        if model is None:
            bare.append(ctrl)
        elif model.startswith("ich9-uhci") and first_child(ctrl, "master") is None:
            master = etree.Element("master", {"startport": str((int(model[-1]) - 1) * 2)})
            ctrl.insert(0, master)
    if not bare:
        return
    caps = caps_of(ctx)
    arch = platform_of(root, caps)[0]
    for ctrl in bare:
        model = None
        if caps.has("piix3-usb-uhci"):
            model = "piix3-uhci"
        elif caps.has("pci-ohci"):
            model = "pci-ohci"
        if is_s390(arch):
            if first_child(ctrl, "address") is None:
                model = "none"
        elif is_ppc64(arch):
            model = "pci-ohci" if caps.has("pci-ohci") else None
        elif arch == "aarch64":
            model = next((m for m, flag in _Q35_USB[:2] if caps.has(flag)), model)
        if model:
            ctrl.set("model", model)


@acts_on("controller")
@creates()
def scsi_controller_models(root: etree._Element, ctx: Context) -> None:
    """A SCSI controller without a model gets the one libvirt picks for the machine."""
    bare = [c for c in controllers(root, "scsi") if c.get("model") is None]
    if not bare:
        return
    caps = caps_of(ctx)
    arch, machine = platform_of(root, caps)
    for ctrl in bare:
        if is_ppc64(arch) and machine.startswith("pseries"):
            model = "ibmvscsi"
        elif is_s390(arch) or not caps.has("lsi") and caps.has("virtio-scsi-pci"):
            model = "virtio-scsi"
        elif caps.has("lsi"):
            model = "lsilogic"
        elif caps.has("mptsas1068"):
            model = "lsisas1068"
        elif caps.has("megasas"):
            model = "lsisas1078"
        else:
            continue
        ctrl.set("model", model)


@acts_on("disk")
@creates("driver", "format")
def disk_drivers(root: etree._Element, ctx: Context) -> None:
    """Disks are files unless said, opened by QEMU's own block layer (``<driver
    name='qemu'>``) and, when the format is not given, as raw images (so is the copy a block
    job mirrors them to); LUKS encryption is done by QEMU; vhost-user disks cannot be
    snapshotted."""
    for disk in devices_named(root, "disk"):
        if disk.get("type") is None:
            set_attrs_first(disk, {"type": "file"})
        if disk.get("type") == "vhostuser" and disk.get("snapshot") is None:
            disk.set("snapshot", "no")
        for encryption in disk.iterfind(".//encryption[@format='luks']"):
            if encryption.get("engine") is None:
                encryption.set("engine", "qemu")
        driver = first_child(disk, "driver")
        if driver is None:
            driver = etree.SubElement(disk, "driver")
        name = driver.get("name") or "qemu"
        fmt = driver.get("type") or (None if disk.get("type") == "volume" else "raw")
        first = {"name": name}
        if fmt:
            first["type"] = fmt
        set_attrs_first(driver, first)
        for mirror in disk.iterchildren("mirror"):
            modern = mirror.get("type") and mirror.get("format") is None
            if modern and first_child(mirror, "format") is None:
                mirror.insert(0, etree.Element("format", {"type": "raw"}))


def _virtio_machine(arch: str, machine: str) -> bool:
    """s390, ARM and RISC-V ``virt``: machines whose video and NIC are virtio by default."""
    return (
        is_s390(arch)
        or is_arm_virt(arch, machine)
        or (arch.startswith("riscv") and "virt" in machine)
    )


def default_video_model(root: etree._Element, caps: QemuCaps) -> str | None:
    """The video model a graphical console gets: VGA on pseries, virtio on ARM and RISC-V
    ``virt`` and s390, else Cirrus or VGA, whichever QEMU has."""
    arch, machine = platform_of(root, caps)
    if is_ppc64(arch):
        return "vga"
    if _virtio_machine(arch, machine):
        return "virtio"
    if caps.has("cirrus-vga"):
        return "cirrus"
    if caps.has("VGA"):
        return "vga"
    return None


@acts_on("video")
@creates("model")
def video_models(root: etree._Element, ctx: Context) -> None:
    """A video device without a model type gets the default one; QXL has 16 MiB of VGA
    memory unless said; the one marked primary comes first."""
    videos = devices_named(root, "video")
    if not videos:
        return
    primary = next((v for v in videos if v.find("model[@primary='yes']") is not None), None)
    if primary is not None and primary is not videos[0]:
        videos[0].addprevious(primary)
    for video in device_children(root, "video"):
        model = first_child(video, "model")
        if model is None:
            model = etree.SubElement(video, "model")
        if model.get("type") is None:
            kind = default_video_model(root, caps_of(ctx))
            if kind:
                set_attrs_first(model, {"type": kind})
        if model.get("type") == "qxl" and model.get("vgamem") is None:
            model.set("vgamem", "16384")


@acts_on("source")
@creates()
def network_sources(root: etree._Element, ctx: Context) -> None:
    """An iSCSI target without a LUN means LUN 0; a Gluster server listens on port 24007
    unless said."""
    sources = (s for d in root.iterchildren("devices") for s in device_parts(d, "source"))
    for source in (s for s in sources if s.get("protocol") is not None):
        name = source.get("name")
        if source.get("protocol") == "iscsi" and name and "/" not in name:
            source.set("name", f"{name}/0")
        if source.get("protocol") == "gluster":
            for host in source.iterchildren("host"):
                if host.get("transport", "tcp") == "tcp" and host.get("port") is None:
                    host.set("port", "24007")


@acts_on("interface")
@creates("model")
def net_models(root: etree._Element, ctx: Context) -> None:
    """An interface without a model gets the machine's usual NIC (virtio for vDPA); a model
    libvirt knows is written in lower case."""
    nets = [n for n in devices_named(root, "interface") if n.get("type") != "hostdev"]
    if not nets:
        return
    default = _default_net_model(root, caps_of(ctx))
    for net in nets:
        existing = first_child(net, "model")
        if existing is None:
            kind = "virtio" if net.get("type") == "vdpa" else default
            etree.SubElement(net, "model", {"type": kind})
        elif (existing.get("type") or "").lower() in _KNOWN_NET_MODELS:
            existing.set("type", (existing.get("type") or "").lower())


def _default_net_model(root: etree._Element, caps: QemuCaps) -> str:
    """virtio on s390, ARM and RISC-V ``virt``, the board's own NIC on other ARM machines,
    else the first of rtl8139, e1000, virtio QEMU has."""
    arch, machine = platform_of(root, caps)
    if _virtio_machine(arch, machine):
        return "virtio"
    if arch in ("armv6l", "armv7l", "aarch64"):
        return "smc91c111" if machine == "versatilepb" else "lan9118"
    return next((m for m, flag in _NET_MODELS if caps.has(flag)), "rtl8139")


#: NIC models by preference, with the capability each needs
_NET_MODELS = (("rtl8139", "rtl8139"), ("e1000", "e1000"), ("virtio", "virtio-net"))

#: NIC models libvirt knows by name (any case), written in lower case
_KNOWN_NET_MODELS = ("virtio", "e1000", "e1000e", "rtl8139", "virtio-transitional")


@acts_on("hostdev")
@creates()
def hostdev_attributes(root: etree._Element, ctx: Context) -> None:
    """A host device says its mode, type and management before anything else."""
    for hostdev in devices_named(root, "hostdev"):
        first = {k: hostdev.get(k, "") for k in ("mode", "type", "managed") if hostdev.get(k)}
        set_attrs_first(hostdev, first)


@acts_on("vsock")
@creates()
def vsock_models(root: etree._Element, ctx: Context) -> None:
    """A vsock device is a virtio one unless said."""
    for vsock in devices_named(root, "vsock"):
        if vsock.get("model") is None:
            set_attrs_first(vsock, {"model": "virtio"})


@acts_on("tpm")
@creates()
def tpm_defaults(root: etree._Element, ctx: Context) -> None:
    """A TPM is the sPAPR one on pseries, else TIS; an emulated TPM is version 2.0 where only
    that exists (sPAPR, CRB, ARM ``virt``), else 1.2."""
    tpms = devices_named(root, "tpm")
    if not tpms:
        return
    arch, machine = platform_of(root, caps_of(ctx))
    for tpm in tpms:
        if tpm.get("model") is None:
            set_attrs_first(tpm, {"model": "tpm-spapr" if is_ppc64(arch) else "tpm-tis"})
        backend = tpm.find("backend[@type='emulator']")
        if backend is not None and backend.get("version") is None:
            two = tpm.get("model") in ("tpm-spapr", "tpm-crb") or is_arm_virt(arch, machine)
            backend.set("version", "2.0" if two else "1.2")


@acts_on("shmem")
@creates("model", "size", "msi")
def shmem_defaults(root: etree._Element, ctx: Context) -> None:
    """Shared memory is an ``ivshmem`` of 4 MiB unless said (a doorbell one has no size of its
    own); a doorbell with a server signals through ioeventfd."""
    for shmem in devices_named(root, "shmem"):
        model = first_child(shmem, "model")
        if model is None:
            model = etree.Element("model", {"type": "ivshmem"})
            shmem.insert(0, model)
        kind = model.get("type")
        if kind != "ivshmem-doorbell" and first_child(shmem, "size") is None:
            size = etree.Element("size", {"unit": "M"})
            size.text = "4"
            model.addnext(size)
        if kind == "ivshmem-doorbell" and first_child(shmem, "server") is not None:
            msi = first_child(shmem, "msi")
            if msi is None:
                msi = etree.SubElement(shmem, "msi")
                address = first_child(shmem, "address")
                if address is not None:
                    address.addprevious(msi)
            if msi.get("ioeventfd") is None:
                msi.set("ioeventfd", "on")


@creates("address")
def dimm_slots(root: etree._Element, ctx: Context) -> None:
    """Memory modules plugged as DIMMs take the lowest free DIMM slot."""
    modules = list(device_children(root, "memory"))
    if not modules:
        return
    taken = {
        int(a.get("slot", "0"))
        for m in modules
        for a in m.findall("address[@type='dimm']")
        if a.get("slot") is not None
    }
    for module in modules:
        if (
            module.get("model") not in ("dimm", "nvdimm")
            or first_child(module, "address") is not None
        ):
            continue
        slot = next(s for s in range(len(taken) + 1) if s not in taken)
        taken.add(slot)
        etree.SubElement(module, "address", {"type": "dimm", "slot": str(slot)})
