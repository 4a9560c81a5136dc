"""Changing a domain's run state: ``start``, ``shutdown``, ``destroy``, ``reboot``, ``reset``,
``suspend``, ``resume``."""

from __future__ import annotations

from collections.abc import Callable

import click

from virtkit.cli.commands.domain_info import domain_argument
from virtkit.cli.session import Session, failing
from virtkit.domain import Domain


@click.command("start")
@domain_argument
@click.option("--paused", is_flag=True, help="leave the guest paused after start")
@click.option(
    "--autodestroy", is_flag=True, help="automatically destroy the guest when virtkit exits"
)
@click.option("--force-boot", is_flag=True, help="force fresh boot by discarding any managed save")
@click.pass_obj
def cmd_start(
    session: Session, domain: str, paused: bool, autodestroy: bool, force_boot: bool
) -> None:
    """Start a (previously defined) inactive domain."""
    dom = session.domain(domain)
    with failing(f"Failed to start domain '{dom.name()}'"):
        dom.create(paused=paused, autodestroy=autodestroy, force_boot=force_boot)
    click.echo(f"Domain '{dom.name()}' started\n")


@click.command("shutdown")
@domain_argument
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    metavar="SECONDS",
    help="power the domain off if it has not shut down after SECONDS",
)
@click.pass_obj
def cmd_shutdown(session: Session, domain: str, timeout: float | None) -> None:
    """Ask a domain's guest to shut down (and with --timeout, wait for it to stop)."""
    dom = session.domain(domain)
    with failing(f"Failed to shutdown domain '{dom.name()}'"):
        dom.shutdown(timeout=timeout)
    if timeout is None:
        click.echo(f"Domain '{dom.name()}' is being shutdown\n")
    else:
        click.echo(f"Domain '{dom.name()}' is shut off\n")


def _action(
    name: str, summary: str, done: str, failed: str, call: Callable[[Domain], object]
) -> click.Command:
    """A command that applies one call to one domain and reports it as virsh does."""

    @click.command(name, help=summary)
    @domain_argument
    @click.pass_obj
    def command(session: Session, domain: str) -> None:
        dom = session.domain(domain)
        with failing(failed.format(dom.name())):
            call(dom)
        click.echo(done.format(dom.name()) + "\n")

    return command


cmd_destroy = _action(
    "destroy",
    "Stop a domain at once (power off).",
    "Domain '{}' destroyed",
    "Failed to destroy domain '{}'",
    Domain.destroy,
)
cmd_reboot = _action(
    "reboot",
    "Ask a domain's guest to reboot.",
    "Domain '{}' is being rebooted",
    "Failed to reboot domain '{}'",
    Domain.reboot,
)
cmd_reset = _action(
    "reset",
    "Reset a domain's virtual hardware, like the reset button.",
    "Domain '{}' was reset",
    "Failed to reset domain '{}'",
    Domain.reset,
)
cmd_suspend = _action(
    "suspend",
    "Pause a running domain.",
    "Domain '{}' suspended",
    "Failed to suspend domain '{}'",
    Domain.suspend,
)
cmd_resume = _action(
    "resume",
    "Resume a paused domain.",
    "Domain '{}' resumed",
    "Failed to resume domain '{}'",
    Domain.resume,
)
