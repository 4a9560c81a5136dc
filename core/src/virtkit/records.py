"""Plain values that drivers return through the hooks and the facade hands to callers.

They are named tuples: immutable, typed, and cheap to define, which matters to a command line
that imports them on every start (``_replace`` makes a changed copy).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import NamedTuple

from virtkit.constants import DomainJobType, DomainState


class DomainRecord(NamedTuple):
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


class DomainRef(NamedTuple):
    """Identifies a domain in hook calls; drivers look it up by ``uuid``."""

    name: str
    uuid: uuid.UUID


class DomainInfo(NamedTuple):
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


class SnapshotRecord(NamedTuple):
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


class Progress(NamedTuple):
    """How far a long job has come; ``total`` is 0 while unknown."""

    operation: str
    processed: int
    total: int

    @property
    def fraction(self) -> float | None:
        return self.processed / self.total if self.total else None


ProgressCallback = Callable[[Progress], None]
"""Called by drivers from the thread running a long job (save, restore, migrate...)."""


class JobInfo(NamedTuple):
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
    stats: Mapping[str, int | float | str] = MappingProxyType({})


class MigrationOffer(NamedTuple):
    """What the migration *begin* phase hands to *prepare*: the XML and the source's cookie."""

    xml: str
    cookie: bytes = b""


class MigrationTarget(NamedTuple):
    """What *prepare* answers: where the source sends the stream, and the destination cookie."""

    uri: str
    cookie: bytes = b""
