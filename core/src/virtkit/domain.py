"""A domain handle (libvirt's ``virDomain``): every call goes to the connection's driver."""

from __future__ import annotations

import os
import uuid as uuidlib
from typing import TYPE_CHECKING, Any, Literal, overload

from virtkit.constants import (
    DomainCreateFlags,
    DomainMigrateFlags,
    DomainSnapshotCreateFlags,
    DomainSnapshotRevertFlags,
    DomainState,
    DomainUndefineFlags,
    DomainXMLFlags,
)
from virtkit.errors import InvalidArgumentError, NoSnapshotError, OperationInvalidError
from virtkit.records import (
    DomainInfo,
    DomainRecord,
    DomainRef,
    JobInfo,
    ProgressCallback,
    SnapshotRecord,
)

if TYPE_CHECKING:
    import subprocess
    from collections.abc import Sequence

    from virtkit.connection import Connection
    from virtkit.snapshot import Snapshot


class Domain:
    """One domain of a connection. The handle stays valid while the domain exists."""

    def __init__(self, conn: Connection, ref: DomainRef) -> None:
        self._conn = conn
        self._ref = ref

    def __repr__(self) -> str:
        return f"<Domain {self._ref.name} {self._ref.uuid}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Domain) and other._conn is self._conn and other._ref == self._ref

    def __hash__(self) -> int:
        return hash(self._ref.uuid)

    def _call(self, hook: str, *, change: bool, **kwargs: Any) -> Any:
        return self._conn._call(hook, change=change, dom=self._ref, **kwargs)

    def record(self) -> DomainRecord:
        """The domain's current record (state, id, persistent, autostart...) in one call.

        Looked up by the handle's name, which drivers find without reading every domain, and
        by UUID only when that name is gone or names another domain now."""
        found = self._conn._find_record(name=self._ref.name)
        if found is not None and found.uuid == self._ref.uuid:
            return found
        return self._conn.lookup_record(uuid=self._ref.uuid)

    def connect(self) -> Connection:
        return self._conn

    @property
    def ref(self) -> DomainRef:
        return self._ref

    # ------------------------------------------------------------------ identity and state

    def name(self) -> str:
        return self._ref.name

    def uuid(self) -> uuidlib.UUID:
        return self._ref.uuid

    def uuid_string(self) -> str:
        return str(self._ref.uuid)

    def id(self) -> int:
        """The hypervisor's id while active, -1 while inactive."""
        return self.record().id

    def state(self) -> tuple[DomainState, int]:
        """``(state, reason)``; the reason enumeration for each state is in ``REASONS``."""
        record = self.record()
        return record.state, record.reason

    def info(self) -> DomainInfo:
        info = self._call("virtkit_domain_get_info", change=False)
        assert isinstance(info, DomainInfo)
        return info

    def is_active(self) -> bool:
        return self.record().active

    def is_persistent(self) -> bool:
        return self.record().persistent

    def autostart(self) -> bool:
        return self.record().autostart

    def xml_desc(
        self,
        flags: int = 0,
        *,
        inactive: bool = False,
        secure: bool = False,
        migratable: bool = False,
    ) -> str:
        for wanted, flag in (
            (inactive, DomainXMLFlags.INACTIVE),
            (secure, DomainXMLFlags.SECURE),
            (migratable, DomainXMLFlags.MIGRATABLE),
        ):
            if wanted:
                flags |= flag
        return str(self._call("virtkit_domain_get_xml", change=False, flags=flags))

    # ------------------------------------------------------------------ lifecycle

    def create(
        self,
        flags: int = 0,
        *,
        paused: bool = False,
        autodestroy: bool = False,
        force_boot: bool = False,
    ) -> None:
        """Start the (inactive, persistent) domain."""
        for wanted, flag in (
            (paused, DomainCreateFlags.START_PAUSED),
            (autodestroy, DomainCreateFlags.START_AUTODESTROY),
            (force_boot, DomainCreateFlags.START_FORCE_BOOT),
        ):
            if wanted:
                flags |= flag
        self._call("virtkit_domain_start", change=True, flags=flags, snapshot=None)

    create_with_flags = create

    def shutdown(self, flags: int = 0, *, timeout: float | None = None) -> None:
        """Ask the guest to shut down; with ``timeout`` (seconds), power off if it has not
        stopped by then, and return once it is off."""
        if timeout is not None and timeout < 0:
            raise InvalidArgumentError(f"shutdown timeout must not be negative, got {timeout}")
        self._call("virtkit_domain_shutdown", change=True, flags=flags, timeout=timeout)

    shutdown_flags = shutdown

    def destroy(self, flags: int = 0) -> None:
        self._call("virtkit_domain_destroy", change=True, flags=flags)

    destroy_flags = destroy

    def reboot(self, flags: int = 0) -> None:
        self._call("virtkit_domain_reboot", change=True, flags=flags)

    def reset(self, flags: int = 0) -> None:
        self._call("virtkit_domain_reset", change=True)

    def suspend(self) -> None:
        self._call("virtkit_domain_suspend", change=True)

    def resume(self) -> None:
        self._call("virtkit_domain_resume", change=True)

    def undefine(self) -> None:
        self.undefine_flags(0)

    def undefine_flags(
        self,
        flags: int = 0,
        *,
        snapshots_metadata: bool = False,
        managed_save: bool = False,
        nvram: bool = False,
        keep_nvram: bool = False,
    ) -> None:
        """Remove the persistent config. Refused while snapshots or a managed save image exist
        unless the matching flag says to remove them too; a driver that keeps a UEFI variable
        store refuses unless told to remove it (``nvram``) or keep it (``keep_nvram``)."""
        if snapshots_metadata:
            flags |= DomainUndefineFlags.SNAPSHOTS_METADATA
        if managed_save:
            flags |= DomainUndefineFlags.MANAGED_SAVE
        if nvram:
            flags |= DomainUndefineFlags.NVRAM
        if keep_nvram:
            flags |= DomainUndefineFlags.KEEP_NVRAM
        self._conn._check_call("virtkit_domain_undefine", change=True)
        record = self.record()
        if record.snapshot_count and not flags & DomainUndefineFlags.SNAPSHOTS_METADATA:
            raise OperationInvalidError(
                f"cannot undefine domain '{record.name}' with {record.snapshot_count} "
                "snapshot(s): pass snapshots_metadata (--snapshots-metadata) to delete their "
                "metadata too"
            )
        if record.managed_save and not flags & DomainUndefineFlags.MANAGED_SAVE:
            raise OperationInvalidError(
                f"refusing to undefine domain '{record.name}' while it has a managed save image: "
                "pass managed_save (--managed-save) to remove it too"
            )
        self._call("virtkit_domain_undefine", change=True, flags=flags)

    def set_autostart(self, autostart: bool) -> None:
        self._call("virtkit_domain_set_autostart", change=True, autostart=bool(autostart))

    def rename(self, new_name: str, flags: int = 0) -> None:
        """Rename the inactive persistent domain (its UUID stays); this handle follows it."""
        if not new_name or "\n" in new_name:
            raise InvalidArgumentError(f"invalid domain name {new_name!r}")
        self._call("virtkit_domain_rename", change=True, new_name=new_name, flags=flags)
        self._ref = DomainRef(name=new_name, uuid=self._ref.uuid)

    # ------------------------------------------------------------------ save and restore

    def save(
        self,
        path: str | os.PathLike[str],
        xml: str | None = None,
        flags: int = 0,
        *,
        progress: ProgressCallback | None = None,
    ) -> None:
        """Save the running domain's state to ``path`` and stop it."""
        self._call(
            "virtkit_domain_save",
            change=True,
            path=os.fspath(path),
            xml=xml,
            flags=flags,
            progress=progress,
        )

    def managed_save(self, flags: int = 0, *, progress: ProgressCallback | None = None) -> None:
        self._call("virtkit_domain_managed_save", change=True, flags=flags, progress=progress)

    def has_managed_save_image(self, flags: int = 0) -> bool:
        return self.record().managed_save

    def managed_save_remove(self, flags: int = 0) -> None:
        self._call("virtkit_domain_managed_save_remove", change=True)

    def open_console(self, dev_name: str | None = None) -> str:
        """The path of the running domain's console (a pseudo-terminal or a unix socket), like
        libvirt's ``virDomainOpenConsole``; refused on a read-only connection."""
        return str(self._call("virtkit_domain_open_console", change=True, dev_name=dev_name))

    @overload
    def lxc_enter_namespace(self, argv: Sequence[str], *, capture: Literal[False] = ...) -> int: ...

    @overload
    def lxc_enter_namespace(
        self, argv: Sequence[str], *, capture: Literal[True]
    ) -> subprocess.CompletedProcess[bytes]: ...

    def lxc_enter_namespace(
        self, argv: Sequence[str], *, capture: bool = False
    ) -> int | subprocess.CompletedProcess[bytes]:
        """Run ``argv`` inside the running container, in its cgroups and namespaces (libvirt's
        ``virDomainLxcEnterNamespace``), and wait for it; refused on a read-only connection.

        :returns: its exit status (128 + N when killed by signal N) on the caller's stdin,
            stdout and stderr; with ``capture=True`` the completed process, output included.
        """
        if not argv:
            raise InvalidArgumentError("lxc_enter_namespace needs a program to run")
        result: subprocess.CompletedProcess[bytes] = self._call(
            "virtkit_domain_lxc_enter_namespace", change=True, argv=list(argv), capture=capture
        )
        return result if capture else result.returncode

    # ------------------------------------------------------------------ snapshots

    def snapshot_create_xml(
        self,
        xml: str,
        flags: int = 0,
        **options: bool,
    ) -> Snapshot:
        """Take a snapshot described by ``<domainsnapshot>`` XML.

        Keyword options name :class:`DomainSnapshotCreateFlags` in lower case
        (``disk_only=True``, ``halt=True``, ``redefine=True``...).
        """
        from virtkit.snapshot import Snapshot
        from virtkit.xml import parse_snapshot

        for option, wanted in options.items():
            try:
                flag = DomainSnapshotCreateFlags[option.upper()]
            except KeyError:
                raise TypeError(f"snapshot_create_xml() got an unknown option {option!r}") from None
            if wanted:
                flags |= flag
        self._conn._check_call("virtkit_snapshot_create", change=True)
        _check_snapshot_create_flags(flags)
        definition = parse_snapshot(xml)
        name = self._call(
            "virtkit_snapshot_create", change=True, definition=definition, flags=flags
        )
        return Snapshot(self, str(name))

    def _snapshot_records(self) -> list[SnapshotRecord]:
        return list(self._call("virtkit_snapshot_list", change=False))

    def list_all_snapshots(self, flags: int = 0) -> list[Snapshot]:
        """Snapshots passing :class:`DomainSnapshotListFlags` filters ``flags``."""
        from virtkit.snapshot import Snapshot, select_snapshots

        chosen = select_snapshots(self._snapshot_records(), parent=None, flags=flags)
        return [Snapshot(self, r.name) for r in chosen]

    def snapshot_num(self, flags: int = 0) -> int:
        return len(self.list_all_snapshots(flags))

    def snapshot_lookup_by_name(self, name: str, flags: int = 0) -> Snapshot:
        from virtkit.snapshot import Snapshot

        if not any(r.name == name for r in self._snapshot_records()):
            raise NoSnapshotError(
                f"domain snapshot not found: no domain snapshot with matching name '{name}'"
            )
        return Snapshot(self, name)

    def has_current_snapshot(self, flags: int = 0) -> bool:
        return any(r.is_current for r in self._snapshot_records())

    def snapshot_current(self, flags: int = 0) -> Snapshot:
        from virtkit.snapshot import Snapshot

        for record in self._snapshot_records():
            if record.is_current:
                return Snapshot(self, record.name)
        raise NoSnapshotError(f"the domain '{self.name()}' has no current snapshot")

    def revert_to_snapshot(
        self,
        snap: Snapshot,
        flags: int = 0,
        *,
        running: bool = False,
        paused: bool = False,
        force: bool = False,
    ) -> None:
        """Return the domain to ``snap``'s state. A failure changes nothing."""
        for wanted, flag in (
            (running, DomainSnapshotRevertFlags.RUNNING),
            (paused, DomainSnapshotRevertFlags.PAUSED),
            (force, DomainSnapshotRevertFlags.FORCE),
        ):
            if wanted:
                flags |= flag
        both = DomainSnapshotRevertFlags.RUNNING | DomainSnapshotRevertFlags.PAUSED
        if flags & both == both:
            raise InvalidArgumentError("revert flags 'running' and 'paused' are mutually exclusive")
        self._call("virtkit_snapshot_revert", change=True, name=snap.get_name(), flags=flags)

    # ------------------------------------------------------------------ jobs and migration

    def job_info(self, *, completed: bool = False) -> JobInfo:
        info = self._call("virtkit_domain_get_job_info", change=False, completed=completed)
        assert isinstance(info, JobInfo)
        return info

    def job_stats(self, flags: int = 0, *, completed: bool = False) -> dict[str, Any]:
        """The job's statistics as libvirt's typed parameters (``type``, ``time_elapsed``...)."""
        info = self.job_info(completed=completed or bool(flags & 1))
        stats: dict[str, Any] = {
            "type": int(info.type),
            "operation": info.operation,
            "time_elapsed": info.time_elapsed,
            "time_remaining": info.time_remaining,
            "data_total": info.data_total,
            "data_processed": info.data_processed,
            "data_remaining": info.data_remaining,
            "memory_total": info.mem_total,
            "memory_processed": info.mem_processed,
            "memory_remaining": info.mem_remaining,
        }
        stats.update(info.stats)
        return stats

    def abort_job(self) -> None:
        self._call("virtkit_domain_abort_job", change=True)

    def migrate(
        self,
        dest: Connection,
        flags: int = 0,
        params: dict[str, Any] | None = None,
        *,
        progress: ProgressCallback | None = None,
    ) -> Domain:
        """Migrate to the host of ``dest`` through libvirt's phases; return the new handle."""
        from virtkit.migration import migrate

        return migrate(self, dest, DomainMigrateFlags(flags), dict(params or {}), progress)


def _check_snapshot_create_flags(flags: int) -> None:
    """libvirt's rules for snapshot creation flags that hold for every driver."""
    create = DomainSnapshotCreateFlags
    if flags & create.CURRENT and not flags & create.REDEFINE:
        raise InvalidArgumentError("snapshot flag 'current' requires flag 'redefine'")
    for one, other, words in (
        (create.REDEFINE, create.NO_METADATA, "'redefine' and 'no_metadata'"),
        (create.REDEFINE, create.HALT, "'redefine' and 'halt'"),
        (create.HALT, create.LIVE, "'halt' and 'live'"),
    ):
        if flags & one and flags & other:
            raise InvalidArgumentError(f"snapshot flags {words} are mutually exclusive")
