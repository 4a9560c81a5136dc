"""Save a running domain's memory to a file and start it again from there (also the managed
save image that the next start resumes from), with progress and job statistics.

Save writes ``<path>.part`` and renames it only once QEMU has written the whole stream; a
failed or aborted save leaves no file and the domain running (or paused) as before.
"""

from __future__ import annotations

import os
import time
import uuid as uuidlib
from pathlib import Path
from typing import Any

import attrs
from virtkit.constants import (
    DomainEventStartedDetail,
    DomainJobType,
    DomainPausedReason,
    DomainRunningReason,
    DomainSaveRestoreFlags,
    DomainShutoffReason,
    DomainState,
    HookEvent,
)
from virtkit.errors import (
    DomainExistsError,
    OperationAbortedError,
    OperationFailedError,
    OperationInvalidError,
)
from virtkit.records import DomainRef, JobInfo, Progress, ProgressCallback
from virtkit.xml import parse_domain

from virtkit_qemu.host import DomainEntry, QemuHost
from virtkit_qemu.launch import Incoming
from virtkit_qemu.lifecycle import StartRequest, active_status, monitor, start_domain
from virtkit_qemu.saveimage import SaveHeader, open_image, write_header
from virtkit_qemu.status import DomainStatus

POLL = 0.02
ACTIVE_JOB = ("active", "setup", "device", "pre-switchover")
"""``query-migrate`` states of a job that can still be cancelled."""
MAX_BANDWIDTH = 1 << 40
"""Bytes per second: no limit for a save to a local file (QEMU's default is 32 MiB/s)."""

JOB_END = {
    "completed": DomainJobType.COMPLETED,
    "failed": DomainJobType.FAILED,
    "cancelled": DomainJobType.CANCELLED,
}
"""``query-migrate`` states that end a job, and the job type each leaves."""


def remember_end(host: QemuHost, uuid: uuidlib.UUID, info: dict[str, Any], operation: str) -> None:
    """Record the statistics of a save or migration that ended (``domjobinfo --completed``)."""
    kind = JOB_END.get(str(info.get("status")))
    if kind is not None:
        host.store.write_completed_job(uuid, job_from_migrate(info, operation, kind))


def job_from_migrate(info: dict[str, Any], operation: str, type_: DomainJobType) -> JobInfo:
    ram = info.get("ram", {})
    return JobInfo(
        type=type_,
        operation=operation,
        time_elapsed=int(info.get("total-time", 0)),
        data_total=int(ram.get("total", 0)),
        data_processed=int(ram.get("transferred", 0)),
        data_remaining=int(ram.get("remaining", 0)),
        mem_total=int(ram.get("total", 0)),
        mem_processed=int(ram.get("transferred", 0)),
        mem_remaining=int(ram.get("remaining", 0)),
        stats=_migrate_stats(info),
    )


def _migrate_stats(info: dict[str, Any]) -> dict[str, int | float | str]:
    """libvirt's further job statistics from ``query-migrate`` (``downtime``: the measured one
    once done, else the one QEMU expects)."""
    ram = info.get("ram", {})
    stats: dict[str, int | float | str] = {
        "memory_bps": int(float(ram.get("mbps", 0)) * 1_000_000 / 8),
        "memory_dirty_rate": int(ram.get("dirty-pages-rate", 0)),
        "memory_page_size": int(ram.get("page-size", 4096)),
        "memory_iteration": int(ram.get("dirty-sync-count", 0)),
        "memory_constant": int(ram.get("duplicate", 0)),
        "memory_normal": int(ram.get("normal", 0)),
        "memory_normal_bytes": int(ram.get("normal-bytes", 0)),
        "memory_postcopy_requests": int(ram.get("postcopy-requests", 0)),
    }
    for key in ("downtime", "expected-downtime"):
        if key in info:
            stats["downtime"] = int(info[key])
            break
    if "setup-time" in info:
        stats["setup_time"] = int(info["setup-time"])
    return stats


def save(
    host: QemuHost,
    ref: DomainRef,
    path: Path,
    xml: str | None,
    flags: int,
    progress: ProgressCallback | None,
) -> None:
    """Write the domain to ``path`` and stop it (reason saved)."""
    store = host.store
    with store.job_lock(ref.uuid):
        entry = host.get(ref)
        status = active_status(host, ref)
        image_xml = xml or host.xml(entry)
        parse_domain(image_xml)  # an alternative XML must at least parse
        running = status.state == DomainState.RUNNING
        if flags & DomainSaveRestoreFlags.RUNNING:
            running = True
        elif flags & DomainSaveRestoreFlags.PAUSED:
            running = False
        part = Path(f"{path}.part")
        try:
            fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise OperationFailedError(f"cannot create save image {part}: {exc.strerror}") from exc
        try:
            write_header(fd, SaveHeader(xml=image_xml, running=running))
            paused = _pause_for_save(host, status)
            try:
                _migrate_to(host, paused, fd, progress)
                os.fsync(fd)
            except BaseException:
                _resume_after_failed_save(host, status, paused)
                raise
        except BaseException:
            os.close(fd)
            part.unlink(missing_ok=True)
            raise
        os.close(fd)
        os.replace(part, path)
        host.stop_and_record(paused, DomainShutoffReason.SAVED)


def _pause_for_save(host: QemuHost, status: DomainStatus) -> DomainStatus:
    with host.store.lock():
        with monitor(host, status) as mon:
            mon.execute("stop")
        paused = attrs.evolve(status, state=DomainState.PAUSED, reason=int(DomainPausedReason.SAVE))
        host.store.write_status(paused)
    return paused


def _resume_after_failed_save(host: QemuHost, before: DomainStatus, paused: DomainStatus) -> None:
    with host.store.lock():
        current = host.store.status(before.name)
        if current is None or current.pid != before.pid:
            return  # destroyed meanwhile
        if before.state == DomainState.RUNNING:
            with monitor(host, paused) as mon:
                mon.execute("cont")
            host.store.write_status(
                attrs.evolve(
                    current,
                    state=DomainState.RUNNING,
                    reason=int(DomainRunningReason.SAVE_CANCELED),
                )
            )
        else:
            host.store.write_status(attrs.evolve(current, state=before.state, reason=before.reason))


def _migrate_to(
    host: QemuHost, status: DomainStatus, fd: int, progress: ProgressCallback | None
) -> None:
    with monitor(host, status) as mon:
        mon.call("migrate-set-parameters", {"max-bandwidth": MAX_BANDWIDTH})
        mon.send_fd(fd, "save")
        mon.execute("migrate", uri="fd:save")
    # Poll on fresh connections so job info and abort from other threads get the monitor.
    while True:
        with monitor(host, status) as mon:
            info = mon.execute("query-migrate")
        state = info.get("status")
        if progress is not None and "ram" in info:
            progress(
                Progress(
                    operation="save",
                    processed=int(info["ram"]["transferred"]),
                    total=int(info["ram"]["total"]),
                )
            )
        remember_end(host, status.uuid, info, "save")
        if state == "completed":
            return
        if state == "cancelled":
            raise OperationAbortedError(f"saving domain '{status.name}' was aborted")
        if state == "failed":
            raise OperationFailedError(
                f"QEMU failed to save domain '{status.name}': "
                f"{info.get('error-desc', 'unknown error')}"
            )
        time.sleep(POLL)


def restore(
    host: QemuHost, path: Path, xml: str | None, flags: int, progress: ProgressCallback | None
) -> DomainEntry:
    """Start the domain saved in ``path``: the persistent domain of that name if there is one
    (same UUID), else a transient one."""
    fd, header, size = open_image(path)
    try:
        image_xml = xml or header.xml
        definition = parse_domain(image_xml)
        image_xml = host.ctx.run_domain_hook(HookEvent.RESTORE, definition.name, image_xml)
        definition = parse_domain(image_xml)
        if definition.uuid is None:
            raise OperationFailedError(f"save image {path} holds a domain XML without a UUID")
        with host.store.job_lock(definition.uuid):
            existing = host.find(name=definition.name)
            if existing is not None and existing.uuid != definition.uuid:
                raise DomainExistsError(
                    f"domain '{definition.name}' already exists with uuid {existing.uuid}, "
                    f"not the image's {definition.uuid}"
                )
            if existing is not None and existing.active:
                raise OperationInvalidError(f"domain '{definition.name}' is already running")
            _start_from_image(
                host,
                definition.name,
                definition.uuid,
                image_xml,
                fd,
                size,
                header,
                flags,
                progress,
                transient=existing is None or existing.config is None,
            )
    finally:
        os.close(fd)
    entry = host.find(name=definition.name)
    assert entry is not None
    return entry


def _start_from_image(
    host: QemuHost,
    name: str,
    uuid: uuidlib.UUID,
    xml: str,
    fd: int,
    size: int,
    header: SaveHeader,
    flags: int,
    progress: ProgressCallback | None,
    *,
    transient: bool,
) -> DomainStatus:
    paused = bool(flags & DomainSaveRestoreFlags.PAUSED) or (
        not header.running and not flags & DomainSaveRestoreFlags.RUNNING
    )
    started = time.monotonic()
    status = start_domain(
        host,
        name,
        uuid,
        StartRequest(
            xml=xml,
            paused=paused,
            transient=transient,
            incoming=Incoming(fd=fd, size=size, progress=progress),
            reason=DomainRunningReason.RESTORED,
            event=DomainEventStartedDetail.RESTORED,
            new_genid=True,
        ),
    )
    host.store.write_completed_job(
        uuid,
        JobInfo(
            type=DomainJobType.COMPLETED,
            operation="restore",
            time_elapsed=int((time.monotonic() - started) * 1000),
            data_total=size,
            data_processed=size,
        ),
    )
    return status


def start_from_managed_save(
    host: QemuHost, entry: DomainEntry, flags: int, *, paused: bool
) -> None:
    """Resume the domain from its managed save image, then delete the image."""
    path = host.store.managed_save_path(entry.name)
    fd, header, size = open_image(path)
    try:
        image = parse_domain(header.xml)
        if image.uuid != entry.uuid:
            raise OperationFailedError(
                f"managed save image {path} belongs to another domain (uuid {image.uuid})"
            )
        restore_flags = DomainSaveRestoreFlags.PAUSED if paused else 0
        _start_from_image(
            host,
            entry.name,
            entry.uuid,
            header.xml,
            fd,
            size,
            header,
            restore_flags,
            None,
            transient=False,
        )
    finally:
        os.close(fd)
    host.store.remove_managed_save(entry.name)


def managed_save(
    host: QemuHost, ref: DomainRef, flags: int, progress: ProgressCallback | None
) -> None:
    entry = host.get(ref)
    if entry.config is None:
        raise OperationInvalidError(f"cannot do managed save for transient domain '{ref.name}'")
    path = host.store.managed_save_path(ref.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    save(host, ref, path, None, flags, progress)


def managed_save_remove(host: QemuHost, ref: DomainRef) -> None:
    host.get(ref)
    host.store.remove_managed_save(ref.name)


def job_info(host: QemuHost, ref: DomainRef, completed: bool) -> JobInfo:
    if completed:
        return host.store.completed_job(ref.uuid)
    entry = host.get(ref)
    if not entry.active or entry.status is None:
        return JobInfo()
    with monitor(host, entry.status) as mon:
        info = mon.execute("query-migrate")
    if info.get("status") not in ("active", "setup", "pre-switchover", "device"):
        return JobInfo()
    return job_from_migrate(info, "save", DomainJobType.UNBOUNDED)


def abort_job(host: QemuHost, ref: DomainRef) -> None:
    status = active_status(host, ref)
    with monitor(host, status) as mon:
        if mon.execute("query-migrate").get("status") not in ACTIVE_JOB:
            raise OperationInvalidError(f"domain '{ref.name}' has no job to abort")
        mon.execute("migrate_cancel")
