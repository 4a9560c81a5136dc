"""``autostart-all``: start every inactive autostart domain, as a boot unit would.

There is no daemon to start them when the host boots: run ``virtkit -c URI autostart-all``
from a boot unit (e.g. a systemd oneshot after ``local-fs.target``). Uses only the public API,
so it works for every driver.
"""

from __future__ import annotations

import click

from virtkit.cli.session import CommandFailed, Session
from virtkit.constants import ConnectListAllDomainsFlags as Flags
from virtkit.errors import VirtError


@click.command("autostart-all")
@click.pass_obj
def cmd_autostart_all(session: Session) -> None:
    """Start every inactive domain marked autostart; one that fails does not stop the others."""
    failed: list[str] = []
    for dom in session.conn.list_all_domains(Flags.AUTOSTART | Flags.INACTIVE):
        try:
            dom.create()
        except VirtError as exc:
            failed.append(dom.name())
            click.echo(f"error: Failed to start domain '{dom.name()}'", err=True)
            click.echo(f"error: {exc.message}", err=True)
            continue
        click.echo(f"Domain '{dom.name()}' started")
    if failed:
        names = ", ".join(f"'{name}'" for name in failed)
        raise CommandFailed(f"{len(failed)} autostart domain(s) did not start: {names}")
