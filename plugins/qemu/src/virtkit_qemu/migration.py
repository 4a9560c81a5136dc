"""Migration of QEMU domains between two roots (hosts), in libvirt's five phases.

- begin (source): the migratable XML (the running definition without what QEMU chose at start)
  and a cookie: the UUID, the disks' identities, the snapshot metadata.
- prepare (destination): refuse a name or UUID clash, a missing disk, an unwritable root; run
  the extensions' ``migrate`` hook on the XML; then start a paused QEMU with ``-incoming defer``
  listening on TCP (loopback unless told) or a unix socket (``listen_address``, ``migrate_uri``),
  exporting the disks to copy over NBD. The domain exists there as paused (migration) and
  transient until finish.
- perform (source): QMP ``migrate`` with the capabilities and parameters asked (auto-converge,
  postcopy, bandwidth, max downtime), disk mirrors first when copying storage, polled with
  ``query-migrate`` (progress callbacks, job statistics, ``migrate_cancel`` aborts).
- finish (destination): resume (or stay paused), persist with ``PERSIST_DEST``.
- confirm (source): stop the source QEMU (and undefine with ``UNDEFINE_SOURCE``), or roll back:
  cancel what still runs and resume the source as it was.

Each side keeps a small record of a migration in progress in its run store
(``migration/<name>.in.json`` / ``.out.json``), so finish and confirm (run with ``cancelled``
when any phase failed) know what to undo, whichever process calls them.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import attrs
from virtkit import hookimpl
from virtkit.constants import DomainEventDefinedDetail as Defined
from virtkit.constants import DomainEventResumedDetail as Resumed
from virtkit.constants import DomainEventStartedDetail as Started
from virtkit.constants import (
    DomainEventType,
    DomainJobType,
    DomainPausedReason,
    DomainRunningReason,
    DomainShutoffReason,
    DomainState,
    HookEvent,
)
from virtkit.constants import DomainMigrateFlags as F
from virtkit.errors import (
    DomainExistsError,
    InvalidArgumentError,
    OperationAbortedError,
    OperationFailedError,
    OperationInvalidError,
)
from virtkit.records import (
    DomainRecord,
    DomainRef,
    JobInfo,
    MigrationOffer,
    MigrationTarget,
    Progress,
    ProgressCallback,
)
from virtkit.xml import parse_domain

from virtkit_qemu import lifecycle, migration_storage, saverestore
from virtkit_qemu.host import QemuHost
from virtkit_qemu.launch import Incoming
from virtkit_qemu.live import migratable_xml
from virtkit_qemu.qmp import Monitor
from virtkit_qemu.snapshot_store import SnapshotTree
from virtkit_qemu.status import DomainStatus

POLL = 0.01
FOLLOW_POLL = 0.05
"""Seconds between looks at an outgoing stream: more often competes with it for QEMU's lock."""
ARRIVAL_TIMEOUT = 30.0
"""Seconds the destination waits, at finish, for the stream the source said it sent."""
DEFAULT_LISTEN = "127.0.0.1"
CAPABILITIES = ("auto-converge", "postcopy-ram", "pause-before-switchover")


# ---------------------------------------------------------------------- records of a migration


def _record_path(name: str, side: str) -> str:
    return f"migration/{name}.{side}.json"


def _write_record(host: QemuHost, name: str, side: str, data: dict[str, Any]) -> None:
    host.store.run.write_text(_record_path(name, side), json.dumps(data))


def _read_record(host: QemuHost, name: str, side: str) -> dict[str, Any] | None:
    text = host.store.run.read_text(_record_path(name, side))
    return json.loads(text) if text else None


def _drop_record(host: QemuHost, name: str, side: str) -> None:
    host.store.run.remove(_record_path(name, side))


# ---------------------------------------------------------------------- begin (source)


PARAMS = {
    "bandwidth": int,
    "max_downtime": int,
    "listen_address": str,
    "migrate_uri": str,
    "destination_xml": str,
}
"""The migration parameters this driver takes (libvirt's names; bandwidth in MiB/s, max
downtime in milliseconds)."""


def check_params(params: dict[str, Any]) -> None:
    for key, value in params.items():
        kind = PARAMS.get(key)
        if kind is None:
            raise InvalidArgumentError(
                f"unsupported migration parameter '{key}' (known: {', '.join(sorted(PARAMS))})"
            )
        positive = not isinstance(value, int) or value >= 1
        if not isinstance(value, kind) or isinstance(value, bool) or not positive:
            what = "a positive integer" if kind is int else "a string"
            raise InvalidArgumentError(f"migration parameter '{key}' must be {what}: {value!r}")


def begin(host: QemuHost, ref: DomainRef, flags: int, params: dict[str, Any]) -> MigrationOffer:
    check_params(params)
    entry = host.get(ref)
    if flags & F.OFFLINE:
        if entry.active:
            raise OperationInvalidError(
                f"domain '{ref.name}' is running: offline migration moves a shut-off domain"
            )
        if entry.config is None:
            raise OperationInvalidError(f"transient domain '{ref.name}' has no definition to move")
        if not flags & F.PERSIST_DEST:
            raise InvalidArgumentError("offline migration requires flag 'persist_dest'")
        xml = entry.config
    else:
        if not entry.active:
            raise OperationInvalidError(
                f"domain '{ref.name}' is not running (offline migration moves its definition)"
            )
        if flags & F.POSTCOPY and flags & F.NON_SHARED_DISK:
            raise InvalidArgumentError("post-copy migration cannot copy storage")
        xml = migratable_xml(host.xml(entry), str(host.store.runtime_folder(ref.uuid)))
    disks = migration_storage.source_disks(xml, sizes=bool(flags & F.NON_SHARED_DISK))
    tree = SnapshotTree(host.store.state, ref.name)
    cookie = {
        "uuid": str(ref.uuid),
        "paused": entry.status is not None and entry.status.state == DomainState.PAUSED,
        "disks": [attrs.asdict(d) for d in disks],
        "snapshots": {
            n: host.store.state.read_text(f"{tree.folder}/tree/{n}.xml") for n in tree.names()
        },
        "current": tree.current(),
    }
    return MigrationOffer(xml=xml, cookie=json.dumps(cookie).encode())


# ---------------------------------------------------------------------- prepare (destination)


def _check_writable(host: QemuHost) -> None:
    for store in (host.store.config, host.store.state, host.store.run):
        folder = Path(store.directory)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(dir=folder, prefix=".probe-")
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            raise OperationFailedError(
                f"the destination folder {folder} is not writable: {exc.strerror}"
            ) from exc


def _check_clash(host: QemuHost, name: str, uuid: Any) -> bool:
    """Refuse a domain of that name or UUID that is another or runs; ``True`` when the same
    domain is defined here (shut off)."""
    if _read_record(host, name, "in") is not None:
        raise OperationInvalidError(f"domain '{name}' is already migrating to this host")
    same_name = host.entry_by_name(name)
    if same_name is not None and same_name.uuid == uuid and not same_name.active:
        return True
    clash = same_name or host.entry_with_uuid(uuid)
    if clash is not None:
        state = "running" if clash.active else "defined"
        raise DomainExistsError(
            f"domain '{clash.name}' (uuid {clash.uuid}) is already {state} on the destination"
        )
    return False


@attrs.frozen(kw_only=True)
class Listen:
    """Where the destination's QEMU listens (QEMU URI) and how the source reaches it (host)."""

    uri: str
    connect_host: str


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def listen_on(params: dict[str, Any]) -> Listen:
    """From ``migrate_uri`` (``tcp:HOST[:PORT]``, ``tcp://HOST[:PORT]``, ``unix:PATH``) and
    ``listen_address``; by default TCP on loopback, on a port QEMU picks."""
    address = params.get("listen_address")
    uri = params.get("migrate_uri")
    if uri is None:
        host = address or DEFAULT_LISTEN
        return Listen(uri=f"tcp:{_bracket(host)}:0", connect_host=_connectable(host))
    scheme, _, rest = str(uri).partition(":")
    rest = rest.removeprefix("//")
    if scheme == "unix" and rest:
        return Listen(uri=f"unix:{rest}", connect_host="")
    if scheme == "tcp" and rest:
        if rest.startswith("["):
            host, _, port = rest[1:].partition("]")
            port = port.removeprefix(":")
        else:
            host, _, port = rest.partition(":")
        if port and not port.isdigit():
            raise InvalidArgumentError(f"migration URI '{uri}': the port '{port}' is not a number")
        listen = address or host
        return Listen(uri=f"tcp:{_bracket(listen)}:{port or 0}", connect_host=host)
    raise InvalidArgumentError(
        f"migration URI '{uri}': expected tcp:HOST[:PORT], tcp://HOST[:PORT] or unix:PATH"
    )


def _connectable(address: str) -> str:
    return "127.0.0.1" if address in ("0.0.0.0", "::", "[::]") else address


def prepare(
    host: QemuHost, offer: MigrationOffer, flags: int, params: dict[str, Any]
) -> MigrationTarget:
    source = json.loads(offer.cookie or b"{}")
    xml = params.get("destination_xml") or offer.xml
    name = parse_domain(offer.xml).name
    xml = host.ctx.run_domain_hook(HookEvent.MIGRATE, name, xml)
    definition = parse_domain(xml)
    if definition.name != name:
        raise InvalidArgumentError(
            f"the destination XML names the domain '{definition.name}', not '{name}': "
            "a domain keeps its name when it migrates"
        )
    if str(definition.uuid) != source.get("uuid"):
        raise InvalidArgumentError(
            f"the destination XML of domain '{name}' has uuid {definition.uuid}, "
            f"not the source's {source.get('uuid')}"
        )
    listen = None if flags & F.OFFLINE else listen_on(params)
    _check_writable(host)
    disks = [migration_storage.SourceDisk(**d) for d in source.get("disks", [])]
    with host.store.lock():  # no define of that name meanwhile
        defined_here = _check_clash(host, name, definition.uuid)
        plan = migration_storage.plan_disks(
            xml, disks, copy=bool(flags & F.NON_SHARED_DISK) and not flags & F.OFFLINE
        )
        record = {
            "uuid": str(definition.uuid),
            "xml": xml,
            "created": list(plan.created),
            "snapshots": source.get("snapshots", {}),
            "current": source.get("current"),
            "paused": bool(source.get("paused")),
            "socket": listen.uri.removeprefix("unix:")
            if listen and not listen.connect_host
            else None,
        }
        _write_record(host, name, "in", record)
        try:
            if listen is None:
                return MigrationTarget(uri="")
            return _start_incoming(host, name, xml, flags, listen, plan, transient=not defined_here)
        except BaseException:
            _drop_record(host, name, "in")
            migration_storage.remove_images(plan.created)
            raise


def _start_incoming(
    host: QemuHost,
    name: str,
    xml: str,
    flags: int,
    listen: Listen,
    plan: migration_storage.DiskPlan,
    *,
    transient: bool,
) -> MigrationTarget:
    definition = parse_domain(xml)
    assert definition.uuid is not None
    nbd = host.store.runtime_paths(definition.uuid).folder / "nbd.sock"
    addresses: list[dict[str, Any]] = []

    def listen_step(mon: Monitor) -> None:
        if flags & F.POSTCOPY:
            mon.execute(
                "migrate-set-capabilities",
                capabilities=[{"capability": "postcopy-ram", "state": True}],
            )
        if plan.copies:
            migration_storage.export_disks(mon, nbd, plan.copies)
        mon.execute("migrate-incoming", uri=listen.uri)
        addresses.extend(mon.execute("query-migrate").get("socket-address", []))

    status = lifecycle.start_domain(
        host,
        name,
        definition.uuid,
        lifecycle.StartRequest(
            xml=xml,
            paused=True,
            transient=transient,
            incoming=Incoming(fd=None, size=0),
            steps=[listen_step],
            event=Started.MIGRATED,
        ),
    )
    host.store.write_status(attrs.evolve(status, reason=int(DomainPausedReason.MIGRATION)))
    if listen.connect_host:
        port = next((a["port"] for a in addresses if a.get("type") == "inet"), None)
        if port is None:
            host.stop_and_record(status, DomainShutoffReason.FAILED)
            raise OperationFailedError(f"QEMU did not say where it listens ({listen.uri})")
        uri = f"tcp:{_bracket(listen.connect_host)}:{port}"
    else:
        uri = listen.uri
    cookie = {"nbd": str(nbd), "copies": list(plan.copies)}
    return MigrationTarget(uri=uri, cookie=json.dumps(cookie).encode())


# ---------------------------------------------------------------------- perform (source)


def _parameters(params: dict[str, Any]) -> dict[str, Any]:
    bandwidth = params.get("bandwidth")
    out: dict[str, Any] = {
        "max-bandwidth": int(bandwidth) << 20 if bandwidth else saverestore.MAX_BANDWIDTH
    }
    if params.get("max_downtime") is not None:
        out["downtime-limit"] = int(params["max_downtime"])
    return out


def _set_capabilities(mon: Monitor, on: set[str]) -> None:
    mon.execute(
        "migrate-set-capabilities",
        capabilities=[{"capability": c, "state": c in on} for c in CAPABILITIES],
    )


def perform(
    host: QemuHost,
    ref: DomainRef,
    target: MigrationTarget,
    flags: int,
    params: dict[str, Any],
    progress: ProgressCallback | None,
) -> bytes:
    if flags & F.OFFLINE:
        return b""
    with host.store.job_lock(ref.uuid):
        status = lifecycle.active_status(host, ref)
        _write_record(host, ref.name, "out", {"state": int(status.state), "reason": status.reason})
        incoming = json.loads(target.cookie or b"{}")
        copies = tuple(incoming.get("copies", ()))
        caps = {
            c
            for c, flag in (("auto-converge", F.AUTO_CONVERGE), ("postcopy-ram", F.POSTCOPY))
            if flags & flag
        } | ({"pause-before-switchover"} if copies else set())
        try:
            with lifecycle.monitor(host, status) as mon:
                _set_capabilities(mon, caps)
                mon.call("migrate-set-parameters", _parameters(params))
                if copies:
                    migration_storage.start_mirrors(mon, Path(incoming["nbd"]), copies)
            if copies:
                migration_storage.wait_ready(
                    lambda: lifecycle.monitor(host, status), copies, ref.name
                )
            with lifecycle.monitor(host, status) as mon:
                mon.execute("migrate", uri=target.uri)
            _follow(host, status, bool(flags & F.POSTCOPY), progress)
        finally:
            try:
                with lifecycle.monitor(host, status) as mon:
                    _set_capabilities(mon, set())
            except OperationFailedError:
                pass  # QEMU is gone; confirm records it
    return b""


def _follow(
    host: QemuHost, status: DomainStatus, postcopy: bool, progress: ProgressCallback | None
) -> None:
    """Poll ``query-migrate`` on fresh connections (so job info and abort get the monitor)
    until the stream is through; with ``postcopy`` switch to post-copy after the first pass and
    return then: the destination runs from there, fetching the pages it lacks (confirm waits
    for the last one before stopping the source)."""
    switched = False
    while True:
        with lifecycle.monitor(host, status) as mon:
            info = mon.execute("query-migrate")
            state = info.get("status")
            ram = info.get("ram", {})
            if state == "pre-switchover":
                migration_storage.end_mirrors(mon, force=False)
                mon.execute("migrate-continue", state="pre-switchover")
            elif (
                postcopy
                and not switched
                and state == "active"
                and ram.get("dirty-sync-count", 0) >= 2
            ):
                mon.execute("migrate-start-postcopy")
                switched = True
        if progress is not None and ram:
            progress(
                Progress(
                    operation="migrate",
                    processed=int(ram.get("transferred", 0)),
                    total=int(ram.get("total", 0)),
                )
            )
        saverestore.remember_end(host, status.uuid, info, "migration_out")
        if state in ("completed", "postcopy-active"):
            return
        if state == "cancelled":
            raise OperationAbortedError(f"migration of domain '{status.name}' was aborted")
        if state == "failed":
            raise OperationFailedError(
                f"QEMU failed to migrate domain '{status.name}': "
                f"{info.get('error-desc', 'unknown error')}"
            )
        time.sleep(FOLLOW_POLL)


def _wait_sent(host: QemuHost, status: DomainStatus) -> None:
    """Wait for the end of a post-copy stream (the destination already runs)."""
    while True:
        with lifecycle.monitor(host, status) as mon:
            info = mon.execute("query-migrate")
        saverestore.remember_end(host, status.uuid, info, "migration_out")
        state = info.get("status")
        if state == "completed":
            return
        if state in ("failed", "cancelled"):
            raise OperationFailedError(
                f"post-copy migration of domain '{status.name}' failed after the switch, the "
                f"guest's memory is split between both hosts: {info.get('error-desc', state)}"
            )
        time.sleep(FOLLOW_POLL)


# ---------------------------------------------------------------------- finish (destination)


def finish(
    host: QemuHost, name: str, flags: int, params: dict[str, Any], *, cancelled: bool
) -> DomainRecord | None:
    record = _read_record(host, name, "in")
    if record is None:
        if cancelled:
            return None  # prepare made nothing
        raise OperationFailedError(f"no incoming migration of domain '{name}' on this host")
    if cancelled:
        _discard_incoming(host, name, record)
        return None
    if flags & F.OFFLINE:
        _persist(host, name, record)
    else:
        _take_over(host, name, record, flags)
        if flags & F.PERSIST_DEST:
            _persist(host, name, record)
    _drop_record(host, name, "in")
    entry = host.find(name=name)
    assert entry is not None
    return host.record(entry)


def _incoming_status(host: QemuHost, name: str, uuid: str) -> DomainStatus | None:
    status = host.reconcile(name)
    if status is None or not status.active or str(status.uuid) != uuid:
        return None
    return status


def _take_over(host: QemuHost, name: str, record: dict[str, Any], flags: int) -> None:
    """Wait for the whole stream, stop serving disks, then run (or stay paused)."""
    status = _incoming_status(host, name, record["uuid"])
    if status is None:
        raise OperationFailedError(f"the QEMU receiving domain '{name}' is gone")
    deadline = time.monotonic() + ARRIVAL_TIMEOUT
    while True:
        with lifecycle.monitor(host, status) as mon:
            info = mon.execute("query-migrate")
        state = info.get("status")
        if state == "completed" or (state == "postcopy-active" and flags & F.POSTCOPY):
            break
        if state in ("failed", "cancelled") or time.monotonic() > deadline:
            raise OperationFailedError(
                f"domain '{name}' did not arrive: {info.get('error-desc', state)}"
            )
        time.sleep(POLL)
    paused = bool(flags & F.PAUSED) or bool(record.get("paused"))  # a paused guest stays so
    with host.store.lock():
        with lifecycle.monitor(host, status) as mon:
            if status.runtime_dir and (Path(status.runtime_dir) / "nbd.sock").exists():
                migration_storage.stop_export(mon)
            if not paused:
                mon.execute("cont")
        state_reason = (
            (DomainState.PAUSED, int(DomainPausedReason.USER))
            if paused
            else (DomainState.RUNNING, int(DomainRunningReason.MIGRATED))
        )
        host.store.write_status(attrs.evolve(status, state=state_reason[0], reason=state_reason[1]))
        host.seen_state[status.uuid] = state_reason[0]
    if record.get("socket"):
        Path(record["socket"]).unlink(missing_ok=True)
    if not paused:
        host.ctx.emit_event(
            DomainRef(name=name, uuid=status.uuid), DomainEventType.RESUMED, int(Resumed.MIGRATED)
        )


def _persist(host: QemuHost, name: str, record: dict[str, Any]) -> None:
    """Write the definition and the snapshot metadata that came with it."""
    snapshots: dict[str, str] = record.get("snapshots") or {}
    tree = SnapshotTree(host.store.state, name)
    if snapshots:
        tree.commit(write=snapshots, current=record.get("current"))
    try:
        with host.store.lock():
            host.store.write_config(name, record["xml"])
            status = host.store.status(name)
            if status is not None and status.transient:
                host.store.write_status(attrs.evolve(status, transient=False))
    except BaseException:
        if snapshots:
            tree.remove_all()
        raise
    ref = DomainRef(name=name, uuid=parse_domain(record["xml"]).uuid)  # type: ignore[arg-type]
    host.ctx.emit_event(ref, DomainEventType.DEFINED, int(Defined.ADDED))


def _discard_incoming(host: QemuHost, name: str, record: dict[str, Any]) -> None:
    """Undo prepare: stop the waiting QEMU (its sockets go with it) and remove what was made."""
    status = _incoming_status(host, name, record["uuid"])
    if status is not None:
        host.stop_and_record(status, DomainShutoffReason.FAILED)
    stale = host.store.status(name)
    if stale is not None and stale.runtime_dir:
        shutil.rmtree(stale.runtime_dir, ignore_errors=True)
    if record.get("socket"):
        Path(record["socket"]).unlink(missing_ok=True)
    migration_storage.remove_images(record.get("created", []))
    _drop_record(host, name, "in")


# ---------------------------------------------------------------------- confirm (source)


def confirm(host: QemuHost, ref: DomainRef, flags: int, *, cancelled: bool) -> None:
    if cancelled:
        _roll_back(host, ref)
        return
    entry = host.get(ref)
    if entry.active and entry.status is not None:
        if flags & F.POSTCOPY:
            _wait_sent(host, entry.status)
        host.stop_and_record(entry.status, DomainShutoffReason.MIGRATED)
    _drop_record(host, ref.name, "out")
    if flags & F.UNDEFINE_SOURCE and entry.config is not None:
        # (a UEFI variable store stays: QEMU sent its contents to the destination)
        lifecycle.undefine(host, ref, snapshot_metadata=True, nvram=False, keep_nvram=True)


def _roll_back(host: QemuHost, ref: DomainRef) -> None:
    """Cancel what still runs of the migration and let the source run on as before."""
    before = _read_record(host, ref.name, "out")
    if before is None:
        return  # perform never touched the source
    entry = host.find(name=ref.name)
    status = entry.status if entry is not None and entry.active else None
    if status is not None:
        with host.store.lock():
            with lifecycle.monitor(host, status) as mon:
                if mon.execute("query-migrate").get("status") in saverestore.ACTIVE_JOB:
                    mon.execute("migrate_cancel")
                    _wait_settled(mon)
                migration_storage.end_mirrors(mon, force=True)
                _set_capabilities(mon, set())
                running = mon.execute("query-status")["status"] == "running"
                if before["state"] == DomainState.RUNNING and not running:
                    mon.execute("cont")
            state = DomainState(before["state"])
            reason = (
                int(DomainRunningReason.MIGRATION_CANCELED)
                if state == DomainState.RUNNING
                else int(before["reason"])
            )
            current = host.store.status(ref.name) or status
            host.store.write_status(attrs.evolve(current, state=state, reason=reason))
            host.seen_state[ref.uuid] = state
    _drop_record(host, ref.name, "out")


def _wait_settled(mon: Monitor) -> None:
    deadline = time.monotonic() + ARRIVAL_TIMEOUT
    while mon.execute("query-migrate").get("status") not in ("cancelled", "failed", "completed"):
        if time.monotonic() > deadline:
            raise OperationFailedError("the cancelled migration did not end")
        time.sleep(POLL)


def job_info(host: QemuHost, ref: DomainRef, completed: bool) -> JobInfo:
    """The domain's job (see :func:`saverestore.job_info`), named ``migration_out`` while the
    domain is migrating away."""
    job = saverestore.job_info(host, ref, completed)
    if not completed and job.type != DomainJobType.NONE and _read_record(host, ref.name, "out"):
        return job._replace(operation="migration_out")
    return job


# ---------------------------------------------------------------------- hooks


class MigrationHooks:
    """The driver's ``virtkit_migrate_*`` hook implementations (a mixin; ``self.host``)."""

    host: QemuHost

    @hookimpl
    def virtkit_migrate_begin(
        self, dom: DomainRef, flags: int, params: dict[str, Any]
    ) -> MigrationOffer:
        return begin(self.host, dom, flags, params)

    @hookimpl
    def virtkit_migrate_prepare(
        self, offer: MigrationOffer, flags: int, params: dict[str, Any]
    ) -> MigrationTarget:
        return prepare(self.host, offer, flags, params)

    @hookimpl
    def virtkit_migrate_perform(
        self,
        dom: DomainRef,
        target: MigrationTarget,
        flags: int,
        params: dict[str, Any],
        progress: ProgressCallback | None,
    ) -> bytes:
        return perform(self.host, dom, target, flags, params, progress)

    @hookimpl
    def virtkit_migrate_finish(
        self, name: str, cookie: bytes, flags: int, params: dict[str, Any], cancelled: bool
    ) -> DomainRecord | None:
        return finish(self.host, name, flags, params, cancelled=cancelled)

    @hookimpl
    def virtkit_migrate_confirm(
        self, dom: DomainRef, cookie: bytes, flags: int, params: dict[str, Any], cancelled: bool
    ) -> None:
        confirm(self.host, dom, flags, cancelled=cancelled)
