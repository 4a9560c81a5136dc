"""libvirt's enumerations about domains shutting down, being destroyed or crashing, and the
tables pairing each state and event type with its reason or detail enumeration.

Import them from :mod:`virtkit.constants`, which loads this module on first use: neither
opening a connection nor importing a driver needs them, and every enumeration class costs
start-up time.
"""

from __future__ import annotations

from enum import IntEnum, IntFlag

from virtkit.constants import (
    DomainEventDefinedDetail,
    DomainEventResumedDetail,
    DomainEventStartedDetail,
    DomainEventStoppedDetail,
    DomainEventSuspendedDetail,
    DomainEventType,
    DomainEventUndefinedDetail,
    DomainPausedReason,
    DomainRunningReason,
    DomainShutoffReason,
    DomainState,
)


class DomainShutdownReason(IntEnum):
    UNKNOWN = 0
    USER = 1


class DomainCrashedReason(IntEnum):
    UNKNOWN = 0
    PANICKED = 1


class DomainShutdownFlags(IntFlag):
    DEFAULT = 0
    ACPI_POWER_BTN = 1
    GUEST_AGENT = 2
    INITCTL = 4
    SIGNAL = 8
    PARAVIRT = 16


class DomainDestroyFlags(IntFlag):
    DEFAULT = 0
    GRACEFUL = 1


class DomainEventShutdownDetail(IntEnum):
    FINISHED = 0
    GUEST = 1
    HOST = 2


class DomainEventCrashedDetail(IntEnum):
    PANICKED = 0
    CRASHLOADED = 1


REASONS: dict[DomainState, type[IntEnum]] = {
    DomainState.RUNNING: DomainRunningReason,
    DomainState.PAUSED: DomainPausedReason,
    DomainState.SHUTOFF: DomainShutoffReason,
    DomainState.SHUTDOWN: DomainShutdownReason,
    DomainState.CRASHED: DomainCrashedReason,
}
"""The reason enumeration that goes with each state (the others only have ``UNKNOWN = 0``)."""


EVENT_DETAILS: dict[DomainEventType, type[IntEnum]] = {
    DomainEventType.DEFINED: DomainEventDefinedDetail,
    DomainEventType.UNDEFINED: DomainEventUndefinedDetail,
    DomainEventType.STARTED: DomainEventStartedDetail,
    DomainEventType.SUSPENDED: DomainEventSuspendedDetail,
    DomainEventType.RESUMED: DomainEventResumedDetail,
    DomainEventType.STOPPED: DomainEventStoppedDetail,
    DomainEventType.SHUTDOWN: DomainEventShutdownDetail,
    DomainEventType.CRASHED: DomainEventCrashedDetail,
}
"""The detail enumeration that goes with each lifecycle event type."""
