"""What the test driver's hook groups share: the node, the connection's context, and the start
and stop routines that every way into and out of the running state goes through."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from virtkit.constants import (
    DomainEventStartedDetail,
    DomainEventStoppedDetail,
    DomainEventSuspendedDetail,
    DomainEventType,
    DomainPausedReason,
    DomainState,
    HookEvent,
)
from virtkit.driver import DriverContext
from virtkit.drivers.test.content import GUEST_ARCH
from virtkit.drivers.test.state import Node, TestDomain
from virtkit.errors import OperationInvalidError

if TYPE_CHECKING:
    from virtkit.xml import Context, DomainDef

SNAPSHOT_STATE_NAMES = {
    DomainState.NOSTATE: "nostate",
    DomainState.RUNNING: "running",
    DomainState.BLOCKED: "blocked",
    DomainState.PAUSED: "paused",
    DomainState.SHUTDOWN: "shutdown",
    DomainState.SHUTOFF: "shutoff",
    DomainState.CRASHED: "crashed",
    DomainState.PMSUSPENDED: "pmsuspended",
}
"""The ``<state>`` a snapshot of a domain in each state records."""


def canonical_definition(definition: DomainDef, *, live: bool) -> DomainDef:
    """``definition`` in libvirt's canonical form for the test node, as a running (``live``)
    or persistent config."""
    from virtkit.xml import canonical

    return canonical(definition, context=_canonical_context(live))


@functools.cache
def _canonical_context(live: bool) -> Context:
    """The test node's canonical context for a running (``live``) or persistent config."""
    from virtkit.xml import Context

    return Context(arch=GUEST_ARCH, inactive=not live)


class TestDriverBase:
    """State and helpers of one test-driver connection."""

    def __init__(self, ctx: DriverContext, node: Node) -> None:
        self.ctx = ctx
        self.node = node
        self.incoming: dict[str, DomainDef] = {}
        """Definitions a migration's prepare phase accepted, by name, until its finish phase."""

    def hook(self, event: HookEvent, name: str, definition: DomainDef) -> str | None:
        """Consult the extensions at ``event`` (only when some are listening); return the XML
        they leave, or ``None`` when none listens."""
        if not self.ctx.hook.virtkit_domain_hook.get_hookimpls():
            return None
        return self.ctx.run_domain_hook(event, name, definition.to_xml())

    def prepare_start(self, name: str, live: DomainDef) -> None:
        """The extensions' veto points before anything starts (libvirt's prepare and start)."""
        self.hook(HookEvent.PREPARE, name, live)
        self.hook(HookEvent.START, name, live)

    def commit_start(
        self,
        domain: TestDomain,
        live: DomainDef,
        *,
        reason: int,
        detail: DomainEventStartedDetail,
        paused: bool = False,
        paused_detail: DomainEventSuspendedDetail = DomainEventSuspendedDetail.PAUSED,
        paused_reason: DomainPausedReason = DomainPausedReason.USER,
    ) -> None:
        """Mark ``domain`` running from ``live`` (after :meth:`prepare_start` passed), emit
        the events and tell the extensions it started."""
        self.node.activate(domain, live, DomainState.RUNNING, reason)
        self.node.emit(domain, DomainEventType.STARTED, detail)
        if paused:
            self.pause(domain, paused_reason, paused_detail)
        self.hook(HookEvent.STARTED, domain.ref.name, live)

    def pause(
        self, domain: TestDomain, reason: DomainPausedReason, detail: DomainEventSuspendedDetail
    ) -> None:
        domain.state, domain.reason = DomainState.PAUSED, reason
        domain.refresh()
        self.node.emit(domain, DomainEventType.SUSPENDED, detail)

    def stop(self, domain: TestDomain, reason: int, detail: DomainEventStoppedDetail) -> None:
        """Shut ``domain`` off (a transient one disappears), emit the event, tell the extensions."""
        live = domain.definition
        self.node.deactivate(domain, reason)
        self.node.emit(domain, DomainEventType.STOPPED, detail)
        self.hook(HookEvent.STOPPED, domain.ref.name, live)
        self.hook(HookEvent.RELEASE, domain.ref.name, live)

    @staticmethod
    def require_active(domain: TestDomain) -> None:
        if not domain.active:
            raise OperationInvalidError(
                f"Requested operation is not valid: domain '{domain.ref.name}' is not running"
            )

    @staticmethod
    def require_inactive(domain: TestDomain) -> None:
        if domain.active:
            raise OperationInvalidError(
                f"Requested operation is not valid: domain '{domain.ref.name}' is already running"
            )
