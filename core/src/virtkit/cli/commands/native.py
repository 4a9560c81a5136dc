"""Converting between domain XML and hypervisors' own configuration formats."""

from __future__ import annotations

import click

from virtkit.cli.commands.domain_define import read_file
from virtkit.cli.session import Session, failing


@click.command("domxml-from-native")
@click.argument("format_", metavar="FORMAT")
@click.argument("file", metavar="FILE")
@click.pass_obj
def cmd_domxml_from_native(session: Session, format_: str, file: str) -> None:
    """Convert a native configuration FILE (xen-xl, vmware-vmx, lxc-tools...) to domain XML."""
    config = read_file(file)
    with failing(f"Failed to convert {file} from {format_}"):
        xml = session.conn.domain_xml_from_native(format_, config)
    click.echo(xml, nl=not xml.endswith("\n"))


@click.command("domxml-to-native")
@click.argument("format_", metavar="FORMAT")
@click.argument("file", metavar="FILE")
@click.pass_obj
def cmd_domxml_to_native(session: Session, format_: str, file: str) -> None:
    """Convert a domain XML FILE to a native configuration (qemu-argv, xen-xl...)."""
    xml = read_file(file)
    with failing(f"Failed to convert {file} to {format_}"):
        config = session.conn.domain_xml_to_native(format_, xml)
    click.echo(config, nl=not config.endswith("\n"))
