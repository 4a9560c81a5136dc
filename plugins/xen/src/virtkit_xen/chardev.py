"""Xen's character device specs (``serial = "tcp:host:port"``, ``parallel = "pty"``...) to
and from the ``<serial>``/``<parallel>`` elements of domain XML."""

from __future__ import annotations

from lxml import etree

from virtkit_xen.cfgfile import ConfigSyntaxError

_PLAIN = ("pty", "null", "stdio", "vc")
_PATHS = {"file": "file", "pipe": "pipe"}


def parse_chardev(tag: str, spec: str, port: int) -> etree._Element:
    """The ``<tag>`` element (serial or parallel) of the spec ``spec``."""
    el = etree.Element(tag)
    kind, _, rest = spec.partition(":")
    if spec in _PLAIN:
        el.set("type", spec)
    elif spec.startswith("/"):
        el.set("type", "dev")
        etree.SubElement(el, "source", path=spec)
    elif kind in _PATHS:
        el.set("type", _PATHS[kind])
        etree.SubElement(el, "source", path=rest)
    elif kind in ("tcp", "telnet"):
        el.set("type", "tcp")
        address, *options = rest.split(",")
        host, _, service = address.rpartition(":")
        source = etree.SubElement(el, "source", mode="bind" if "server" in options else "connect")
        if host:
            source.set("host", host)
        source.set("service", service)
        etree.SubElement(el, "protocol", type="telnet" if kind == "telnet" else "raw")
    elif kind == "udp":
        el.set("type", "udp")
        connect, _, bind = rest.partition("@")
        host, _, service = connect.rpartition(":")
        source = etree.SubElement(el, "source", mode="connect")
        if host:
            source.set("host", host)
        source.set("service", service)
        if bind:
            host, _, service = bind.rpartition(":")
            source = etree.SubElement(el, "source", mode="bind")
            if host:
                source.set("host", host)
            source.set("service", service)
    elif kind == "unix":
        el.set("type", "unix")
        path, *options = rest.split(",")
        etree.SubElement(el, "source", mode="bind" if "server" in options else "connect", path=path)
    else:
        raise ConfigSyntaxError(f"unknown {tag} device type in {spec!r}")
    etree.SubElement(el, "target", port=str(port))
    return el


def format_chardev(el: etree._Element) -> str:
    """The spec of a ``<serial>``/``<parallel>`` element."""
    kind = el.get("type") or "pty"
    sources = el.findall("source")
    if kind in _PLAIN:
        return kind
    if kind == "dev":
        return str(sources[0].get("path", ""))
    if kind in ("file", "pipe"):
        return f"{kind}:{sources[0].get('path', '')}"
    if kind == "tcp":
        protocol = el.find("protocol")
        prefix = "telnet" if protocol is not None and protocol.get("type") == "telnet" else "tcp"
        source = sources[0]
        spec = f"{prefix}:{source.get('host', '')}:{source.get('service', '')}"
        return spec + (",server,nowait" if source.get("mode") == "bind" else "")
    if kind == "udp":
        connect = next((s for s in sources if s.get("mode", "connect") == "connect"), None)
        bind = next((s for s in sources if s.get("mode") == "bind"), None)
        spec = "udp:"
        if connect is not None:
            spec += f"{connect.get('host', '')}:{connect.get('service', '')}"
        if bind is not None:
            spec += f"@{bind.get('host', '')}:{bind.get('service', '')}"
        return spec
    if kind == "unix":
        source = sources[0]
        return f"unix:{source.get('path', '')}" + (
            ",server,nowait" if source.get("mode") == "bind" else ""
        )
    raise ConfigSyntaxError(f"character device type {kind!r} has no Xen config form")
