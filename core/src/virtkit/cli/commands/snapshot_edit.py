"""``snapshot-edit``: change a snapshot's metadata in an editor, as ``virsh snapshot-edit``
does (the edited XML redefines the snapshot)."""

from __future__ import annotations

import click

from virtkit.cli.commands.domain_edit import edit_xml
from virtkit.cli.commands.domain_info import domain_argument
from virtkit.cli.commands.snapshot_query import snapshot_argument
from virtkit.cli.session import CommandFailed, Session
from virtkit.constants import DomainSnapshotCreateFlags, DomainXMLFlags
from virtkit.xml import parse_snapshot


@click.command("snapshot-edit")
@domain_argument
@snapshot_argument
@click.option("--current", is_flag=True, help="also set edited snapshot as current")
@click.option("--rename", is_flag=True, help="allow renaming an existing snapshot")
@click.option("--clone", is_flag=True, help="allow cloning to new name")
@click.pass_obj
def cmd_snapshot_edit(
    session: Session, domain: str, snapshot: str | None, current: bool, rename: bool, clone: bool
) -> None:
    """Edit a snapshot's XML in $VISUAL or $EDITOR, then redefine it.

    A new name needs --rename (the snapshot's metadata moves to it; not for a snapshot with
    children) or --clone (a second snapshot's metadata is made); without either, nothing is
    redefined."""
    if rename and clone:
        raise CommandFailed("--rename and --clone are mutually exclusive")
    dom = session.domain(domain)
    snap = session.snapshot(dom, snapshot, current and snapshot is None)
    name = snap.get_name()
    flags = DomainSnapshotCreateFlags.REDEFINE
    if current or (snap.is_current() and not clone):
        flags |= DomainSnapshotCreateFlags.CURRENT

    def redefine(edited: str) -> str:
        new_name = parse_snapshot(edited).name or name
        if new_name != name and not (rename or clone):
            raise CommandFailed(f"Must use --rename or --clone to change {name} to {new_name}")
        if new_name != name and rename and snap.num_children():
            raise CommandFailed(
                f"cannot rename snapshot {name}: its children name it as their parent"
            )
        dom.snapshot_create_xml(edited, flags)
        if new_name == name:
            return f"Snapshot {name} edited.\n"
        if clone:
            return f"Snapshot {name} cloned to {new_name}.\n"
        snap.delete(metadata_only=True)
        return f"Snapshot {name} renamed to {new_name}.\n"

    # (a snapshot's XML takes the domain XML's SECURE flag: libvirt gives both the value 1)
    edit_xml(f"Snapshot {name}", lambda: snap.get_xml_desc(DomainXMLFlags.SECURE), redefine)
