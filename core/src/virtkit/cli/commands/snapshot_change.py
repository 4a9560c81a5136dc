"""Acting on a snapshot: ``snapshot-revert`` and ``snapshot-delete``."""

from __future__ import annotations

import click

from virtkit.cli.commands.domain_info import domain_argument
from virtkit.cli.commands.snapshot_query import snapshot_argument
from virtkit.cli.session import Session, failing


@click.command("snapshot-revert")
@domain_argument
@snapshot_argument
@click.option("--current", is_flag=True, help="revert to current snapshot")
@click.option("--running", is_flag=True, help="after reverting, change state to running")
@click.option("--paused", is_flag=True, help="after reverting, change state to paused")
@click.option("--force", is_flag=True, help="try harder on risky reverts")
@click.pass_obj
def cmd_snapshot_revert(
    session: Session,
    domain: str,
    snapshot: str | None,
    current: bool,
    running: bool,
    paused: bool,
    force: bool,
) -> None:
    """Bring a domain back to a snapshot's state."""
    dom = session.domain(domain)
    snap = session.snapshot(dom, snapshot, current)
    with failing(f"Failed to revert snapshot {snap.get_name()}"):
        dom.revert_to_snapshot(snap, running=running, paused=paused, force=force)
    click.echo(f"Domain snapshot {snap.get_name()} reverted\n")


@click.command("snapshot-delete")
@domain_argument
@snapshot_argument
@click.option("--current", is_flag=True, help="delete current snapshot")
@click.option("--children", is_flag=True, help="delete snapshot and all children")
@click.option("--children-only", is_flag=True, help="delete children but not snapshot")
@click.option(
    "--metadata",
    is_flag=True,
    help="delete only libvirt metadata, leaving snapshot contents behind",
)
@click.pass_obj
def cmd_snapshot_delete(
    session: Session,
    domain: str,
    snapshot: str | None,
    current: bool,
    children: bool,
    children_only: bool,
    metadata: bool,
) -> None:
    """Delete a snapshot (and with --children, everything below it)."""
    snap = session.snapshot(session.domain(domain), snapshot, current)
    name = snap.get_name()
    with failing(f"Failed to delete snapshot {name}"):
        snap.delete(children=children, children_only=children_only, metadata_only=metadata)
    what = f"{name} children" if children_only else name
    click.echo(f"Domain snapshot {what} deleted\n")
