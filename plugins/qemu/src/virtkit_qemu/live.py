"""The live XML of a running domain: its config plus what QEMU chose at start (the domain id,
the pty of each serial port, the VNC port)."""

from __future__ import annotations

from lxml import etree
from virtkit.xml.parser import parse_root

from virtkit_qemu.qmp import Monitor


def live_xml(config_xml: str, domain_id: int, mon: Monitor) -> str:
    root = parse_root(config_xml, "domain")
    root.set("id", str(domain_id))
    ptys = {
        c["label"]: c["filename"].removeprefix("pty:")
        for c in mon.execute("query-chardev")
        if str(c.get("filename", "")).startswith("pty:")
    }
    devices = root.find("devices")
    if devices is not None:
        serials = devices.findall("serial")
        for index, serial in enumerate(serials):
            _set_pty(serial, ptys.get(f"charserial{index}"))
        for index, console in enumerate(devices.findall("console")):
            target = console.find("target")
            if target is None or target.get("type", "serial") == "serial":
                _set_pty(console, ptys.get("charserial0"))
            else:
                _set_pty(console, ptys.get(f"charconsole{index}"))
        graphics = devices.find("graphics[@type='vnc']")
        if graphics is not None and graphics.get("autoport", "yes") == "yes":
            vnc = mon.execute("query-vnc")
            if vnc.get("service"):
                graphics.set("port", str(vnc["service"]))
    return str(etree.tostring(root, encoding="unicode")) + "\n"


def _set_pty(el: etree._Element, path: str | None) -> None:
    if path is None or el.get("type", "pty") != "pty":
        return
    el.set("tty", path)
    source = el.find("source")
    if source is None:
        source = etree.Element("source")
        el.insert(0, source)
    source.set("path", path)


def serial_pty(live: str) -> str | None:
    """The pty of the domain's first serial port or console, for ``virsh console``."""
    root = parse_root(live, "domain")
    for tag in ("serial", "console"):
        el = root.find(f"devices/{tag}")
        if el is not None and el.get("tty"):
            return str(el.get("tty"))
    return None
