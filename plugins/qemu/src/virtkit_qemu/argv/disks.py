"""``<disk>`` and the storage ``<controller>`` elements to ``-blockdev`` / ``-device``."""

from __future__ import annotations

import json

from lxml import etree
from virtkit.errors import XMLError
from virtkit.xml.canonical.order import first_child

from virtkit_qemu.argv.context import (
    BuildContext,
    allowed,
    check_children,
    child_text,
    integer,
    unsupported,
    where,
)
from virtkit_qemu.argv.defaults import DEFAULT_SCSI_MODEL, is_q35

CACHE_MODES = {
    # mode: (O_DIRECT, ignore flushes, guest-visible write cache)
    "none": (True, False, True),
    "writeback": (False, False, True),
    "writethrough": (False, False, False),
    "directsync": (True, False, False),
    "unsafe": (False, True, True),
    "default": (False, False, True),
}
DRIVER_ATTRIBUTES = ("name", "type", "cache", "io", "discard")
BUS_BY_PREFIX = {"vd": "virtio", "sd": "scsi", "hd": "ide", "xvd": "xen"}
SCSI_MODELS = {"lsilogic": "lsi", "virtio-scsi": "virtio-scsi-pci"}
PIIX3_IDE = (0, 1, 1)
ICH9_SATA = (0, 0x1F, 2)


def node_names(target: str) -> tuple[str, str]:
    """``(storage node, format node)`` of the disk with target ``target`` (``vda``...): the
    names snapshots and block jobs use in QMP."""
    return f"file-{target}", f"drive-{target}"


def _unit_from_target(target: str, el: etree._Element) -> int:
    letters = target.lstrip("hsv").lstrip("d")
    if not letters.isalpha():
        raise XMLError(f"{where(el)}: target dev '{target}' does not end in a drive letter")
    unit = 0
    for ch in letters:
        unit = unit * 26 + (ord(ch) - ord("a") + 1)
    return unit - 1


def add_disk(ctx: BuildContext, disk: etree._Element) -> None:
    check_children(
        disk,
        {
            "driver",
            "source",
            "target",
            "readonly",
            "shareable",
            "boot",
            "address",
            "serial",
            "alias",
        },
    )
    disk_type = allowed(disk, "type", ("file", "block"), "file")
    device = allowed(disk, "device", ("disk", "cdrom"), "disk")
    target_el = first_child(disk, "target")
    if target_el is None or not target_el.get("dev"):
        raise XMLError(f"{where(disk)} has no <target dev=...>")
    target = target_el.get("dev", "")
    default_bus = BUS_BY_PREFIX.get(target[:3] if target.startswith("xvd") else target[:2], "ide")
    bus = allowed(target_el, "bus", ("virtio", "sata", "ide", "scsi"), default_bus)
    driver = first_child(disk, "driver")
    fmt, cache, aio, discard = "raw", "default", "threads", "unmap"
    if driver is not None:
        allowed(driver, "name", ("qemu",), "qemu")
        fmt = allowed(driver, "type", ("raw", "qcow2"), "raw")
        cache = allowed(driver, "cache", tuple(CACHE_MODES), "default")
        aio = allowed(driver, "io", ("threads", "native", "io_uring"), "threads")
        discard = allowed(driver, "discard", ("unmap", "ignore"), "unmap")
        for attr in driver.attrib:
            if attr not in DRIVER_ATTRIBUTES:
                raise unsupported(driver, f"attribute '{attr}'")
    readonly = first_child(disk, "readonly") is not None or device == "cdrom"
    source = first_child(disk, "source")
    path = None
    if source is not None:
        path = source.get("file" if disk_type == "file" else "dev")
    if path is None and device == "disk":
        raise XMLError(
            f"{where(disk)}: a disk needs <source {'file' if disk_type == 'file' else 'dev'}=...>"
        )

    storage, node = node_names(target)
    direct, no_flush, write_cache = CACHE_MODES[cache]
    if aio == "native" and not direct:
        raise unsupported(
            driver,
            f"io='native' with cache='{cache}' (native I/O needs cache 'none' or 'directsync')",
        )
    if path is not None:
        cache_opts = {"direct": direct, "no-flush": no_flush}
        ctx.add(
            "-blockdev",
            json.dumps(
                {
                    "driver": "file" if disk_type == "file" else "host_device",
                    "filename": path,
                    "node-name": storage,
                    "auto-read-only": True,
                    "discard": discard,
                    "aio": aio,
                    "cache": cache_opts,
                },
                separators=(",", ":"),
            ),
        )
        ctx.add(
            "-blockdev",
            json.dumps(
                {
                    "node-name": node,
                    "read-only": readonly,
                    "driver": fmt,
                    "file": storage,
                    "cache": cache_opts,
                },
                separators=(",", ":"),
            ),
        )

    props = [f"id={bus}-disk{ctx.count('disk-' + bus)}"]
    if path is not None:
        props.append(f"drive={node}")
    if device == "disk":
        props.append(f"write-cache={'on' if write_cache else 'off'}")
    serial = child_text(disk, "serial")
    if serial:
        props.append(f"serial={serial}")
    boot = first_child(disk, "boot")
    if boot is not None:
        props.append(f"bootindex={integer(boot, 'order')}")
    unit = _unit_from_target(target, target_el)
    address = first_child(disk, "address")
    if address is not None and address.get("type") == "drive":
        unit = integer(address, "unit", 0) + 2 * integer(address, "bus", 0)
        if bus == "scsi":
            unit = integer(address, "unit", 0)
    if bus == "virtio":
        if device == "cdrom":
            raise unsupported(target_el, "a cdrom on the virtio bus")
        ctx.add("-device", ",".join(["virtio-blk-pci", ctx.pci_address(disk, where(disk)), *props]))
    elif device == "disk" and readonly and bus in ("ide", "sata"):
        raise unsupported(
            disk, f"a read-only hard disk on the {bus} bus (QEMU cannot; use virtio or scsi)"
        )
    elif bus == "ide":
        if is_q35(ctx.machine):
            raise unsupported(target_el, "the IDE bus on a q35 machine (use sata)")
        if unit > 3:
            raise unsupported(target_el, f"IDE unit {unit} (at most 4 IDE drives)")
        kind = "ide-cd" if device == "cdrom" else "ide-hd"
        ctx.add("-device", ",".join([kind, f"bus=ide.{unit // 2}", f"unit={unit % 2}", *props]))
    elif bus == "sata":
        if unit > 5:
            raise unsupported(target_el, f"SATA port {unit} (6 ports per controller)")
        kind = "ide-cd" if device == "cdrom" else "ide-hd"
        ctx.add("-device", ",".join([kind, f"bus={_sata_bus(ctx)}.{unit}", *props]))
    else:
        kind = "scsi-cd" if device == "cdrom" else "scsi-hd"
        _ensure_scsi(ctx)
        ctx.add(
            "-device",
            ",".join([kind, "bus=scsi0.0", "channel=0", f"scsi-id={unit}", "lun=0", *props]),
        )


def _sata_bus(ctx: BuildContext) -> str:
    """q35 has its AHCI built in (QEMU id ``ide``); i440fx gets an ``ich9-ahci`` card."""
    if is_q35(ctx.machine):
        return "ide"
    if "sata0" not in ctx.counters:
        ctx.counters["sata0"] = 1
        ctx.add("-device", f"ich9-ahci,id=sata0,{ctx.next_pci('sata0')}")
    return "sata0"


def _ensure_scsi(
    ctx: BuildContext, model: str = DEFAULT_SCSI_MODEL, placement: str | None = None
) -> None:
    if "scsi0" in ctx.counters:
        return
    ctx.counters["scsi0"] = 1
    ctx.add("-device", f"{SCSI_MODELS[model]},id=scsi0,{placement or ctx.next_pci('scsi0')}")


def add_storage_controller(ctx: BuildContext, ctrl: etree._Element) -> None:
    """``<controller type='ide|sata|scsi'>``: index 0 only."""
    kind = ctrl.get("type")
    index = integer(ctrl, "index", 0)
    if index != 0:
        raise unsupported(ctrl, f"a second {kind} controller (index {index})")
    if kind == "ide":
        if is_q35(ctx.machine):
            raise unsupported(ctrl, "an IDE controller on a q35 machine")
        ctx.builtin_address(ctrl, PIIX3_IDE, "the IDE controller")
        return  # the PIIX3's, always there
    if kind == "sata":
        if is_q35(ctx.machine):
            ctx.builtin_address(ctrl, ICH9_SATA, "the SATA controller")
        elif "sata0" not in ctx.counters:
            ctx.counters["sata0"] = 1
            ctx.add("-device", f"ich9-ahci,id=sata0,{ctx.pci_address(ctrl, where(ctrl))}")
        return
    model = allowed(ctrl, "model", tuple(SCSI_MODELS), DEFAULT_SCSI_MODEL)
    _ensure_scsi(ctx, model, ctx.pci_address(ctrl, where(ctrl)))
