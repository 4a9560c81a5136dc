"""``<serial>`` and ``<console>`` to ``-chardev`` + ``-device isa-serial`` / ``virtconsole``."""

from __future__ import annotations

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

CHARDEV_TYPES = ("pty", "file", "unix", "null", "tcp")


def chardev(ctx: BuildContext, el: etree._Element, alias: str) -> str:
    """Add the ``-chardev`` backing ``el`` under id ``char<alias>``; return that id."""
    kind = allowed(el, "type", CHARDEV_TYPES, "pty")
    char_id = f"char{alias}"
    source = first_child(el, "source")
    opts = [kind if kind != "unix" else "socket", f"id={char_id}"]
    if kind in ("file", "unix"):
        path = source.get("path") if source is not None else None
        if not path:
            raise XMLError(f"{where(el)}: type '{kind}' needs <source path=...>")
        opts.append(f"path={path}")
        if kind == "file" and source is not None and source.get("append") == "on":
            opts.append("append=on")
    if kind == "tcp":
        if source is None or not source.get("service"):
            raise XMLError(f"{where(el)}: type 'tcp' needs <source host=... service=...>")
        opts += [f"host={source.get('host', '127.0.0.1')}", f"port={source.get('service')}"]
    if kind in ("unix", "tcp"):
        mode = (
            allowed(source, "mode", ("bind", "connect"), "bind") if source is not None else "bind"
        )
        if mode == "bind":
            opts += ["server=on", "wait=off"]
    log = first_child(el, "log")
    if log is not None:
        opts.append(f"logfile={log.get('file')}")
        if log.get("append") == "on":
            opts.append("logappend=on")
    ctx.add("-chardev", ",".join(opts))
    return char_id


def add_serial(ctx: BuildContext, serial: etree._Element) -> None:
    check_children(serial, {"source", "target", "log", "alias", "address"})
    target = first_child(serial, "target")
    port = (
        integer(target, "port", len(ctx.serial_aliases))
        if target is not None
        else len(ctx.serial_aliases)
    )
    if target is not None:
        allowed(target, "type", ("isa-serial",), "isa-serial")
        model = first_child(target, "model")
        if model is not None:
            allowed(model, "name", ("isa-serial",), "isa-serial")
    alias = f"serial{port}"
    char_id = chardev(ctx, serial, alias)
    ctx.add("-device", f"isa-serial,chardev={char_id},id={alias},index={port}")
    ctx.serial_aliases.append(alias)


def add_console(ctx: BuildContext, console: etree._Element, serial_count: int) -> None:
    """A serial console is the first ``<serial>`` (libvirt's rule); only without one does it
    make a serial port. A virtio console is a ``virtconsole`` on a virtio-serial bus."""
    check_children(console, {"source", "target", "log", "alias"})
    target = first_child(console, "target")
    kind = (
        allowed(target, "type", ("serial", "virtio"), "serial") if target is not None else "serial"
    )
    if kind == "serial":
        if serial_count:
            return
        add_serial(ctx, console)
        return
    index = ctx.count("console")
    if "virtio-serial0" not in ctx.counters:
        ctx.counters["virtio-serial0"] = 1
        ctx.add("-device", f"virtio-serial-pci,id=virtio-serial0,{ctx.next_pci('virtio-serial0')}")
    char_id = chardev(ctx, console, f"console{index}")
    ctx.add("-device", f"virtconsole,bus=virtio-serial0.0,chardev={char_id},id=console{index}")


def reject_parallel(el: etree._Element) -> None:
    raise unsupported(el, "parallel ports")
