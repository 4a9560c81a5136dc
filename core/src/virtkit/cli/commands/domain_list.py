"""``list``: the domains of the connection, filtered like ``virsh list``."""

from __future__ import annotations

import click

from virtkit.cli.options import combined, flag_options
from virtkit.cli.output import state_name, table
from virtkit.cli.session import Session
from virtkit.constants import ConnectListAllDomainsFlags as F
from virtkit.constants import DomainState

FILTERS = (
    ("inactive", "list inactive domains", F.INACTIVE),
    ("persistent", "list persistent domains", F.PERSISTENT),
    ("transient", "list transient domains", F.TRANSIENT),
    ("state-running", "list domains in running state", F.RUNNING),
    ("state-paused", "list domains in paused state", F.PAUSED),
    ("state-shutoff", "list domains in shutoff state", F.SHUTOFF),
    ("state-other", "list domains in other states", F.OTHER),
    ("autostart", "list domains with autostart enabled", F.AUTOSTART),
    ("no-autostart", "list domains with autostart disabled", F.NO_AUTOSTART),
    ("with-snapshot", "list domains with existing snapshot", F.HAS_SNAPSHOT),
    ("without-snapshot", "list domains without a snapshot", F.NO_SNAPSHOT),
    ("with-managed-save", "list domains with managed save state", F.MANAGEDSAVE),
    ("without-managed-save", "list domains without managed save", F.NO_MANAGEDSAVE),
)


STATE_FILTERS = F.RUNNING | F.PAUSED | F.SHUTOFF | F.OTHER


@click.command("list")
@click.option("--all", "all_", is_flag=True, help="list inactive & active domains")
@flag_options(FILTERS)
@click.option("--managed-save", is_flag=True, help="mark inactive domains with managed save state")
@click.option("--title", is_flag=True, help="show domain title")
@click.option("--uuid", is_flag=True, help="list uuid's only")
@click.option("--name", is_flag=True, help="list domain names only")
@click.pass_obj
def cmd_list(
    session: Session,
    all_: bool,
    flags: tuple[str, ...],
    managed_save: bool,
    title: bool,
    uuid: bool,
    name: bool,
) -> None:
    """List domains (active ones unless --all or another filter says otherwise)."""
    bits = F(combined(flags, FILTERS))
    if not all_ and not bits & (F.INACTIVE | STATE_FILTERS):
        bits |= F.ACTIVE  # virsh lists active domains unless told which others
    if all_ and bits & F.INACTIVE:
        bits &= ~F.INACTIVE
    if title and (uuid or name):
        raise click.UsageError("--title cannot be combined with --uuid or --name")
    records = session.conn.list_all_domain_records(int(bits))
    records.sort(key=lambda r: (r.id == -1, r.id if r.id != -1 else 0, r.name))
    if uuid or name:
        lines = [
            " ".join(([str(r.uuid)] if uuid else []) + ([r.name] if name else [])) for r in records
        ]
        click.echo("".join(f"{line}\n" for line in lines))
        return
    rows = []
    for r in records:
        state = state_name(r.state)
        if managed_save and r.state == DomainState.SHUTOFF and r.managed_save:
            state = "saved"
        row = [str(r.id) if r.id != -1 else "-", r.name, state]
        if title:
            row.append(_title(session, r.name))
        rows.append(row)
    headers = ["Id", "Name", "State"] + (["Title"] if title else [])
    click.echo(table(headers, rows), nl=False)


def _title(session: Session, name: str) -> str:
    from virtkit.cli.xmlread import domain_text

    return domain_text(session.conn.lookup_by_name(name).xml_desc(), "title")
