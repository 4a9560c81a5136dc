"""VirtualBox machine states (``VMState`` of ``showvminfo --machinereadable``) as virtkit states."""

from __future__ import annotations

from virtkit.constants import (
    DomainCrashedReason,
    DomainPausedReason,
    DomainRunningReason,
    DomainShutoffReason,
    DomainState,
)

STATES: dict[str, tuple[DomainState, int]] = {
    "poweroff": (DomainState.SHUTOFF, DomainShutoffReason.SHUTDOWN),
    "aborted": (DomainState.SHUTOFF, DomainShutoffReason.CRASHED),
    "saved": (DomainState.SHUTOFF, DomainShutoffReason.SAVED),
    "running": (DomainState.RUNNING, DomainRunningReason.BOOTED),
    "starting": (DomainState.RUNNING, DomainRunningReason.BOOTED),
    "restoring": (DomainState.RUNNING, DomainRunningReason.RESTORED),
    "teleporting": (DomainState.RUNNING, DomainRunningReason.MIGRATED),
    "livesnapshotting": (DomainState.RUNNING, DomainRunningReason.BOOTED),
    "paused": (DomainState.PAUSED, DomainPausedReason.USER),
    "saving": (DomainState.PAUSED, DomainPausedReason.SAVE),
    "stopping": (DomainState.SHUTDOWN, 0),
    "stuck": (DomainState.CRASHED, DomainCrashedReason.UNKNOWN),
    "gurumeditation": (DomainState.CRASHED, DomainCrashedReason.UNKNOWN),
}
ACTIVE = {
    "running",
    "paused",
    "starting",
    "restoring",
    "teleporting",
    "livesnapshotting",
    "saving",
    "stopping",
    "stuck",
    "gurumeditation",
}


def state_of(vm_state: str) -> tuple[DomainState, int]:
    """virtkit's state and reason for a ``VMState`` value (unknown ones: NOSTATE)."""
    return STATES.get(vm_state.lower(), (DomainState.NOSTATE, 0))


def is_active(vm_state: str) -> bool:
    return vm_state.lower() in ACTIVE
