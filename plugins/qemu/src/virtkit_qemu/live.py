"""The live XML of a running domain: its config plus what was chosen at start (the domain id,
the pty of each serial port, the VNC port, the sockets of unix channels)."""

from __future__ import annotations

import os

from lxml import etree
from virtkit.errors import OperationInvalidError
from virtkit.xml.parser import parse_root
from virtkit.xml.serialize import to_string

from virtkit_qemu.argv.chardevs import channel_socket
from virtkit_qemu.argv.defaults import DEFAULT_VNC_LISTEN
from virtkit_qemu.qmp import Monitor


def live_xml(config_xml: str, domain_id: int, mon: Monitor, runtime_dir: str) -> str:
    """``config_xml`` as it runs: with its id, and what QEMU chose (asked only when the
    definition leaves something to it), and where the unix channels without a path listen
    (in ``runtime_dir``)."""
    root = parse_root(config_xml, "domain")
    root.set("id", str(domain_id))
    devices = root.find("devices")
    if devices is not None:
        ptys = _ptys(mon) if _has_pty(devices) else {}
        for index, serial in enumerate(devices.findall("serial")):
            target = serial.find("target")
            port = target.get("port", str(index)) if target is not None else str(index)
            _set_pty(serial, ptys.get(f"charserial{port}"))
            _set_alias(serial, f"serial{port}")
        for index, console in enumerate(devices.findall("console")):
            # a serial console is the first serial port (libvirt's rule): same pty and alias
            target = console.find("target")
            serial = target is None or target.get("type", "serial") == "serial"
            alias = "serial0" if serial else f"console{index}"
            _set_pty(console, ptys.get(f"char{alias}"), tty=index == 0)
            _set_alias(console, alias)
        for index, channel in enumerate(devices.findall("channel")):
            socket = channel_socket(channel, index, runtime_dir)
            if socket is not None:
                _source(channel).attrib.update({"mode": "bind", "path": socket})
            _set_pty(channel, ptys.get(f"charchannel{index}"))
            _set_alias(channel, f"channel{index}")
        graphics = devices.find("graphics[@type='vnc']")
        if graphics is not None:
            _set_vnc_listen(graphics)
        if graphics is not None and graphics.get("autoport", "yes") == "yes":
            vnc = mon.execute("query-vnc")
            if vnc.get("service"):
                graphics.set("port", str(vnc["service"]))
    return to_string(root)


def with_channel_states(live: str, mon: Monitor) -> str:
    """``live`` with the ``state`` of each virtio channel as QEMU reports it now, as libvirt
    shows it: ``connected`` while the guest holds its port open (a guest agent that runs),
    else ``disconnected``."""
    root = parse_root(live, "domain")
    opened = {c["label"]: c.get("frontend-open") for c in mon.execute("query-chardev")}
    for index, channel in enumerate(root.findall("devices/channel")):
        target = channel.find("target")
        label = f"charchannel{index}"
        if target is not None and target.get("type") == "virtio" and label in opened:
            target.set("state", "connected" if opened[label] else "disconnected")
    return to_string(root)


def migratable_xml(live: str, runtime_dir: str) -> str:
    """The running definition without what was chosen at its start (id, ptys, VNC port and
    default address, the sockets of unix channels in ``runtime_dir``): the destination
    chooses its own."""
    root = parse_root(live, "domain")
    root.attrib.pop("id", None)
    for device in root.iterfind("devices/*"):
        kind = device.get("type", "pty")
        if device.tag in ("serial", "console", "channel") and kind == "pty":
            device.attrib.pop("tty", None)
            for source in device.findall("source"):
                device.remove(source)
        if device.tag == "channel" and kind == "unix":
            for source in device.findall("source"):
                if os.path.dirname(source.get("path", "")) == runtime_dir:
                    device.remove(source)
        if device.tag == "graphics" and device.get("autoport", "yes") == "yes":
            device.attrib.pop("port", None)
        if device.tag == "graphics" and device.get("listen") == DEFAULT_VNC_LISTEN:
            device.attrib.pop("listen")
            for listen in device.iterfind("listen[@type='address']"):
                listen.attrib.pop("address", None)
    return to_string(root)


def _set_vnc_listen(graphics: etree._Element) -> None:
    """A VNC console whose definition names no address shows the one QEMU listens on, as
    libvirt's live XML does (``listen`` and the first ``<listen type='address'>``)."""
    listen = graphics.find("listen")
    if listen is None or listen.get("type") != "address" or listen.get("address"):
        return
    listen.set("address", DEFAULT_VNC_LISTEN)
    graphics.set("listen", DEFAULT_VNC_LISTEN)


def _has_pty(devices: etree._Element) -> bool:
    """Whether a serial port, console or channel of ``devices`` is a pty (QEMU picks its
    path)."""
    chardevs = devices.iterchildren("serial", "console", "channel")
    return any(el.get("type", "pty") == "pty" for el in chardevs)


def _ptys(mon: Monitor) -> dict[str, str]:
    """Character device label -> the pty QEMU opened for it."""
    return {
        c["label"]: c["filename"].removeprefix("pty:")
        for c in mon.execute("query-chardev")
        if str(c.get("filename", "")).startswith("pty:")
    }


def _set_pty(el: etree._Element, path: str | None, *, tty: bool = False) -> None:
    """Write where the pty device ``el`` is; ``tty``: in the attribute too (libvirt's legacy
    form, which it keeps for the first console)."""
    if path is None or el.get("type", "pty") != "pty":
        return
    if tty:
        el.set("tty", path)
    _source(el).set("path", path)


def _source(el: etree._Element) -> etree._Element:
    """The device's ``<source>``, made its first child when missing."""
    source = el.find("source")
    if source is None:
        source = etree.Element("source")
        el.insert(0, source)
    return source


def _set_alias(el: etree._Element, name: str) -> None:
    """Give the device ``<alias name=...>``, before its ``<address>`` as libvirt writes it."""
    alias = el.find("alias")
    if alias is None:
        alias = etree.Element("alias")
        address = el.find("address")
        if address is not None:
            address.addprevious(alias)
        else:
            el.append(alias)
    alias.set("name", name)


def console_path(live: str, dev_name: str | None) -> str:
    """Where the console ``dev_name`` (an alias: ``serial0``, ``console1``, ``channel0``...; the
    first console or serial port when ``None``) can be reached: its pty, or its unix socket.

    :raises OperationInvalidError: no such device, or one that cannot be attached to.
    """
    root = parse_root(live, "domain")
    candidates = root.findall("devices/console") + root.findall("devices/serial")
    if dev_name is not None:
        candidates += root.findall("devices/channel")
        candidates = [
            c for c in candidates if any(a.get("name") == dev_name for a in c.iterchildren("alias"))
        ]
    if not candidates:
        what = f"device '{dev_name}'" if dev_name else "console or serial device"
        raise OperationInvalidError(f"the domain has no {what}")
    device = candidates[0]
    kind = device.get("type", "pty")
    source = device.find("source")
    path = source.get("path") if source is not None else None
    if kind == "pty" and path:
        return str(path)
    if kind == "unix" and path and source is not None and source.get("mode", "bind") == "bind":
        return str(path)
    raise OperationInvalidError(
        f"the domain's {etree.QName(device).localname} of type '{kind}' cannot be attached to "
        "(only pty and listening unix sockets)"
    )
