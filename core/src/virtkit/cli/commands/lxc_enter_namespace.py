"""``lxc-enter-namespace``: run a program inside a running container (virsh's command)."""

from __future__ import annotations

import sys

import click

from virtkit.cli.commands.domain_info import domain_argument
from virtkit.cli.session import Session, failing


@click.command("lxc-enter-namespace")
@domain_argument
@click.argument("command", nargs=-1, required=True, metavar="-- CMD [ARGS...]")
@click.pass_context
def cmd_lxc_enter_namespace(ctx: click.Context, domain: str, command: tuple[str, ...]) -> None:
    """Run CMD in the container's cgroups and namespaces on this terminal; exit with its
    status."""
    session: Session = ctx.obj
    dom = session.domain(domain)
    sys.stdout.flush()
    with failing(f"Failed to run '{command[0]}' in domain '{dom.name()}'"):
        code = dom.lxc_enter_namespace(command)
    ctx.exit(code)
