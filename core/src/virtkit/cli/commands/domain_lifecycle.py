"""Changing a domain's run state: ``start``, ``shutdown``, ``destroy``, ``reboot``, ``reset``,
``suspend``, ``resume``."""

from __future__ import annotations

from collections.abc import Callable

import click

from virtkit.cli.commands.console import attach_console, console_option
from virtkit.cli.commands.domain_info import domain_argument
from virtkit.cli.session import Session, failing
from virtkit.constants import DomainDestroyFlags
from virtkit.domain import Domain


@click.command("start")
@domain_argument
@click.option("--paused", is_flag=True, help="leave the guest paused after start")
@click.option(
    "--autodestroy", is_flag=True, help="automatically destroy the guest when virtkit exits"
)
@click.option("--force-boot", is_flag=True, help="force fresh boot by discarding any managed save")
@console_option
@click.pass_obj
def cmd_start(
    session: Session,
    domain: str,
    paused: bool,
    autodestroy: bool,
    force_boot: bool,
    console: bool,
) -> None:
    """Start a (previously defined) inactive domain."""
    dom = session.domain(domain)
    with failing(f"Failed to start domain '{dom.name()}'"):
        dom.create(paused=paused, autodestroy=autodestroy, force_boot=force_boot)
    click.echo(f"Domain '{dom.name()}' started\n")
    if console:
        attach_console(dom)


MODES = ("acpi", "agent", "initctl", "signal", "paravirt")
"""virsh's names of the shutdown and reboot modes, in the order of their flags' bits."""

mode_option = click.option(
    "--mode",
    metavar="MODE[,MODE...]",
    help="how to ask the guest: acpi, agent, initctl, signal or paravirt (the driver picks "
    "when none is given)",
)


def mode_flags(modes: str | None) -> int:
    """The shutdown or reboot flags (their bits are the same) for ``--mode``."""
    flags = 0
    for mode in filter(None, (modes or "").split(",")):
        if mode not in MODES:
            raise click.UsageError(
                f"Unknown mode {mode} value, expecting 'acpi', 'agent', 'initctl', 'signal' "
                "or 'paravirt'"
            )
        flags |= 1 << MODES.index(mode)
    return flags


@click.command("shutdown")
@domain_argument
@mode_option
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    metavar="SECONDS",
    help="power the domain off if it has not shut down after SECONDS",
)
@click.pass_obj
def cmd_shutdown(session: Session, domain: str, mode: str | None, timeout: float | None) -> None:
    """Ask a domain's guest to shut down (and with --timeout, wait for it to stop)."""
    flags = mode_flags(mode)
    dom = session.domain(domain)
    with failing(f"Failed to shutdown domain '{dom.name()}'"):
        dom.shutdown(flags, timeout=timeout)
    if timeout is None:
        click.echo(f"Domain '{dom.name()}' is being shutdown\n")
    else:
        click.echo(f"Domain '{dom.name()}' is shut off\n")


@click.command("reboot")
@domain_argument
@mode_option
@click.pass_obj
def cmd_reboot(session: Session, domain: str, mode: str | None) -> None:
    """Ask a domain's guest to reboot."""
    flags = mode_flags(mode)
    dom = session.domain(domain)
    with failing(f"Failed to reboot domain '{dom.name()}'"):
        dom.reboot(flags)
    click.echo(f"Domain '{dom.name()}' is being rebooted\n")


@click.command("destroy")
@domain_argument
@click.option(
    "--graceful", is_flag=True, help="terminate gracefully: fail rather than kill the process"
)
@click.pass_obj
def cmd_destroy(session: Session, domain: str, graceful: bool) -> None:
    """Stop a domain at once (power off)."""
    dom = session.domain(domain)
    with failing(f"Failed to destroy domain '{dom.name()}'"):
        dom.destroy(DomainDestroyFlags.GRACEFUL if graceful else DomainDestroyFlags.DEFAULT)
    click.echo(f"Domain '{dom.name()}' destroyed\n")


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
