"""libvirt's enumerations and flags, with libvirt's names and values.

``DomainState.RUNNING`` is ``VIR_DOMAIN_RUNNING``; flag classes are :class:`enum.IntFlag` so
values can be combined (``DomainCreateFlags.START_PAUSED | DomainCreateFlags.START_AUTODESTROY``)
and passed wherever libvirt-python takes an ``int``.
"""

from __future__ import annotations

from enum import IntEnum, IntFlag, StrEnum


class DomainState(IntEnum):
    NOSTATE = 0
    RUNNING = 1
    BLOCKED = 2
    PAUSED = 3
    SHUTDOWN = 4
    SHUTOFF = 5
    CRASHED = 6
    PMSUSPENDED = 7


class DomainRunningReason(IntEnum):
    UNKNOWN = 0
    BOOTED = 1
    MIGRATED = 2
    RESTORED = 3
    FROM_SNAPSHOT = 4
    UNPAUSED = 5
    MIGRATION_CANCELED = 6
    SAVE_CANCELED = 7
    WAKEUP = 8
    CRASHED = 9
    POSTCOPY = 10


class DomainPausedReason(IntEnum):
    UNKNOWN = 0
    USER = 1
    MIGRATION = 2
    SAVE = 3
    DUMP = 4
    IOERROR = 5
    WATCHDOG = 6
    FROM_SNAPSHOT = 7
    SHUTTING_DOWN = 8
    SNAPSHOT = 9
    CRASHED = 10
    STARTING_UP = 11
    POSTCOPY = 12
    POSTCOPY_FAILED = 13


class DomainShutoffReason(IntEnum):
    UNKNOWN = 0
    SHUTDOWN = 1
    DESTROYED = 2
    CRASHED = 3
    MIGRATED = 4
    SAVED = 5
    FAILED = 6
    FROM_SNAPSHOT = 7
    DAEMON = 8


class DomainShutdownReason(IntEnum):
    UNKNOWN = 0
    USER = 1


class DomainCrashedReason(IntEnum):
    UNKNOWN = 0
    PANICKED = 1


REASONS: dict[DomainState, type[IntEnum]] = {
    DomainState.RUNNING: DomainRunningReason,
    DomainState.PAUSED: DomainPausedReason,
    DomainState.SHUTOFF: DomainShutoffReason,
    DomainState.SHUTDOWN: DomainShutdownReason,
    DomainState.CRASHED: DomainCrashedReason,
}
"""The reason enumeration that goes with each state (the others only have ``UNKNOWN = 0``)."""


class ConnectListAllDomainsFlags(IntFlag):
    ACTIVE = 1
    INACTIVE = 2
    PERSISTENT = 4
    TRANSIENT = 8
    RUNNING = 16
    PAUSED = 32
    SHUTOFF = 64
    OTHER = 128
    MANAGEDSAVE = 256
    NO_MANAGEDSAVE = 512
    AUTOSTART = 1024
    NO_AUTOSTART = 2048
    HAS_SNAPSHOT = 4096
    NO_SNAPSHOT = 8192


class DomainCreateFlags(IntFlag):
    NONE = 0
    START_PAUSED = 1
    START_AUTODESTROY = 2
    START_BYPASS_CACHE = 4
    START_FORCE_BOOT = 8
    START_VALIDATE = 16


class DomainDefineFlags(IntFlag):
    NONE = 0
    VALIDATE = 1


class DomainXMLFlags(IntFlag):
    NONE = 0
    SECURE = 1
    INACTIVE = 2
    UPDATE_CPU = 4
    MIGRATABLE = 8


class DomainUndefineFlags(IntFlag):
    NONE = 0
    MANAGED_SAVE = 1
    SNAPSHOTS_METADATA = 2
    NVRAM = 4
    KEEP_NVRAM = 8
    CHECKPOINTS_METADATA = 16
    TPM = 32
    KEEP_TPM = 64


class DomainShutdownFlags(IntFlag):
    DEFAULT = 0
    ACPI_POWER_BTN = 1
    GUEST_AGENT = 2
    INITCTL = 4
    SIGNAL = 8
    PARAVIRT = 16


DomainRebootFlags = DomainShutdownFlags
"""libvirt's reboot flags: the shutdown flags' names and values (how to ask the guest)."""


class DomainDestroyFlags(IntFlag):
    DEFAULT = 0
    GRACEFUL = 1


class DomainSaveRestoreFlags(IntFlag):
    NONE = 0
    BYPASS_CACHE = 1
    RUNNING = 2
    PAUSED = 4


class DomainSnapshotCreateFlags(IntFlag):
    NONE = 0
    REDEFINE = 1
    CURRENT = 2
    NO_METADATA = 4
    HALT = 8
    DISK_ONLY = 16
    REUSE_EXT = 32
    QUIESCE = 64
    ATOMIC = 128
    LIVE = 256
    VALIDATE = 512


class DomainSnapshotListFlags(IntFlag):
    NONE = 0
    DESCENDANTS = 1
    ROOTS = 1
    METADATA = 2
    LEAVES = 4
    NO_LEAVES = 8
    NO_METADATA = 16
    INACTIVE = 32
    ACTIVE = 64
    DISK_ONLY = 128
    INTERNAL = 256
    EXTERNAL = 512
    TOPOLOGICAL = 1024


class DomainSnapshotRevertFlags(IntFlag):
    NONE = 0
    RUNNING = 1
    PAUSED = 2
    FORCE = 4


class DomainSnapshotDeleteFlags(IntFlag):
    NONE = 0
    CHILDREN = 1
    METADATA_ONLY = 2
    CHILDREN_ONLY = 4


class DomainMigrateFlags(IntFlag):
    NONE = 0
    LIVE = 1
    PEER2PEER = 2
    TUNNELLED = 4
    PERSIST_DEST = 8
    UNDEFINE_SOURCE = 16
    PAUSED = 32
    NON_SHARED_DISK = 64
    NON_SHARED_INC = 128
    CHANGE_PROTECTION = 256
    UNSAFE = 512
    OFFLINE = 1024
    COMPRESSED = 2048
    ABORT_ON_ERROR = 4096
    AUTO_CONVERGE = 8192
    POSTCOPY = 32768


class DomainEventType(IntEnum):
    DEFINED = 0
    UNDEFINED = 1
    STARTED = 2
    SUSPENDED = 3
    RESUMED = 4
    STOPPED = 5
    SHUTDOWN = 6
    PMSUSPENDED = 7
    CRASHED = 8


class DomainEventDefinedDetail(IntEnum):
    ADDED = 0
    UPDATED = 1
    RENAMED = 2
    FROM_SNAPSHOT = 3


class DomainEventUndefinedDetail(IntEnum):
    REMOVED = 0
    RENAMED = 1


class DomainEventStartedDetail(IntEnum):
    BOOTED = 0
    MIGRATED = 1
    RESTORED = 2
    FROM_SNAPSHOT = 3
    WAKEUP = 4


class DomainEventSuspendedDetail(IntEnum):
    PAUSED = 0
    MIGRATED = 1
    IOERROR = 2
    WATCHDOG = 3
    RESTORED = 4
    FROM_SNAPSHOT = 5
    API_ERROR = 6
    POSTCOPY = 7
    POSTCOPY_FAILED = 8


class DomainEventResumedDetail(IntEnum):
    UNPAUSED = 0
    MIGRATED = 1
    FROM_SNAPSHOT = 2
    POSTCOPY = 3
    POSTCOPY_FAILED = 4


class DomainEventStoppedDetail(IntEnum):
    SHUTDOWN = 0
    DESTROYED = 1
    CRASHED = 2
    MIGRATED = 3
    SAVED = 4
    FAILED = 5
    FROM_SNAPSHOT = 6


class DomainEventShutdownDetail(IntEnum):
    FINISHED = 0
    GUEST = 1
    HOST = 2


class DomainEventCrashedDetail(IntEnum):
    PANICKED = 0
    CRASHLOADED = 1


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


class DomainJobType(IntEnum):
    NONE = 0
    BOUNDED = 1
    UNBOUNDED = 2
    COMPLETED = 3
    FAILED = 4
    CANCELLED = 5


class HookEvent(StrEnum):
    """Points in a domain's life where extensions are consulted (libvirt's hook-script
    operations)."""

    PREPARE = "prepare"
    START = "start"
    STARTED = "started"
    STOPPED = "stopped"
    RELEASE = "release"
    MIGRATE = "migrate"
    RESTORE = "restore"
