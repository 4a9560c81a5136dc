"""The live XML of a running domain: its config plus what QEMU chose at start (the domain id,
the pty of each serial port, the VNC port)."""

from __future__ import annotations

from lxml import etree
from virtkit.errors import OperationInvalidError
from virtkit.xml.parser import parse_root
from virtkit.xml.serialize import to_string

from virtkit_qemu.qmp import Monitor


def live_xml(config_xml: str, domain_id: int, mon: Monitor) -> str:
    """``config_xml`` as it runs: with its id, and what QEMU chose (asked only when the
    definition leaves something to it)."""
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
            target = console.find("target")
            if target is None or target.get("type", "serial") == "serial":
                _set_pty(console, ptys.get("charserial0"))
            else:
                _set_pty(console, ptys.get(f"charconsole{index}"))
            _set_alias(console, f"console{index}")
        graphics = devices.find("graphics[@type='vnc']")
        if graphics is not None and graphics.get("autoport", "yes") == "yes":
            vnc = mon.execute("query-vnc")
            if vnc.get("service"):
                graphics.set("port", str(vnc["service"]))
    return to_string(root)


def _has_pty(devices: etree._Element) -> bool:
    """Whether a serial port or console of ``devices`` is a pty (QEMU picks its path)."""
    return any(el.get("type", "pty") == "pty" for el in devices.iterchildren("serial", "console"))


def _ptys(mon: Monitor) -> dict[str, str]:
    """Character device label -> the pty QEMU opened for it."""
    return {
        c["label"]: c["filename"].removeprefix("pty:")
        for c in mon.execute("query-chardev")
        if str(c.get("filename", "")).startswith("pty:")
    }


def _set_pty(el: etree._Element, path: str | None) -> None:
    if path is None or el.get("type", "pty") != "pty":
        return
    el.set("tty", path)
    source = el.find("source")
    if source is None:
        source = etree.Element("source")
        el.insert(0, source)
    source.set("path", path)


def _set_alias(el: etree._Element, name: str) -> None:
    alias = el.find("alias")
    if alias is None:
        alias = etree.SubElement(el, "alias")
    alias.set("name", name)


def console_path(live: str, dev_name: str | None) -> str:
    """Where the console ``dev_name`` (an alias such as ``serial0`` or ``console0``; the first
    console or serial port when ``None``) can be reached: its pty, or its unix socket.

    :raises OperationInvalidError: no such device, or one that cannot be attached to.
    """
    root = parse_root(live, "domain")
    candidates = root.findall("devices/console") + root.findall("devices/serial")
    if dev_name is not None:
        candidates = [c for c in candidates if c.find(f"alias[@name='{dev_name}']") is not None]
    if not candidates:
        what = f"device '{dev_name}'" if dev_name else "console or serial device"
        raise OperationInvalidError(f"the domain has no {what}")
    device = candidates[0]
    kind = device.get("type", "pty")
    source = device.find("source")
    path = source.get("path") if source is not None else None
    if kind == "pty" and device.get("tty"):
        return str(device.get("tty"))
    if kind == "unix" and path and source is not None and source.get("mode", "bind") == "bind":
        return str(path)
    raise OperationInvalidError(
        f"the domain's {etree.QName(device).localname} of type '{kind}' cannot be attached to "
        "(only pty and listening unix sockets)"
    )
