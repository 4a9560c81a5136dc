"""The connection and its host: ``capabilities``, ``hostname``, ``uri``, ``version``."""

from __future__ import annotations

import click

from virtkit.cli.commands.domain_info import print_xml
from virtkit.cli.session import Session


def version_text(version: int) -> str:
    """libvirt's encoded version (``major * 1_000_000 + minor * 1_000 + micro``) as x.y.z."""
    return f"{version // 1_000_000}.{version // 1_000 % 1_000}.{version % 1_000}"


@click.command("capabilities")
@click.pass_obj
def cmd_capabilities(session: Session) -> None:
    """Print the host's capabilities XML."""
    print_xml(session.conn.get_capabilities())


@click.command("hostname")
@click.pass_obj
def cmd_hostname(session: Session) -> None:
    """Print the name of the host the connection manages."""
    click.echo(session.conn.get_hostname() + "\n")


@click.command("uri")
@click.pass_obj
def cmd_uri(session: Session) -> None:
    """Print the connection's URI."""
    click.echo(session.conn.get_uri() + "\n")


@click.command("version")
@click.pass_obj
def cmd_version(session: Session) -> None:
    """Print virtkit's and the hypervisor's versions."""
    from virtkit import __version__

    conn = session.conn
    kind = conn.get_type()
    lib = version_text(conn.get_lib_version())
    click.echo(f"Compiled against library: virtkit {__version__}")
    click.echo(f"Using library: virtkit {lib}")
    click.echo(f"Using API: {kind} {lib}")
    click.echo(f"Running hypervisor: {kind} {version_text(conn.get_version())}\n")
