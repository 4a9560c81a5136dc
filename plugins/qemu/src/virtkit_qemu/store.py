"""Where the QEMU driver keeps each domain's files, on :mod:`virtkit.state` stores.

- config store: ``domains/<name>.xml`` (persistent definition), ``autostart/<name>.on``
- state store: ``save/<name>.save`` (managed save image), ``log/<name>.log`` (QEMU's output);
  part B keeps snapshot metadata here too
- run store: ``status/<name>.json`` (:class:`DomainStatus`), ``live/<name>.xml`` (the XML the
  running QEMU was started from), ``d/<uuid12>/`` (sockets and pidfile of one QEMU), ``next-id``,
  ``jobs/<uuid>.lock`` (a domain's job lock) and ``jobs/<uuid>.json`` (its last finished job),
  both removed once the domain is gone

The config store writes a definition as libvirt does (content fsynced, then renamed over the
old one; no fsync of the folder): a crash, power loss included, leaves the old or the new
definition, never a torn one; a power loss may undo the last change. The state store (snapshot
metadata, images) is fully durable. The run store is not durable (atomic against crashes of a
process, no fsync): its files describe running processes and mean nothing after a reboot. Its
lock guards every read-modify-write of these files (held briefly); long operations on one
domain hold its job lock (:meth:`QemuStore.job_lock`) instead.
"""

from __future__ import annotations

import contextlib
import functools
import json
import time
import uuid as uuidlib
from collections.abc import Iterator
from pathlib import Path

import attrs
from virtkit.constants import DomainJobType
from virtkit.errors import ConfigUnsupportedError, HostSystemError
from virtkit.records import JobInfo
from virtkit.state import StateRoots, StateStore, Transaction
from virtkit.state.lock import FileLock, file_lock

from virtkit_qemu.argv.defaults import SOCKET_PATH_MAX
from virtkit_qemu.status import DomainStatus


@attrs.frozen(kw_only=True)
class RuntimePaths:
    """One QEMU's sockets and pidfile."""

    folder: Path

    @property
    def qmp(self) -> Path:
        return self.folder / "qmp.sock"

    @property
    def events(self) -> Path:
        return self.folder / "event.sock"

    @property
    def pidfile(self) -> Path:
        return self.folder / "pid"


class QemuStore:
    def __init__(self, roots: StateRoots) -> None:
        self.config = StateStore(roots.config_dir, sync_folders=False)
        self.state = StateStore(roots.state_dir)
        # Run-time files describe live processes and mean nothing after a reboot: no fsync.
        self.run = StateStore(roots.run_dir, durable=False)
        self.capabilities = roots.cache_dir / "capabilities"
        """Where the emulators' answers to the capability probe are kept (see
        :func:`virtkit_qemu.canonical.probe.probe_caps`)."""
        self.written: dict[str, DomainStatus] = {}
        """The last status this process wrote of each domain by name, while it has one (the
        status file may be newer)."""

    def lock(self) -> contextlib.AbstractContextManager[None]:
        """The lock guarding definitions and status of every domain of this root."""
        return self.run.lock()

    @contextlib.contextmanager
    def job_lock(self, uuid: uuidlib.UUID) -> Iterator[None]:
        """Serialize operations on one domain, across processes."""
        lock = self._job_lock(uuid)
        lock.acquire()
        try:
            yield
        finally:
            lock.release()

    def _job_lock(self, uuid: uuidlib.UUID) -> FileLock:
        return file_lock(self.run.path(f"jobs/{uuid}.lock"), removable=True)

    def forget_jobs(self, uuid: uuidlib.UUID) -> None:
        """The domain is gone: remove its last job's statistics, and its job lock file unless
        another thread or process holds it (busy with the domain); a hold of this thread's
        own ends first. Hold the store lock."""
        self.run.remove(f"jobs/{uuid}.json")
        lock = self._job_lock(uuid)
        if lock.try_acquire():
            lock.discard()
            lock.release()

    # ------------------------------------------------------------------ definitions

    def config_xml(self, name: str) -> str | None:
        return self.config.read_text(f"domains/{name}.xml")

    def write_config(self, name: str, xml: str) -> None:
        with self.config_batch() as batch:
            self.stage_config(batch, name, xml)

    def config_batch(self) -> contextlib.AbstractContextManager[Transaction]:
        """A transaction of the config store, for :meth:`stage_config`."""
        return self.config.transaction()

    def stage_config(self, batch: Transaction, name: str, xml: str) -> None:
        """Write the definition of ``name`` in ``batch``: staged at once, on its way to the
        disk while the batch goes on, in place when it ends."""
        batch.write_text(f"domains/{name}.xml", xml)

    def remove_config(self, name: str) -> None:
        with self.config.transaction() as batch:
            batch.remove(f"domains/{name}.xml")
            batch.remove(f"autostart/{name}.on")

    def move_config(self, old: str, new: str, xml: str) -> None:
        """Make ``xml`` the definition of ``new`` in place of ``old``'s, with its autostart
        mark, in one transaction."""
        autostart = self.autostart(old)
        with self.config.transaction() as batch:
            batch.write_text(f"domains/{new}.xml", xml)
            batch.remove(f"domains/{old}.xml")
            if autostart:
                batch.write_text(f"autostart/{new}.on", "")
                batch.remove(f"autostart/{old}.on")

    def config_names(self) -> list[str]:
        return self.config.list("domains", ".xml")

    def autostart(self, name: str) -> bool:
        return self.config.exists(f"autostart/{name}.on")

    def set_autostart(self, name: str, on: bool) -> None:
        if on:
            self.config.write_text(f"autostart/{name}.on", "")
        else:
            self.config.remove(f"autostart/{name}.on")

    # ------------------------------------------------------------------ runtime

    def status(self, name: str) -> DomainStatus | None:
        text = self.run.read_text(f"status/{name}.json")
        if not text:
            return None
        try:
            return DomainStatus.from_json(text)
        except (ValueError, KeyError, TypeError) as exc:
            raise HostSystemError(
                f"the status file {self.run.path(f'status/{name}.json')} is corrupt ({exc}); "
                "remove it if no QEMU runs for this domain"
            ) from exc

    def write_status(self, status: DomainStatus, live_xml: str | None = None) -> None:
        """Record ``status`` (and the live XML with it, in one transaction), stamped with the
        time of writing."""
        status = attrs.evolve(status, changed_at=time.time())
        with self.run.transaction() as batch:
            batch.write_text(f"status/{status.name}.json", status.to_json())
            if live_xml is not None:
                batch.write_text(f"live/{status.name}.xml", live_xml)
        self.written[status.name] = status

    def remove_status(self, name: str) -> None:
        with self.run.transaction() as batch:
            batch.remove(f"status/{name}.json")
            batch.remove(f"live/{name}.xml")
        self.written.pop(name, None)

    def status_names(self) -> list[str]:
        return self.run.list("status", ".json")

    def live_xml(self, name: str) -> str | None:
        return self.run.read_text(f"live/{name}.xml")

    def completed_job(self, uuid: uuidlib.UUID) -> JobInfo:
        """The statistics of the domain's last finished job (``domjobinfo --completed``), as
        the process that ran it recorded them; an empty job when there was none."""
        relpath = f"jobs/{uuid}.json"
        text = self.run.read_text(relpath)
        if not text:
            return JobInfo()
        try:
            fields = json.loads(text)
            return JobInfo(**{**fields, "type": DomainJobType(fields["type"])})
        except (ValueError, KeyError, TypeError) as exc:
            raise HostSystemError(
                f"the job statistics file {self.run.path(relpath)} is corrupt ({exc})"
            ) from exc

    def write_completed_job(self, uuid: uuidlib.UUID, job: JobInfo) -> None:
        """Record ``job`` as the domain's last finished job, for every process to read."""
        self.run.write_text(
            f"jobs/{uuid}.json", json.dumps({**job._asdict(), "stats": dict(job.stats)})
        )

    def runtime_folder(self, uuid: uuidlib.UUID) -> Path:
        """The folder of the domain's QEMU sockets, whether or not they fit (see
        :meth:`runtime_paths`)."""
        return self.run.path(f"d/{uuid.hex[:12]}")

    def runtime_paths(self, uuid: uuidlib.UUID) -> RuntimePaths:
        """The QEMU's sockets and pidfile, refused where the root is too deep for them."""
        paths = RuntimePaths(folder=self.runtime_folder(uuid))
        if len(str(paths.events)) > SOCKET_PATH_MAX:
            raise ConfigUnsupportedError(
                f"the run folder {self.run.directory} is too deep for QEMU's unix sockets "
                f"({len(str(paths.events))} > {SOCKET_PATH_MAX} bytes): use a shorter root"
            )
        return paths

    def next_id(self) -> int:
        with self.run.lock():
            value = int(self.run.read_text("next-id") or "1")
            self.run.write_text("next-id", str(value + 1))
        return value

    # ------------------------------------------------------------------ images and logs

    @functools.cached_property
    def nvram_dir(self) -> str:
        """The folder of the UEFI variable stores the driver makes (``NAME_VARS.fd``)."""
        return str(self.state.path("nvram"))

    def managed_save_path(self, name: str) -> Path:
        return self.state.path(f"save/{name}.save")

    def has_managed_save(self, name: str) -> bool:
        return self.state.exists(f"save/{name}.save")

    def remove_managed_save(self, name: str) -> None:
        """Delete the managed save image durably (its folder fsynced): an image that came back
        after a power loss would later resume a guest whose disks have moved on."""
        self.state.remove(f"save/{name}.save")

    def log_path(self, name: str) -> Path:
        path = self.state.path(f"log/{name}.log")
        path.parent.mkdir(parents=True, exist_ok=True)
        return path
