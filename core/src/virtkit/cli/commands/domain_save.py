"""Saving a running domain's memory: ``save``, ``restore``, ``managedsave``,
``managedsave-remove``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from virtkit.cli.commands.domain_define import read_file
from virtkit.cli.commands.domain_info import domain_argument
from virtkit.cli.progress import progress_bar
from virtkit.cli.session import Session, failing
from virtkit.constants import DomainSaveRestoreFlags


def state_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--running`` / ``--paused``: the state the domain resumes in (default: as it was
    saved), and ``--verbose`` (virsh's switch for progress, which is drawn on a terminal
    anyway)."""
    command = click.option("--verbose", is_flag=True, help="display the progress")(command)
    command = click.option("--paused", is_flag=True, help="be paused on restore")(command)
    return click.option("--running", is_flag=True, help="be running on restore")(command)


def state_flags(running: bool, paused: bool) -> DomainSaveRestoreFlags:
    if running and paused:
        raise click.UsageError("Options --running and --paused are mutually exclusive")
    if running:
        return DomainSaveRestoreFlags.RUNNING
    return DomainSaveRestoreFlags.PAUSED if paused else DomainSaveRestoreFlags.NONE


xml_option = click.option(
    "--xml", "xml_file", metavar="FILE", help="a domain XML FILE to use instead of the saved one"
)


@click.command("save")
@domain_argument
@click.argument("file", metavar="FILE")
@xml_option
@state_options
@click.pass_obj
def cmd_save(
    session: Session,
    domain: str,
    file: str,
    xml_file: str | None,
    running: bool,
    paused: bool,
    verbose: bool,
) -> None:
    """Save a running domain's state to FILE and stop it."""
    flags = state_flags(running, paused)
    xml = read_file(xml_file) if xml_file else None
    dom = session.domain(domain)
    with failing(f"Failed to save domain '{dom.name()}' to {file}"), progress_bar("Save") as cb:
        dom.save(file, xml, flags, progress=cb)
    click.echo(f"\nDomain '{dom.name()}' saved to {file}\n")


@click.command("restore")
@click.argument("file", metavar="FILE")
@xml_option
@state_options
@click.pass_obj
def cmd_restore(
    session: Session, file: str, xml_file: str | None, running: bool, paused: bool, verbose: bool
) -> None:
    """Start the domain saved in FILE."""
    flags = state_flags(running, paused)
    xml = read_file(xml_file) if xml_file else None
    with failing(f"Failed to restore domain from {file}"), progress_bar("Restore") as cb:
        session.conn.restore(file, xml, flags, progress=cb)
    click.echo(f"Domain restored from {file}\n")


@click.command("managedsave")
@domain_argument
@state_options
@click.pass_obj
def cmd_managedsave(
    session: Session, domain: str, running: bool, paused: bool, verbose: bool
) -> None:
    """Save a running domain to an image its next start resumes from."""
    flags = state_flags(running, paused)
    dom = session.domain(domain)
    with failing(f"Failed to save domain '{dom.name()}' state"), progress_bar("Managed save") as cb:
        dom.managed_save(flags, progress=cb)
    click.echo(f"\nDomain '{dom.name()}' state saved by virtkit\n")


@click.command("managedsave-remove")
@domain_argument
@click.pass_obj
def cmd_managedsave_remove(session: Session, domain: str) -> None:
    """Delete a domain's managed save image, so its next start boots afresh."""
    dom = session.domain(domain)
    if not dom.has_managed_save_image():
        click.echo(f"Domain '{dom.name()}' has no manage save image; removal skipped")
        return
    with failing(f"Failed to remove managed save image for domain '{dom.name()}'"):
        dom.managed_save_remove()
    click.echo(f"Removed managedsave image for domain '{dom.name()}'")
