"""A domain's devices as its XML describes them: ``domblklist``, ``domiflist``, ``vncdisplay``,
``ttyconsole`` (any driver: they read the domain XML it returns)."""

from __future__ import annotations

import click
from lxml import etree

from virtkit.cli.commands.domain_info import domain_argument
from virtkit.cli.output import table
from virtkit.cli.session import CommandFailed, Session
from virtkit.constants import DomainXMLFlags
from virtkit.domain import Domain

inactive_option = click.option(
    "--inactive", is_flag=True, help="get inactive rather than running configuration"
)


def _devices(dom: Domain, *, inactive: bool = False) -> etree._Element:
    """The domain's ``<devices>`` (empty when its XML has none)."""
    from virtkit.xml.parser import parse_root

    flags = DomainXMLFlags.INACTIVE if inactive else 0
    root = parse_root(dom.xml_desc(flags), "domain")
    devices = root.find("devices")
    return devices if devices is not None else etree.Element("devices")


def _first(el: etree._Element, *paths: str) -> str:
    """The first of the attributes ``paths`` (``child/@name``) that ``el`` has, else ``-``."""
    for path in paths:
        child, _, name = path.rpartition("/@")
        holder = el.find(child) if child else el
        if holder is not None and holder.get(name):
            return str(holder.get(name))
    return "-"


@click.command("domblklist")
@domain_argument
@inactive_option
@click.option("--details", is_flag=True, help="additionally display the type and device value")
@click.pass_obj
def cmd_domblklist(session: Session, domain: str, inactive: bool, details: bool) -> None:
    """List a domain's block devices: target and source (file, device, volume...)."""
    rows = []
    for disk in _devices(session.domain(domain), inactive=inactive).iterchildren("disk"):
        source = _first(
            disk, "source/@file", "source/@dev", "source/@dir", "source/@name", "source/@volume"
        )
        target = _first(disk, "target/@dev")
        kind, device = disk.get("type", "-"), disk.get("device", "disk")
        rows.append([kind, device, target, source] if details else [target, source])
    headers = ["Type", "Device", "Target", "Source"] if details else ["Target", "Source"]
    click.echo(table(headers, rows), nl=False)


@click.command("domiflist")
@domain_argument
@inactive_option
@click.pass_obj
def cmd_domiflist(session: Session, domain: str, inactive: bool) -> None:
    """List a domain's network interfaces: host device, type, source, model and MAC."""
    rows = [
        [
            _first(iface, "target/@dev"),
            iface.get("type", "-"),
            _first(iface, *(f"source/@{a}" for a in ("bridge", "dev", "network", "name", "path"))),
            _first(iface, "model/@type"),
            _first(iface, "mac/@address"),
        ]
        for iface in _devices(session.domain(domain), inactive=inactive).iterchildren("interface")
    ]
    click.echo(table(["Interface", "Type", "Source", "Model", "MAC"], rows), nl=False)


@click.command("vncdisplay")
@domain_argument
@click.pass_obj
def cmd_vncdisplay(session: Session, domain: str) -> None:
    """Print where a running domain's VNC display listens (``address:display``)."""
    dom = session.domain(domain)
    if not dom.is_active():
        raise CommandFailed("Domain is not running")
    graphics = _devices(dom).find("graphics[@type='vnc']")
    port = graphics.get("port", "") if graphics is not None else ""
    if not port.lstrip("-").isdigit() or int(port) < 5900:
        raise CommandFailed(f"domain '{domain}' has no VNC display")
    listen = graphics.get("listen") or _first(graphics, "listen[@type='address']/@address")
    if listen in ("-", "0.0.0.0", "::"):  # any address: the display alone, as virsh prints it
        listen = ""
    elif ":" in listen:
        listen = f"[{listen}]"
    click.echo(f"{listen}:{int(port) - 5900}\n")


@click.command("ttyconsole")
@domain_argument
@click.pass_obj
def cmd_ttyconsole(session: Session, domain: str) -> None:
    """Print the pty of a running domain's console."""
    console = _devices(session.domain(domain)).find("console")
    tty = console.get("tty") if console is not None else None
    if not tty:
        raise CommandFailed(f"domain '{domain}' has no console with a pty")
    click.echo(f"{tty}\n")
