"""Making and unmaking domains: ``define``, ``undefine``, ``create``, ``domrename``,
``autostart``."""

from __future__ import annotations

import click

from virtkit.cli.commands.console import attach_console, console_option
from virtkit.cli.commands.domain_info import domain_argument
from virtkit.cli.session import CommandFailed, Session, failing


def read_file(path: str) -> str:
    """A file's text, or virsh's error naming the file."""
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else str(exc)
        raise CommandFailed(f"Failed to open file '{path}': {reason}") from exc


@click.command("define")
@click.argument("file", metavar="FILE")
@click.option("--validate", is_flag=True, help="validate the XML against the schema")
@click.pass_obj
def cmd_define(session: Session, file: str, validate: bool) -> None:
    """Define (but don't start) a domain from an XML file."""
    xml = read_file(file)
    with failing(f"Failed to define domain from {file}"):
        dom = session.conn.define_xml(xml, validate=validate)
    click.echo(f"Domain '{dom.name()}' defined from {file}\n")


@click.command("create")
@click.argument("file", metavar="FILE")
@click.option("--paused", is_flag=True, help="leave the guest paused after creation")
@click.option(
    "--autodestroy", is_flag=True, help="automatically destroy the guest when virtkit exits"
)
@click.option("--validate", is_flag=True, help="validate the XML against the schema")
@console_option
@click.pass_obj
def cmd_create(
    session: Session, file: str, paused: bool, autodestroy: bool, validate: bool, console: bool
) -> None:
    """Create and start a transient domain from an XML file."""
    xml = read_file(file)
    with failing(f"Failed to create domain from {file}"):
        dom = session.conn.create_xml(
            xml, paused=paused, autodestroy=autodestroy, validate=validate
        )
    click.echo(f"Domain '{dom.name()}' created from {file}\n")
    if console:
        attach_console(dom)


@click.command("undefine")
@domain_argument
@click.option(
    "--snapshots-metadata", is_flag=True, help="remove all domain snapshot metadata, if inactive"
)
@click.option("--managed-save", is_flag=True, help="remove domain managed state file")
@click.option("--nvram", is_flag=True, help="remove nvram file")
@click.option("--keep-nvram", is_flag=True, help="keep nvram file")
@click.pass_obj
def cmd_undefine(
    session: Session,
    domain: str,
    snapshots_metadata: bool,
    managed_save: bool,
    nvram: bool,
    keep_nvram: bool,
) -> None:
    """Remove a domain's persistent configuration (a running domain becomes transient)."""
    if nvram and keep_nvram:
        raise CommandFailed("Options --nvram and --keep-nvram are mutually exclusive")
    dom = session.domain(domain)
    with failing(f"Failed to undefine domain '{dom.name()}'"):
        dom.undefine_flags(
            snapshots_metadata=snapshots_metadata,
            managed_save=managed_save,
            nvram=nvram,
            keep_nvram=keep_nvram,
        )
    click.echo(f"Domain '{dom.name()}' has been undefined\n")


@click.command("domrename")
@domain_argument
@click.argument("new_name", metavar="NEW_NAME")
@click.pass_obj
def cmd_domrename(session: Session, domain: str, new_name: str) -> None:
    """Rename an inactive domain (its UUID stays)."""
    dom = session.domain(domain)
    with failing(f"Failed to rename domain '{dom.name()}'"):
        dom.rename(new_name)
    click.echo("Domain successfully renamed\n")


@click.command("autostart")
@domain_argument
@click.option("--disable", is_flag=True, help="disable autostarting")
@click.pass_obj
def cmd_autostart(session: Session, domain: str, disable: bool) -> None:
    """Start a domain when the host (or its hypervisor service) starts."""
    dom = session.domain(domain)
    verb = "unmark" if disable else "mark"
    with failing(f"Failed to {verb} domain '{dom.name()}' as autostarted"):
        dom.set_autostart(not disable)
    click.echo(f"Domain '{dom.name()}' {verb}ed as autostarted\n")
