"""Plain values that drivers return through the hooks and the facade hands to callers."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import attrs

from virtkit.constants import DomainJobType, DomainState


@attrs.frozen(kw_only=True)
class DomainRecord:
    """What a driver knows of one domain at the moment it is asked.

    ``id`` is -1 for an inactive domain. ``reason`` is a value of the reason enumeration that
    goes with ``state`` (:data:`virtkit.constants.REASONS`).
    """

    name: str
    uuid: uuid.UUID
    id: int
    state: DomainState
    reason: int = 0
    persistent: bool = True
    autostart: bool = False
    managed_save: bool = False
    snapshot_count: int = 0

    @property
    def active(self) -> bool:
        return self.id != -1


@attrs.frozen(kw_only=True)
class DomainRef:
    """Identifies a domain in hook calls; drivers look it up by ``uuid``."""

    name: str
    uuid: uuid.UUID


@attrs.frozen(kw_only=True)
class DomainInfo:
    """libvirt's ``virDomainInfo``: state, memory in KiB, vCPUs, CPU time in nanoseconds."""

    state: DomainState
    max_memory_kib: int
    memory_kib: int
    vcpus: int
    cpu_time_ns: int

    def as_list(self) -> list[int]:
        """The list libvirt-python's ``virDomain.info()`` returns."""
        return [
            int(self.state),
            self.max_memory_kib,
            self.memory_kib,
            self.vcpus,
            self.cpu_time_ns,
        ]


@attrs.frozen(kw_only=True)
class SnapshotRecord:
    """One snapshot's place in the tree, as a driver lists it.

    ``state`` is the snapshot XML's ``<state>`` (``running``, ``paused``, ``shutoff``,
    ``disk-snapshot``...); ``location`` is ``internal`` or ``external``.
    """

    name: str
    parent: str | None
    creation_time: int
    state: str
    location: str = "internal"
    is_current: bool = False
    has_metadata: bool = True


@attrs.frozen(kw_only=True)
class Progress:
    """How far a long job has come; ``total`` is 0 while unknown."""

    operation: str
    processed: int
    total: int

    @property
    def fraction(self) -> float | None:
        return self.processed / self.total if self.total else None


ProgressCallback = Callable[[Progress], None]
"""Called by drivers from the thread running a long job (save, restore, migrate...)."""


@attrs.frozen(kw_only=True)
class JobInfo:
    """libvirt's ``virDomainJobInfo`` plus the typed statistics of ``virDomainGetJobStats``.

    Sizes in bytes, times in milliseconds, rates in bytes per second. ``stats`` holds any
    further libvirt-named statistics (``memory_dirty_rate``, ``downtime``...).
    """

    type: DomainJobType = DomainJobType.NONE
    operation: str = ""
    time_elapsed: int = 0
    time_remaining: int = 0
    data_total: int = 0
    data_processed: int = 0
    data_remaining: int = 0
    mem_total: int = 0
    mem_processed: int = 0
    mem_remaining: int = 0
    stats: dict[str, int | float | str] = attrs.field(factory=dict, hash=False)


@attrs.frozen(kw_only=True)
class MigrationOffer:
    """What the migration *begin* phase hands to *prepare*: the XML and the source's cookie."""

    xml: str
    cookie: bytes = b""


@attrs.frozen(kw_only=True)
class MigrationTarget:
    """What *prepare* answers: where the source sends the stream, and the destination cookie."""

    uri: str
    cookie: bytes = b""
