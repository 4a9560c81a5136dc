"""What a domain is: ``dominfo``, ``domstate``, ``domid``, ``domuuid``, ``domname``, ``dumpxml``."""

from __future__ import annotations

import click

from virtkit.cli.output import fields, state_name
from virtkit.cli.session import Session, failing
from virtkit.constants import DomainState

REASON_NAMES: dict[DomainState, tuple[str, ...]] = {
    DomainState.RUNNING: (
        "unknown",
        "booted",
        "migrated",
        "restored",
        "from snapshot",
        "unpaused",
        "migration canceled",
        "save canceled",
        "event wakeup",
        "crashed",
        "post-copy",
    ),
    DomainState.PAUSED: (
        "unknown",
        "user",
        "migrating",
        "saving",
        "dumping",
        "I/O error",
        "watchdog",
        "from snapshot",
        "shutting down",
        "creating snapshot",
        "crashed",
        "starting up",
        "post-copy",
        "post-copy failed",
    ),
    DomainState.SHUTDOWN: ("unknown", "user"),
    DomainState.SHUTOFF: (
        "unknown",
        "shutdown",
        "destroyed",
        "crashed",
        "migrated",
        "saved",
        "failed",
        "from snapshot",
        "daemon",
    ),
    DomainState.CRASHED: ("unknown", "panicked"),
}
"""virsh's words for the reason that goes with each state."""

domain_argument = click.argument("domain", metavar="DOMAIN")


def reason_name(state: DomainState, reason: int) -> str:
    names = REASON_NAMES.get(state, ("unknown",))
    return names[reason] if 0 <= reason < len(names) else "unknown"


def print_xml(xml: str) -> None:
    """An XML document followed by one blank line, as virsh prints them."""
    click.echo(xml if xml.endswith("\n") else xml + "\n")


@click.command("dominfo")
@domain_argument
@click.pass_obj
def cmd_dominfo(session: Session, domain: str) -> None:
    """Show a domain's basic information."""
    from virtkit.cli.xmlread import domain_text

    dom = session.domain(domain)
    record = dom.record()
    info = dom.info()
    pairs = [
        ("Id:", str(record.id) if record.active else "-"),
        ("Name:", record.name),
        ("UUID:", str(record.uuid)),
        ("OS Type:", domain_text(dom.xml_desc(), "os/type")),
        ("State:", state_name(info.state)),
        ("CPU(s):", str(info.vcpus)),
    ]
    if info.cpu_time_ns:
        pairs.append(("CPU time:", f"{info.cpu_time_ns / 1e9:.1f}s"))
    pairs += [
        ("Max memory:", f"{info.max_memory_kib} KiB" if info.max_memory_kib else "no limit"),
        ("Used memory:", f"{info.memory_kib} KiB"),
        ("Persistent:", "yes" if record.persistent else "no"),
        ("Autostart:", "enable" if record.autostart else "disable"),
        ("Managed save:", "yes" if record.managed_save else "no"),
    ]
    click.echo(fields(pairs, 15))


@click.command("domstate")
@domain_argument
@click.option("--reason", is_flag=True, help="also print reason for the state")
@click.pass_obj
def cmd_domstate(session: Session, domain: str, reason: bool) -> None:
    """Show a domain's state (and why it is in it)."""
    state, why = session.domain(domain).state()
    text = state_name(state)
    if reason:
        text += f" ({reason_name(state, why)})"
    click.echo(text + "\n")


@click.command("domid")
@domain_argument
@click.pass_obj
def cmd_domid(session: Session, domain: str) -> None:
    """Show a domain's ID ("-" while it is inactive)."""
    dom_id = session.domain(domain).id()
    click.echo(("-" if dom_id == -1 else str(dom_id)) + "\n")


@click.command("domuuid")
@domain_argument
@click.pass_obj
def cmd_domuuid(session: Session, domain: str) -> None:
    """Show a domain's UUID."""
    click.echo(session.domain(domain).uuid_string() + "\n")


@click.command("domname")
@domain_argument
@click.pass_obj
def cmd_domname(session: Session, domain: str) -> None:
    """Show the name of a domain given by ID or UUID."""
    click.echo(session.domain(domain).name() + "\n")


@click.command("dumpxml")
@domain_argument
@click.option("--inactive", is_flag=True, help="show inactive defined XML")
@click.option("--security-info", is_flag=True, help="include security sensitive information")
@click.option("--migratable", is_flag=True, help="provide XML suitable for migrations")
@click.pass_obj
def cmd_dumpxml(
    session: Session, domain: str, inactive: bool, security_info: bool, migratable: bool
) -> None:
    """Print a domain's XML."""
    dom = session.domain(domain)
    with failing(f"failed to get the XML of domain '{dom.name()}'"):
        xml = dom.xml_desc(inactive=inactive, secure=security_info, migratable=migratable)
    print_xml(xml)
