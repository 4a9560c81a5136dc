"""The domains of one QEMU root as this process sees them: definitions on disk, status files,
and the QEMU processes behind them.

Every look at an active domain checks its QEMU still runs (:meth:`QemuHost.reconcile`); one
that died is recorded as shut off (reason crashed, or shutdown when the guest powered off) with
a lifecycle event, in whichever process notices first.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.util
import os
import re
import shutil
import uuid as uuidlib
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING

import attrs
from virtkit.constants import (
    DomainEventStoppedDetail,
    DomainEventType,
    DomainShutoffReason,
    DomainState,
    HookEvent,
)
from virtkit.driver import DriverContext
from virtkit.errors import NoDomainError, OperationFailedError
from virtkit.records import DomainRecord, DomainRef
from virtkit.state import xdg_folder
from virtkit.uri import ConnectURI
from virtkit.xml import DomainDef, parse_domain

from virtkit_qemu import process
from virtkit_qemu.canonical import SocketFolders
from virtkit_qemu.qmp import Monitor
from virtkit_qemu.status import DomainStatus, Owner
from virtkit_qemu.store import QemuStore

if TYPE_CHECKING:
    from qemu.qmp import QMPClient

GRACEFUL_TIMEOUT = 10.0
"""Seconds a graceful destroy waits for QEMU to end after SIGTERM (libvirt's wait)."""

STOP_EVENT = {
    DomainShutoffReason.SHUTDOWN: DomainEventStoppedDetail.SHUTDOWN,
    DomainShutoffReason.DESTROYED: DomainEventStoppedDetail.DESTROYED,
    DomainShutoffReason.CRASHED: DomainEventStoppedDetail.FAILED,
    DomainShutoffReason.SAVED: DomainEventStoppedDetail.SAVED,
    DomainShutoffReason.FROM_SNAPSHOT: DomainEventStoppedDetail.FROM_SNAPSHOT,
    DomainShutoffReason.MIGRATED: DomainEventStoppedDetail.MIGRATED,
    DomainShutoffReason.FAILED: DomainEventStoppedDetail.FAILED,
}


@functools.cache
def snapshot_support() -> ModuleType | None:
    """``virtkit_qemu.snapshots`` (snapshot metadata and hooks), or ``None`` without it."""
    if importlib.util.find_spec("virtkit_qemu.snapshots") is None:
        return None
    return importlib.import_module("virtkit_qemu.snapshots")


def libvirt_socket_folders(uri: ConnectURI) -> SocketFolders:
    """Where libvirt's QEMU driver for the same URI makes its sockets: a definition taken
    from one of its running domains forgets them, as libvirt would (see
    :mod:`virtkit_qemu.canonical.generated_sockets`)."""
    if uri.path == "/system":
        lib_dir = "/var/lib/libvirt/qemu"
    elif uri.path == "/session":
        lib_dir = str(xdg_folder("XDG_CONFIG_HOME", ".config") / "libvirt" / "qemu" / "lib")
    else:  # embed: the root is checked when the driver opens
        lib_dir = os.path.join(os.path.normpath(uri.param("root") or "/"), "lib", "qemu")
    return SocketFolders.of_lib_dir(lib_dir)


@attrs.frozen(kw_only=True)
class DomainEntry:
    """One domain: persistent when it has a config, active when its status has a QEMU."""

    name: str
    uuid: uuidlib.UUID
    config: str | None
    status: DomainStatus | None

    @property
    def active(self) -> bool:
        return self.status is not None and self.status.active

    @property
    def ref(self) -> DomainRef:
        return DomainRef(name=self.name, uuid=self.uuid)


_UUID_ELEMENT = re.compile(r"<uuid>\s*([^<\s]+)\s*</uuid>")


def _uuid_of_config(xml: str) -> uuidlib.UUID:
    """The UUID of a definition virtkit wrote: its ``<uuid>`` (always there, right after
    ``<name>``), read without parsing the document; parsed when it is not found there."""
    match = _UUID_ELEMENT.search(xml)
    if match is not None:
        with contextlib.suppress(ValueError):
            return uuidlib.UUID(match.group(1))
    uuid = parse_domain(xml).uuid
    assert uuid is not None  # define always writes one
    return uuid


class QemuHost:
    def __init__(self, ctx: DriverContext, store: QemuStore) -> None:
        self.ctx = ctx
        self.store = store
        self.sockets = libvirt_socket_folders(ctx.uri)
        self.connection_id = uuidlib.uuid4().hex
        self.seen_state: dict[uuidlib.UUID, DomainState] = {}
        """The run state (running or paused) last reported to this connection's listeners: the
        event watcher reports a change made by another process, not one made here."""
        self.on_active: list[Callable[[DomainStatus], None]] = []
        self.shared_session: Callable[[DomainStatus], QMPClient | None] = lambda status: None
        """The event watcher's open QMP session to a domain's QEMU, if it holds one."""
        """Told of every active domain looked at (the event watcher attaches to it)."""

    # ------------------------------------------------------------------ finding domains

    def _config_uuid(self, name: str) -> tuple[uuidlib.UUID, str] | None:
        xml = self.store.config_xml(name)
        if xml is None:
            return None
        return _uuid_of_config(xml), xml

    def entry_by_name(self, name: str) -> DomainEntry | None:
        status = self.reconcile(name)
        found = self._config_uuid(name)
        if found is None and status is None:
            return None
        if status is not None:
            return DomainEntry(
                name=name, uuid=status.uuid, config=found[1] if found else None, status=status
            )
        assert found is not None
        return DomainEntry(name=name, uuid=found[0], config=found[1], status=None)

    def entries(self) -> list[DomainEntry]:
        names = set(self.store.config_names()) | set(self.store.status_names())
        found = [self.entry_by_name(name) for name in sorted(names)]
        return [e for e in found if e is not None]

    def entry_with_uuid(self, uuid: uuidlib.UUID) -> DomainEntry | None:
        """The domain with this UUID, found by reading the UUIDs of the definitions and of the
        transient domains' status only (a third of what :meth:`entries` reads per domain)."""
        configs = self.store.config_names()
        for name in configs:
            xml = self.store.config_xml(name)
            if xml is not None and _uuid_of_config(xml) == uuid:
                return self.entry_by_name(name)
        for name in set(self.store.status_names()).difference(configs):
            status = self.store.status(name)
            if status is not None and status.uuid == uuid:
                return self.entry_by_name(name)
        return None

    def find(
        self, *, name: str | None = None, uuid: uuidlib.UUID | None = None, id: int | None = None
    ) -> DomainEntry | None:
        if name is not None:
            return self.entry_by_name(name)
        if uuid is not None:
            return self.entry_with_uuid(uuid)
        for entry in self.entries():
            if (
                id is not None
                and entry.status is not None
                and entry.status.id == id
                and entry.active
            ):
                return entry
        return None

    def get(self, ref: DomainRef) -> DomainEntry:
        """The domain ``ref`` names; :class:`NoDomainError` if it is gone or was replaced."""
        entry = self.entry_by_name(ref.name)
        if entry is None or entry.uuid != ref.uuid:
            raise NoDomainError(
                f"domain not found: no domain with matching uuid '{ref.uuid}' ({ref.name})"
            )
        return entry

    def record(self, entry: DomainEntry) -> DomainRecord:
        status = entry.status
        return DomainRecord(
            name=entry.name,
            uuid=entry.uuid,
            id=status.id if status is not None and status.active else -1,
            state=status.state if status is not None else DomainState.SHUTOFF,
            reason=status.reason if status is not None else DomainShutoffReason.UNKNOWN,
            persistent=entry.config is not None,
            autostart=entry.config is not None and self.store.autostart(entry.name),
            managed_save=self.store.has_managed_save(entry.name),
            snapshot_count=self.snapshot_count(entry.name),
        )

    def snapshot_count(self, name: str) -> int:
        snapshots = snapshot_support()
        return int(snapshots.snapshot_count(self, name)) if snapshots is not None else 0

    def xml(self, entry: DomainEntry, *, inactive: bool = False) -> str:
        """The live XML of an active domain, else (or with ``inactive``) its config."""
        if entry.active and not (inactive and entry.config is not None):
            live = self.store.live_xml(entry.name)
            if live is not None:
                return live
        if entry.config is None:
            raise NoDomainError(f"domain '{entry.name}' has no definition on disk")
        return entry.config

    def definition(self, entry: DomainEntry, *, inactive: bool = False) -> DomainDef:
        return parse_domain(self.xml(entry, inactive=inactive))

    def quick_monitor(self, status: DomainStatus) -> Monitor:
        """A monitor for short commands: the event watcher's session when this process holds
        it (no connection to make), else a connection of its own. Not for passing fds."""
        return Monitor(
            self.store.runtime_paths(status.uuid).qmp,
            name=status.name,
            session=self.shared_session(status),
        )

    # ------------------------------------------------------------------ noticing stopped QEMUs

    def reconcile(self, name: str) -> DomainStatus | None:
        """The domain's status after checking its QEMU: a dead QEMU is recorded as stopped, an
        autodestroy domain whose owner process is gone is destroyed."""
        status = self.store.status(name)
        if status is None or not status.active:
            return status
        assert status.pid is not None and status.started is not None
        if not process.is_alive(status.pid, status.started):
            # With -no-shutdown a guest power-off leaves QEMU running: a QEMU that is gone
            # crashed or was killed, unless an operation that stops it said why, or its
            # autodestroy owner is gone (the reaper stopped it).
            owner = status.autodestroy
            if status.stopping:
                reason = DomainShutoffReason(status.stopping)
            elif owner is not None and not process.is_alive(owner.pid, owner.started):
                reason = DomainShutoffReason.DESTROYED
            else:
                reason = DomainShutoffReason.CRASHED
            self.stop_and_record(status, reason)
            return self.store.status(name)
        owner = status.autodestroy
        if owner is not None and not process.is_alive(owner.pid, owner.started):
            self.stop_and_record(status, DomainShutoffReason.DESTROYED)
            return self.store.status(name)
        for notify in self.on_active:
            notify(status)
        return status

    def stop_and_record(
        self,
        status: DomainStatus,
        reason: DomainShutoffReason,
        *,
        restarting: bool = False,
        graceful: bool = False,
    ) -> bool:
        """Make sure ``status``'s QEMU is gone, record the domain shut off with ``reason``, tell
        extensions and event listeners. ``False`` when someone else already recorded it.
        ``restarting``: the domain is started again at once (a revert into a new QEMU), so a
        transient one keeps its snapshots meanwhile. ``graceful``: SIGTERM only, waited for
        :data:`GRACEFUL_TIMEOUT` seconds.

        :raises OperationFailedError: ``graceful``, and QEMU did not end (nothing recorded)."""
        with self.store.lock():
            current = self.store.status(status.name)
            if current is None or current.pid != status.pid or current.started != status.started:
                return False
            assert status.pid is not None and status.started is not None
            try:
                if graceful:
                    process.terminate(status.pid, status.started, GRACEFUL_TIMEOUT, kill=False)
                else:
                    process.terminate(status.pid, status.started, grace=0.15)
            except TimeoutError as exc:
                raise OperationFailedError(
                    f"cannot stop domain '{status.name}' gracefully: {exc}; a destroy without "
                    "the graceful flag kills it"
                ) from exc
            xml = self.store.live_xml(status.name) or self.store.config_xml(status.name) or ""
            if status.runtime_dir:
                shutil.rmtree(status.runtime_dir, ignore_errors=True)
            self.record_stopped(status, reason, keep_snapshots=restarting)
        self.after_stop(status, reason, xml)
        return True

    def record_stopped(
        self, status: DomainStatus, reason: DomainShutoffReason, *, keep_snapshots: bool = False
    ) -> None:
        """Write the shut-off status. A transient domain disappears, with its snapshot metadata
        and its job files unless ``keep_snapshots`` (it starts again at once; as in libvirt, a
        later domain of its name must not inherit them); the metadata goes first, so that a
        crash between leaves the status to redo it. Hold the store lock."""
        if status.transient or self.store.config_xml(status.name) is None:
            snapshots = snapshot_support()
            if snapshots is not None and not keep_snapshots:
                snapshots.remove_metadata(self, status.name)
            self.store.remove_status(status.name)
            if not keep_snapshots:
                self.store.forget_jobs(status.uuid)
            return
        stopped = DomainStatus(
            name=status.name, uuid=status.uuid, state=DomainState.SHUTOFF, reason=reason
        )
        with self.store.run.transaction() as batch:
            batch.write_text(f"status/{status.name}.json", stopped.to_json())
            batch.remove(f"live/{status.name}.xml")

    def after_stop(self, status: DomainStatus, reason: DomainShutoffReason, xml: str) -> None:
        self.ctx.run_domain_hook(HookEvent.STOPPED, status.name, xml)
        self.ctx.run_domain_hook(HookEvent.RELEASE, status.name, xml)
        self.ctx.emit_event(
            DomainRef(name=status.name, uuid=status.uuid),
            DomainEventType.STOPPED,
            int(STOP_EVENT[reason]),
        )

    # ------------------------------------------------------------------ autodestroy

    def owner(self) -> Owner:
        pid = os.getpid()
        return Owner(pid=pid, started=process.start_time(pid) or 0, connection=self.connection_id)

    def destroy_owned(self) -> None:
        """Destroy the domains this connection started with autodestroy."""
        for name in self.store.status_names():
            status = self.store.status(name)
            owner = status.autodestroy if status is not None and status.active else None
            if status is not None and owner is not None and owner.connection == self.connection_id:
                self.stop_and_record(status, DomainShutoffReason.DESTROYED)
