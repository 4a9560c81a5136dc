"""``event``: wait for domain lifecycle events and print them as virsh does."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

import click

from virtkit.cli.options import exclusive
from virtkit.cli.session import CommandFailed, Session
from virtkit.constants import DomainEventType

if TYPE_CHECKING:
    from virtkit.connection import Connection
    from virtkit.domain import Domain

EVENT_TYPES = ("lifecycle",)
"""The event types virtkit delivers (virsh knows more; the API has lifecycle events only)."""

EVENT_NAMES = (
    "Defined",
    "Undefined",
    "Started",
    "Suspended",
    "Resumed",
    "Stopped",
    "Shutdown",
    "PMSuspended",
    "Crashed",
)
DETAIL_NAMES: dict[DomainEventType, tuple[str, ...]] = {
    DomainEventType.DEFINED: ("Added", "Updated", "Renamed", "Snapshot"),
    DomainEventType.UNDEFINED: ("Removed", "Renamed"),
    DomainEventType.STARTED: ("Booted", "Migrated", "Restored", "Snapshot", "Event wakeup"),
    DomainEventType.SUSPENDED: (
        "Paused",
        "Migrated",
        "I/O Error",
        "Watchdog",
        "Restored",
        "Snapshot",
        "API error",
        "Post-copy",
        "Post-copy Error",
    ),
    DomainEventType.RESUMED: ("Unpaused", "Migrated", "Snapshot", "Post-copy", "Post-copy Error"),
    DomainEventType.STOPPED: (
        "Shutdown",
        "Destroyed",
        "Crashed",
        "Migrated",
        "Saved",
        "Failed",
        "Snapshot",
    ),
    DomainEventType.SHUTDOWN: (
        "Finished",
        "Finished after guest request",
        "Finished after host request",
    ),
    DomainEventType.PMSUSPENDED: ("Memory", "Disk"),
    DomainEventType.CRASHED: ("Panicked", "Crashloaded"),
}
"""virsh's words for each lifecycle event and its detail."""


def lifecycle_text(name: str, event: int, detail: int) -> str:
    """``event 'lifecycle' for domain 'test': Stopped Destroyed``."""
    kind = EVENT_NAMES[event] if 0 <= event < len(EVENT_NAMES) else "unknown"
    details = DETAIL_NAMES.get(DomainEventType(event), ()) if kind != "unknown" else ()
    what = details[detail] if 0 <= detail < len(details) else "unknown"
    return f"event 'lifecycle' for domain '{name}': {kind} {what}"


def _timestamp() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}+0000"


@click.command("event")
@click.option("--domain", metavar="DOMAIN", help="filter by domain name, id or uuid")
@click.option("--event", "event_name", metavar="TYPE", help="which event type to wait for")
@click.option("--all", "all_", is_flag=True, help="wait for all events instead of just one type")
@click.option("--loop", is_flag=True, help="loop until timeout or interrupt, rather than one-shot")
@click.option("--timeout", type=click.IntRange(min=1), metavar="SECONDS", help="timeout seconds")
@click.option("--list", "list_", is_flag=True, help="list valid event types")
@click.option("--timestamp", is_flag=True, help="show timestamp for each printed event")
@click.pass_context
def cmd_event(
    ctx: click.Context,
    domain: str | None,
    event_name: str | None,
    all_: bool,
    loop: bool,
    timeout: int | None,
    list_: bool,
    timestamp: bool,
) -> None:
    """Wait for domain events (or --list the types) and print each one."""
    exclusive(all=all_, event=event_name is not None)
    exclusive(list=list_, all=all_)
    exclusive(list=list_, event=event_name is not None)
    if list_:
        click.echo("\n".join(EVENT_TYPES))
        return
    if event_name is None and not all_:
        raise CommandFailed("one of --list, --all, or --event <type> is required")
    if event_name is not None and event_name not in EVENT_TYPES:
        raise CommandFailed(
            f"unknown event type {event_name}: virtkit delivers {', '.join(EVENT_TYPES)} events"
        )
    session: Session = ctx.obj
    dom = session.domain(domain) if domain is not None else None
    count = 0
    done = threading.Event()
    lock = threading.Lock()

    def on_event(conn: Connection, event_dom: Domain, event: int, detail: int, _: Any) -> None:
        nonlocal count
        with lock:
            if done.is_set():
                return
            prefix = f"{_timestamp()}: " if timestamp else ""
            click.echo(prefix + lifecycle_text(event_dom.name(), event, detail))
            count += 1
            if not loop:
                done.set()

    callback_id = session.conn.domain_event_register(on_event, dom)
    try:
        finished = done.wait(timeout)
        if not finished:
            click.echo("event loop timed out")
    except KeyboardInterrupt:
        click.echo("event loop interrupted")
    finally:
        with lock:
            done.set()
        session.conn.domain_event_deregister(callback_id)
    click.echo(f"events received: {count}")
    if not count:
        ctx.exit(1)
