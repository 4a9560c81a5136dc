"""The test driver's in-memory objects: one node holding domains, each with its snapshots.

Every read and change happens under the node's one lock. A domain keeps its current
:class:`~virtkit.records.DomainRecord` and its formatted XML cached, so lookups, lists and dumps
never re-parse XML; :meth:`TestDomain.refresh` rebuilds them after a change.

:mod:`virtkit.xml` (and lxml) are imported on first use, not with the driver: opening
``test:///default`` and listing its domains, what ``virtkit list`` does, needs neither.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid as uuidlib
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

from virtkit.constants import DomainEventType, DomainState, DomainXMLFlags
from virtkit.errors import NoDomainError, NoSnapshotError
from virtkit.records import DomainRecord, DomainRef, JobInfo, SnapshotRecord

if TYPE_CHECKING:
    from virtkit.xml import DomainDef

EventSink = Callable[[DomainRef, DomainEventType, int], None]

_INACTIVE, _SECURE, _MIGRATABLE = (
    int(DomainXMLFlags.INACTIVE),
    int(DomainXMLFlags.SECURE),
    int(DomainXMLFlags.MIGRATABLE),
)
_XML_FLAGS = _INACTIVE | _SECURE | _MIGRATABLE


def parse_definition(xml: str | bytes) -> DomainDef:
    """Parse domain XML (importing the XML engine on first use)."""
    from virtkit.xml import parse_domain

    return parse_domain(xml)


class Job:
    """A job running on a domain (an outgoing migration); ``abort_job`` sets ``aborted``."""

    def __init__(self, operation: str) -> None:
        self.operation = operation
        self.started = time.monotonic()
        self.aborted = False

    def elapsed_ms(self) -> int:
        """Milliseconds since the job started (libvirt's ``time_elapsed``)."""
        return int((time.monotonic() - self.started) * 1000)


class TestSnapshot(NamedTuple):
    """One snapshot: its place in the tree and the domain definition it can bring back."""

    name: str
    parent: str | None
    creation_time: int
    state: str
    description: str | None
    memory: str
    domain: DomainDef | None
    disks: bytes | None = None

    def record(self, current: bool) -> SnapshotRecord:
        return SnapshotRecord(
            name=self.name,
            parent=self.parent,
            creation_time=self.creation_time,
            state=self.state,
            location="internal",
            is_current=current,
        )

    def to_xml(self, *, secure: bool) -> str:
        """libvirt's ``<domainsnapshot>`` document, with the domain definition inside."""
        from lxml import etree

        from virtkit.xml import format_domain
        from virtkit.xml.parser import PARSER
        from virtkit.xml.serialize import to_string

        root = etree.Element("domainsnapshot")
        etree.SubElement(root, "name").text = self.name
        if self.description is not None:
            etree.SubElement(root, "description").text = self.description
        etree.SubElement(root, "state").text = self.state
        if self.parent is not None:
            etree.SubElement(etree.SubElement(root, "parent"), "name").text = self.parent
        etree.SubElement(root, "creationTime").text = str(self.creation_time)
        etree.SubElement(root, "memory", snapshot=self.memory)
        if self.disks is not None:
            root.append(etree.fromstring(self.disks))
        if self.domain is not None:
            text = format_domain(self.domain, inactive=True, secure=secure)
            root.append(etree.fromstring(text.encode(), PARSER))
        return to_string(root)


class TestDomain:
    """One domain of a test node.

    ``config`` is the persistent definition (the one the next start uses), given parsed or as
    ``config_xml`` text parsed on first use; ``live`` is the definition of the running
    instance, ``None`` while inactive or while it runs ``config`` unchanged.
    """

    def __init__(
        self,
        *,
        ref: DomainRef,
        config: DomainDef | None = None,
        config_xml: str | None = None,
        persistent: bool = True,
        managed_save: DomainDef | None = None,
    ) -> None:
        self.ref = ref
        self._config = config
        self.config_xml = config_xml
        self.persistent = persistent
        self.live: DomainDef | None = None
        self.id = -1
        self.state = DomainState.SHUTOFF
        self.reason = 0
        self.autostart = False
        self.managed_save = managed_save
        self.autodestroy_owner: object | None = None
        self.started_at = 0.0
        self.snapshots: dict[str, TestSnapshot] = {}
        self.current_snapshot: str | None = None
        self.last_job: JobInfo | None = None
        self.managed_save_paused = False
        self.job: Job | None = None
        self._xml: dict[int, str] = {}
        self.refresh()

    @property
    def active(self) -> bool:
        return self.id != -1

    @property
    def config(self) -> DomainDef:
        if self._config is None:
            assert self.config_xml is not None, "a domain needs config or config_xml"
            self._config = parse_definition(self.config_xml)
        return self._config

    @config.setter
    def config(self, value: DomainDef) -> None:
        self._config = value

    @property
    def definition(self) -> DomainDef:
        """The definition in force: the live one while active, else the persistent one."""
        return self.live if self.live is not None else self.config

    def refresh(self) -> None:
        """Rebuild the cached record and drop the cached XML after a change."""
        self.record = DomainRecord(
            name=self.ref.name,
            uuid=self.ref.uuid,
            id=self.id,
            state=self.state,
            reason=int(self.reason),
            persistent=self.persistent,
            autostart=self.autostart,
            managed_save=self.managed_save is not None,
            snapshot_count=len(self.snapshots),
        )
        self._xml.clear()

    def xml(self, flags: int) -> str:
        """The domain XML for :class:`DomainXMLFlags` ``flags``, formatted once per change."""
        key = int(flags) & _XML_FLAGS
        if not self.active:  # then every flag but SECURE gives the persistent config
            key = (key & _SECURE) | _INACTIVE
        text = self._xml.get(key)
        if text is None:
            from virtkit.xml import format_domain

            inactive = bool(key & _INACTIVE)
            text = format_domain(
                self.config if inactive and self.persistent else self.definition,
                inactive=inactive,
                secure=bool(key & _SECURE),
                migratable=bool(key & _MIGRATABLE),
                id=-1 if key & (_INACTIVE | _MIGRATABLE) else self.id,
            )
            self._xml[key] = text
        return text

    def snapshot(self, name: str) -> TestSnapshot:
        try:
            return self.snapshots[name]
        except KeyError:
            raise NoSnapshotError(
                f"domain snapshot not found: no domain snapshot with matching name '{name}'"
            ) from None

    def snapshot_records(self) -> list[SnapshotRecord]:
        return [s.record(s.name == self.current_snapshot) for s in self.snapshots.values()]


class Node:
    """A test node: domains by name, UUID and id, the lock, and who hears its events."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.by_uuid: dict[uuidlib.UUID, TestDomain] = {}
        self.by_name: dict[str, TestDomain] = {}
        self.by_id: dict[int, TestDomain] = {}
        self._next_id = itertools.count(1)
        self.sinks: dict[int, weakref.WeakMethod[EventSink]] = {}
        """Each open connection's event sink, by the id of its driver; weak, so that a
        connection dropped without ``close()`` is not kept alive by the node."""
        self.created = time.monotonic()

    def add(self, domain: TestDomain) -> None:
        self.by_uuid[domain.ref.uuid] = domain
        self.by_name[domain.ref.name] = domain
        if domain.active:
            self.by_id[domain.id] = domain

    def remove(self, domain: TestDomain) -> None:
        del self.by_uuid[domain.ref.uuid]
        del self.by_name[domain.ref.name]
        self.by_id.pop(domain.id, None)

    def get(self, ref: DomainRef) -> TestDomain:
        """The domain ``ref`` names; :class:`NoDomainError` once it is gone."""
        domain = self.by_uuid.get(ref.uuid)
        if domain is None:
            raise NoDomainError(
                f"domain not found: no domain with matching uuid '{ref.uuid}' ({ref.name})"
            )
        return domain

    def new_id(self) -> int:
        return next(self._next_id)

    def activate(
        self, domain: TestDomain, live: DomainDef | None, state: DomainState, reason: int
    ) -> None:
        """Mark ``domain`` running (or paused) from ``live`` (``None``: its persistent config)
        with a fresh id."""
        domain.live = live
        domain.id = self.new_id()
        domain.state, domain.reason = state, reason
        domain.started_at = time.monotonic()
        self.by_id[domain.id] = domain
        domain.refresh()

    def deactivate(self, domain: TestDomain, reason: int) -> None:
        """Mark ``domain`` shut off; a transient one disappears."""
        self.by_id.pop(domain.id, None)
        domain.live = None
        domain.id = -1
        domain.state, domain.reason = DomainState.SHUTOFF, reason
        domain.autodestroy_owner = None
        domain.refresh()
        if not domain.persistent:
            self.remove(domain)

    def emit(self, domain: TestDomain, event: DomainEventType, detail: int) -> None:
        """Tell every connection of this node (libvirt delivers to all of them)."""
        for key, ref in list(self.sinks.items()):
            sink = ref()
            if sink is None:
                del self.sinks[key]
            else:
                sink(domain.ref, event, int(detail))
