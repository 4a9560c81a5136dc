"""Saving a running domain's memory: ``save``, ``restore``, ``managedsave``,
``managedsave-remove``."""

from __future__ import annotations

import click

from virtkit.cli.commands.domain_info import domain_argument
from virtkit.cli.progress import progress_bar
from virtkit.cli.session import Session, failing


@click.command("save")
@domain_argument
@click.argument("file", metavar="FILE")
@click.pass_obj
def cmd_save(session: Session, domain: str, file: str) -> None:
    """Save a running domain's state to FILE and stop it."""
    dom = session.domain(domain)
    with failing(f"Failed to save domain '{dom.name()}' to {file}"), progress_bar("Save") as cb:
        dom.save(file, progress=cb)
    click.echo(f"\nDomain '{dom.name()}' saved to {file}\n")


@click.command("restore")
@click.argument("file", metavar="FILE")
@click.pass_obj
def cmd_restore(session: Session, file: str) -> None:
    """Start the domain saved in FILE."""
    with failing(f"Failed to restore domain from {file}"), progress_bar("Restore") as cb:
        session.conn.restore(file, progress=cb)
    click.echo(f"Domain restored from {file}\n")


@click.command("managedsave")
@domain_argument
@click.pass_obj
def cmd_managedsave(session: Session, domain: str) -> None:
    """Save a running domain to an image its next start resumes from."""
    dom = session.domain(domain)
    with failing(f"Failed to save domain '{dom.name()}' state"), progress_bar("Managed save") as cb:
        dom.managed_save(progress=cb)
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
