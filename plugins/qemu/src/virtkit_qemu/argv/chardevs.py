"""``<serial>``, ``<console>`` and ``<channel>`` to ``-chardev`` + ``-device isa-serial`` /
``virtconsole`` / ``virtserialport``."""

from __future__ import annotations

from lxml import etree
from virtkit.errors import ConfigUnsupportedError, XMLError
from virtkit.xml.canonical.order import first_child

from virtkit_qemu.argv.context import (
    BuildContext,
    allowed,
    check_children,
    integer,
    unsupported,
    where,
)
from virtkit_qemu.argv.defaults import SOCKET_PATH_MAX

CHARDEV_TYPES = ("pty", "file", "unix", "null", "tcp")


def chardev(ctx: BuildContext, el: etree._Element, alias: str, *, path: str | None = None) -> str:
    """Add the ``-chardev`` backing ``el`` under id ``char<alias>``; return that id. ``path``:
    the socket or file when ``el`` names none."""
    kind = allowed(el, "type", CHARDEV_TYPES, "pty")
    char_id = f"char{alias}"
    source = first_child(el, "source")
    opts = [kind if kind != "unix" else "socket", f"id={char_id}"]
    if kind in ("file", "unix"):
        path = (source.get("path") if source is not None else None) or path
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
    add_virtio_serial(ctx)
    char_id = chardev(ctx, console, f"console{index}")
    ctx.add("-device", f"virtconsole,bus=virtio-serial0.0,chardev={char_id},id=console{index}")


def add_virtio_serial(ctx: BuildContext, placement: str | None = None) -> None:
    """The virtio-serial bus ``virtio-serial0``, once: at ``placement`` (from its controller's
    ``<address>``), else on the next free PCI slot."""
    if "virtio-serial0" in ctx.counters:
        return
    ctx.counters["virtio-serial0"] = 1
    placement = placement or ctx.next_pci("virtio-serial0")
    ctx.add("-device", f"virtio-serial-pci,id=virtio-serial0,{placement}")


def add_channel(ctx: BuildContext, channel: etree._Element) -> None:
    """A ``<channel>`` with a virtio target: a port of the virtio-serial bus, named after the
    target (QEMU's guest agent listens on ``org.qemu.guest_agent.0``)."""
    check_children(channel, {"source", "target", "log", "alias", "address"})
    index = ctx.count("channel")
    target = first_child(channel, "target")
    if target is None:
        raise XMLError(f"{where(channel)} has no <target type='virtio'>")
    check_children(target, set())
    allowed(target, "type", ("virtio",), "")
    bus, port = 0, index + 1
    address = first_child(channel, "address")
    if address is not None:
        allowed(address, "type", ("virtio-serial",), "virtio-serial")
        if integer(address, "controller", 0) != 0:
            raise unsupported(address, "virtio-serial controllers other than index 0")
        bus, port = integer(address, "bus", 0), integer(address, "port", port)
    socket = channel_socket(channel, index, ctx.runtime_dir)
    if socket is not None and ctx.runtime_dir is not None and len(socket) > SOCKET_PATH_MAX:
        raise ConfigUnsupportedError(
            f"the socket of {where(channel)} would be {socket} ({len(socket)} bytes, more than "
            f"the {SOCKET_PATH_MAX} of a unix socket): use a shorter root, or give it a "
            "<source mode='bind' path=...>"
        )
    add_virtio_serial(ctx)
    char_id = chardev(ctx, channel, f"channel{index}", path=socket)
    props = [
        f"virtserialport,bus=virtio-serial0.{bus},nr={port},chardev={char_id},id=channel{index}"
    ]
    name = target.get("name")
    if name:
        props.append("name=" + name.replace(",", ",,"))
    ctx.add("-device", ",".join(props))


def channel_socket(channel: etree._Element, index: int, runtime_dir: str | None) -> str | None:
    """Where the unix ``<channel>`` number ``index`` listens when it names no path, as
    libvirt makes one in its channel folder: in the domain's ``runtime_dir``, named after its
    target (or ``channel<index>``). ``None`` for a channel that names its path or is not a
    unix socket. Without ``runtime_dir`` (the check at define), under a stand-in folder.

    :raises XMLError: the target's name cannot name a file."""
    source = first_child(channel, "source")
    if channel.get("type", "pty") != "unix" or (source is not None and source.get("path")):
        return None
    target = first_child(channel, "target")
    name = target.get("name") if target is not None else None
    if name is not None and ("/" in name or name in ("", ".", "..")):
        raise XMLError(f"{where(channel)}: the target name '{name}' cannot name its socket")
    return f"{runtime_dir or '<run-time folder>'}/{name or f'channel{index}'}"


def reject_parallel(el: etree._Element) -> None:
    raise unsupported(el, "parallel ports")
