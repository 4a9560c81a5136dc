"""Test driver hooks: migration between two test connections (libvirt's five phases) and jobs.

The source's *begin* starts an outgoing-migration job and offers the migratable XML; the
destination's *prepare* checks it (extensions may rewrite it at ``HookEvent.MIGRATE``) and holds
it until *finish* starts the domain there; the source's *confirm* then stops its copy. Two
connections to ``test:///default`` share one node, so migrating between them is refused like
migrating to the same host.
"""

from __future__ import annotations

import json

from virtkit.constants import (
    DomainEventDefinedDetail,
    DomainEventStartedDetail,
    DomainEventStoppedDetail,
    DomainEventSuspendedDetail,
    DomainEventType,
    DomainEventUndefinedDetail,
    DomainJobType,
    DomainMigrateFlags,
    DomainRunningReason,
    DomainShutoffReason,
    DomainState,
    DomainXMLFlags,
    HookEvent,
)
from virtkit.drivers.test.lifecycle import domain_resources
from virtkit.drivers.test.snapshots import SnapshotHooks
from virtkit.drivers.test.state import Job, TestDomain, parse_definition
from virtkit.errors import InvalidArgumentError, OperationAbortedError, OperationInvalidError
from virtkit.hookspecs import MigrateParams, hookimpl
from virtkit.records import (
    DomainRecord,
    DomainRef,
    JobInfo,
    MigrationOffer,
    MigrationTarget,
    Progress,
    ProgressCallback,
)

OUTGOING = "outgoing migration"


class MigrationHooks(SnapshotHooks):
    """Migration phases, job info and abort."""

    @hookimpl
    def virtkit_migrate_begin(
        self, dom: DomainRef, flags: int, params: MigrateParams
    ) -> MigrationOffer:
        with self.node.lock:
            domain = self.node.get(dom)
            offline = bool(flags & DomainMigrateFlags.OFFLINE)
            if offline and not flags & DomainMigrateFlags.PERSIST_DEST:
                raise InvalidArgumentError("offline migration requires the persist_dest flag")
            if not offline:
                self.require_active(domain)
            if domain.job is not None:
                raise OperationInvalidError(
                    f"Requested operation is not valid: domain '{dom.name}' already runs a "
                    f"{domain.job.operation} job"
                )
            xml = params.get("destination_xml")
            if xml is not None:
                definition = parse_definition(xml)
                if definition.name != dom.name or definition.uuid not in (None, dom.uuid):
                    raise InvalidArgumentError(
                        "destination_xml must describe the same domain (name and uuid) as the "
                        "source"
                    )
            else:
                xml = domain.xml(DomainXMLFlags.INACTIVE if offline else DomainXMLFlags.MIGRATABLE)
            domain.job = Job(operation=OUTGOING)
            cookie = {"paused": domain.state == DomainState.PAUSED}
            return MigrationOffer(xml=xml, cookie=json.dumps(cookie).encode())

    @hookimpl
    def virtkit_migrate_prepare(
        self, offer: MigrationOffer, flags: int, params: MigrateParams
    ) -> MigrationTarget:
        definition = parse_definition(offer.xml)
        with self.node.lock:
            rewritten = self.hook(HookEvent.MIGRATE, definition.name, definition)
            if rewritten is not None:
                definition = parse_definition(rewritten)
            existing, definition, ref = self._claim(definition, live=True)
            if existing is not None and existing.active:
                raise OperationInvalidError(
                    f"Requested operation is not valid: domain '{ref.name}' is already "
                    "active here (migrating to the same host?)"
                )
            if not flags & DomainMigrateFlags.OFFLINE:
                self.prepare_start(ref.name, definition)
            self.incoming[ref.name] = definition
            return MigrationTarget(
                uri=f"test://{self.ctx.uri.host or 'localhost'}/", cookie=offer.cookie
            )

    @hookimpl
    def virtkit_migrate_perform(
        self,
        dom: DomainRef,
        target: MigrationTarget,
        flags: int,
        params: MigrateParams,
        progress: ProgressCallback | None,
    ) -> bytes:
        with self.node.lock:
            domain = self.node.get(dom)
            job = domain.job
            if job is None:
                raise OperationInvalidError("migration perform phase without a begin phase")
            if job.aborted:
                raise OperationAbortedError(
                    f"operation aborted: {OUTGOING} job: canceled by client"
                )
            memory = domain_resources(domain.definition)[1] * 1024
        if progress is not None:
            progress(Progress(operation="migrate", processed=memory, total=memory))
        return json.dumps({"paused": domain.state == DomainState.PAUSED}).encode()

    @hookimpl
    def virtkit_migrate_finish(
        self, name: str, cookie: bytes, flags: int, params: MigrateParams, cancelled: bool
    ) -> DomainRecord | None:
        with self.node.lock:
            definition = self.incoming.pop(name, None)
            if cancelled or definition is None:
                return None
            domain = self.node.by_uuid.get(definition.uuid) if definition.uuid else None
            persist = bool(flags & DomainMigrateFlags.PERSIST_DEST)
            if domain is None:
                assert definition.uuid is not None
                domain = TestDomain(
                    ref=DomainRef(name=definition.name, uuid=definition.uuid),
                    config=definition,
                    persistent=persist,
                )
                self.node.add(domain)
            elif persist:
                domain.config = definition
            domain.persistent = domain.persistent or persist
            if persist:
                self.node.emit(domain, DomainEventType.DEFINED, DomainEventDefinedDetail.ADDED)
            if not flags & DomainMigrateFlags.OFFLINE:
                paused = bool(flags & DomainMigrateFlags.PAUSED) or json.loads(cookie or b"{}").get(
                    "paused", False
                )
                self.commit_start(
                    domain,
                    definition,
                    reason=DomainRunningReason.MIGRATED,
                    detail=DomainEventStartedDetail.MIGRATED,
                    paused=paused,
                    paused_detail=DomainEventSuspendedDetail.MIGRATED,
                )
            domain.refresh()
            return domain.record

    @hookimpl
    def virtkit_migrate_confirm(
        self, dom: DomainRef, cookie: bytes, flags: int, params: MigrateParams, cancelled: bool
    ) -> None:
        with self.node.lock:
            domain = self.node.get(dom)
            job, domain.job = domain.job, None
            elapsed = job.elapsed_ms() if job else 0
            if cancelled:
                domain.last_job = JobInfo(
                    type=DomainJobType.CANCELLED if job and job.aborted else DomainJobType.FAILED,
                    operation=OUTGOING,
                    time_elapsed=elapsed,
                )
                return
            memory = domain_resources(domain.definition)[1] * 1024
            domain.last_job = JobInfo(
                type=DomainJobType.COMPLETED,
                operation=OUTGOING,
                time_elapsed=elapsed,
                mem_total=memory,
                mem_processed=memory,
            )
            if domain.active:
                self.stop(domain, DomainShutoffReason.MIGRATED, DomainEventStoppedDetail.MIGRATED)
            if flags & DomainMigrateFlags.UNDEFINE_SOURCE and dom.uuid in self.node.by_uuid:
                self.node.remove(domain)
                self.node.emit(
                    domain, DomainEventType.UNDEFINED, DomainEventUndefinedDetail.REMOVED
                )

    @hookimpl
    def virtkit_domain_get_job_info(self, dom: DomainRef, completed: bool) -> JobInfo:
        with self.node.lock:
            domain = self.node.get(dom)
            if completed:
                return domain.last_job or JobInfo()
            if domain.job is None:
                return JobInfo()
            return JobInfo(
                type=DomainJobType.UNBOUNDED,
                operation=domain.job.operation,
                time_elapsed=domain.job.elapsed_ms(),
            )

    @hookimpl
    def virtkit_domain_abort_job(self, dom: DomainRef) -> None:
        with self.node.lock:
            domain = self.node.get(dom)
            if domain.job is None:
                raise OperationInvalidError(
                    f"Requested operation is not valid: no job is active on domain '{dom.name}'"
                )
            domain.job.aborted = True
