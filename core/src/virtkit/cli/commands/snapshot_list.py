"""``snapshot-list``: a domain's snapshots as a table, a tree or names, filtered like virsh's."""

from __future__ import annotations

import time

import click

from virtkit.cli.commands.domain_info import domain_argument
from virtkit.cli.options import combined, exclusive, flag_options
from virtkit.cli.output import table
from virtkit.cli.output import tree as draw_tree
from virtkit.cli.session import CommandFailed, Session
from virtkit.constants import DomainSnapshotListFlags as F

FILTERS = (
    ("leaves", "list only snapshots without children", F.LEAVES),
    ("no-leaves", "list only snapshots that are not leaves (with children)", F.NO_LEAVES),
    ("inactive", "filter by snapshots taken while inactive", F.INACTIVE),
    ("active", "filter by snapshots taken while active (full system snapshots)", F.ACTIVE),
    ("disk-only", "filter by disk-only snapshots", F.DISK_ONLY),
    ("internal", "filter by internal snapshots", F.INTERNAL),
    ("external", "filter by external snapshots", F.EXTERNAL),
)


@click.command("snapshot-list")
@domain_argument
@click.option("--parent", is_flag=True, help="add a column showing parent snapshot")
@click.option("--roots", is_flag=True, help="list only snapshots without parents")
@flag_options(FILTERS)
@click.option(
    "--metadata",
    "metadata",
    flag_value="yes",
    help="list only snapshots that have metadata that would prevent undefine",
)
@click.option(
    "--no-metadata",
    "metadata",
    flag_value="no",
    help="list only snapshots that have no metadata managed by virtkit",
)
@click.option("--tree", is_flag=True, help="list snapshots in a tree")
@click.option(
    "--from", "from_", metavar="SNAPSHOT", help="limit list to children of given snapshot"
)
@click.option("--current", is_flag=True, help="limit list to children of current snapshot")
@click.option("--descendants", is_flag=True, help="with --from, list all descendants")
@click.option("--name", is_flag=True, help="list snapshot names only")
@click.option("--topological", is_flag=True, help="sort list topologically rather than by name")
@click.pass_obj
def cmd_snapshot_list(
    session: Session,
    domain: str,
    parent: bool,
    roots: bool,
    flags: tuple[str, ...],
    metadata: str | None,
    tree: bool,
    from_: str | None,
    current: bool,
    descendants: bool,
    name: bool,
    topological: bool,
) -> None:
    """List a domain's snapshots."""
    exclusive(tree=tree, name=name)
    exclusive(parent=parent, roots=roots)
    exclusive(parent=parent, tree=tree)
    exclusive(roots=roots, tree=tree)
    exclusive(roots=roots, **{"from": from_ is not None})
    exclusive(roots=roots, current=current)
    exclusive(current=current, **{"from": from_ is not None})
    if tree and flags:
        raise CommandFailed(f"--{flags[0]} and --tree are mutually exclusive")
    if descendants and from_ is None and not current:
        raise CommandFailed("--descendants requires either --from or --current")
    bits = F(combined(flags, FILTERS))
    if roots:
        bits |= F.ROOTS
    if metadata:
        bits |= F.METADATA if metadata == "yes" else F.NO_METADATA
    if descendants:
        bits |= F.DESCENDANTS

    dom = session.domain(domain)
    start = None
    if from_ is not None or current:
        start = session.snapshot(dom, from_, current)
        snaps = start.list_all_children(int(bits))
    else:
        snaps = dom.list_all_snapshots(int(bits))
    records = [s.record() for s in snaps]
    if not topological:
        records.sort(key=lambda r: r.name.casefold())

    if tree:
        names = {r.name for r in records}
        top = [start.get_name()] if start else [r.name for r in records if r.parent not in names]
        kids: dict[str, list[str]] = {}
        for r in records:
            if r.parent is not None and r.name not in top:
                kids.setdefault(r.parent, []).append(r.name)
        click.echo(draw_tree(top, lambda n: kids.get(n, [])), nl=False)
    elif name:
        click.echo("".join(f"{r.name}\n" for r in records))
    else:
        rows = []
        for r in records:
            created = time.strftime("%Y-%m-%d %H:%M:%S %z", time.localtime(r.creation_time))
            rows.append([r.name, created, r.state] + ([r.parent or ""] if parent else []))
        headers = ["Name", "Creation Time", "State"] + (["Parent"] if parent else [])
        click.echo(table(headers, rows), nl=False)
