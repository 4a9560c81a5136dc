"""Looking at one snapshot: ``snapshot-info``, ``snapshot-dumpxml``, ``snapshot-current``,
``snapshot-parent``."""

from __future__ import annotations

import click

from virtkit.cli.commands.domain_info import domain_argument, print_xml
from virtkit.cli.output import fields
from virtkit.cli.session import CommandFailed, Session
from virtkit.constants import DomainSnapshotCreateFlags, DomainSnapshotListFlags, DomainXMLFlags
from virtkit.errors import NoSnapshotError

snapshot_argument = click.argument("snapshot", metavar="[SNAPSHOT]", required=False)


@click.command("snapshot-info")
@domain_argument
@snapshot_argument
@click.option("--current", is_flag=True, help="info on current snapshot")
@click.pass_obj
def cmd_snapshot_info(session: Session, domain: str, snapshot: str | None, current: bool) -> None:
    """Show a snapshot's place in the tree and what it holds."""
    dom = session.domain(domain)
    snap = session.snapshot(dom, snapshot, current)
    record = snap.record()
    pairs = [
        ("Name:", record.name),
        ("Domain:", dom.name()),
        ("Current:", "yes" if record.is_current else "no"),
        ("State:", record.state),
        ("Location:", record.location),
        ("Parent:", record.parent or "-"),
        ("Children:", str(snap.num_children())),
        ("Descendants:", str(snap.num_children(DomainSnapshotListFlags.DESCENDANTS))),
        ("Metadata:", "yes" if record.has_metadata else "no"),
    ]
    click.echo(fields(pairs, 15))


@click.command("snapshot-dumpxml")
@domain_argument
@click.argument("snapshot", metavar="SNAPSHOT")
@click.option(
    "--security-info", is_flag=True, help="include security sensitive information in XML dump"
)
@click.pass_obj
def cmd_snapshot_dumpxml(session: Session, domain: str, snapshot: str, security_info: bool) -> None:
    """Print a snapshot's XML."""
    snap = session.domain(domain).snapshot_lookup_by_name(snapshot)
    print_xml(snap.get_xml_desc(DomainXMLFlags.SECURE if security_info else 0))


@click.command("snapshot-current")
@domain_argument
@snapshot_argument
@click.option("--name", is_flag=True, help="list the name, rather than the full xml")
@click.option(
    "--security-info", is_flag=True, help="include security sensitive information in XML dump"
)
@click.pass_obj
def cmd_snapshot_current(
    session: Session, domain: str, snapshot: str | None, name: bool, security_info: bool
) -> None:
    """Print the current snapshot's XML (or name), or make SNAPSHOT the current one."""
    dom = session.domain(domain)
    if snapshot is not None:
        if name or security_info:
            raise CommandFailed("--name and --security-info cannot be used with a snapshot name")
        chosen = dom.snapshot_lookup_by_name(snapshot)
        dom.snapshot_create_xml(
            chosen.get_xml_desc(DomainXMLFlags.SECURE),
            DomainSnapshotCreateFlags.REDEFINE | DomainSnapshotCreateFlags.CURRENT,
        )
        click.echo(f"Snapshot {snapshot} set as current\n")
        return
    try:
        snap = dom.snapshot_current()
    except NoSnapshotError as exc:
        raise CommandFailed(f"domain '{dom.name()}' has no current snapshot") from exc
    if name:
        click.echo(snap.get_name())
    else:
        print_xml(snap.get_xml_desc(DomainXMLFlags.SECURE if security_info else 0))


@click.command("snapshot-parent")
@domain_argument
@snapshot_argument
@click.option("--current", is_flag=True, help="find parent of current snapshot")
@click.pass_obj
def cmd_snapshot_parent(session: Session, domain: str, snapshot: str | None, current: bool) -> None:
    """Print the name of a snapshot's parent."""
    snap = session.snapshot(session.domain(domain), snapshot, current)
    parent = snap.record().parent
    if parent is None:
        raise CommandFailed(f"snapshot '{snap.get_name()}' has no parent")
    click.echo(parent)
