"""The QEMU driver: URI handling and the hook implementations, delegating to the modules that
do the work (see DESIGN.md)."""

from __future__ import annotations

import atexit
import functools
import os
import re
import socket
import subprocess
import uuid as uuidlib
import weakref
from pathlib import Path
from typing import ClassVar

from virtkit import hookimpl
from virtkit.constants import DomainCreateFlags as Create
from virtkit.constants import (
    DomainDefineFlags,
    DomainDestroyFlags,
    DomainRebootFlags,
    DomainSaveRestoreFlags,
    DomainShutdownFlags,
    DomainXMLFlags,
)
from virtkit.constants import DomainUndefineFlags as Undefine
from virtkit.driver import DriverContext
from virtkit.errors import (
    InvalidArgumentError,
    NoConnectError,
    NoSupportError,
    OperationInvalidError,
)
from virtkit.flags import refuse_flags
from virtkit.records import DomainInfo, DomainRecord, DomainRef, JobInfo, ProgressCallback
from virtkit.state import state_roots
from virtkit.xml import DomainDef

from virtkit_qemu import lifecycle, migration, saverestore
from virtkit_qemu.argv import build_command
from virtkit_qemu.argv.accel import kvm_problem
from virtkit_qemu.argv.builder import DEFAULT_EMULATOR
from virtkit_qemu.host import QemuHost, snapshot_support
from virtkit_qemu.live import console_path
from virtkit_qemu.migration import MigrationHooks
from virtkit_qemu.store import QemuStore
from virtkit_qemu.watcher import EventWatcher

snapshots = snapshot_support()
SnapshotHooks: type = snapshots.SnapshotHooks if snapshots is not None else object
"""Part B's snapshot hook implementations (a mixin), when ``virtkit_qemu.snapshots`` exists."""

DRIVER = "QEMU"
"""The driver's name in the errors of :func:`~virtkit.flags.refuse_flags`."""
SAVE_STATES = DomainSaveRestoreFlags.RUNNING | DomainSaveRestoreFlags.PAUSED
"""The save and restore flags the driver honours (not ``BYPASS_CACHE``)."""

_open_drivers: weakref.WeakSet[QemuDriver] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    """Autodestroy domains die with the process that started them, even without close()."""
    for driver in list(_open_drivers):
        driver.virtkit_connect_close()


@functools.cache
def qemu_version() -> int:
    out = subprocess.run(
        [DEFAULT_EMULATOR, "--version"], capture_output=True, text=True, check=False
    ).stdout
    match = re.search(r"version (\d+)\.(\d+)\.(\d+)", out)
    if match is None:
        raise NoConnectError(f"cannot tell the version of {DEFAULT_EMULATOR}: is QEMU installed?")
    major, minor, micro = (int(g) for g in match.groups())
    return major * 1_000_000 + minor * 1_000 + micro


class QemuDriver(SnapshotHooks, MigrationHooks):  # type: ignore[misc]  # a mixin chosen at import
    """``qemu:///system``, ``qemu:///session`` and ``qemu:///embed?root=DIR``."""

    name: ClassVar[str] = "QEMU"

    def __init__(self, ctx: DriverContext) -> None:
        if not ctx.uri.is_local:
            raise InvalidArgumentError(
                f"the QEMU driver manages local QEMU only; '{ctx.uri}' names a host or transport"
            )
        if ctx.uri.path == "/system" and os.geteuid() != 0:
            raise NoConnectError(
                "qemu:///system manages the host's domains and needs root (there is no daemon "
                "to ask); use qemu:///session for this user's domains"
            )
        self.host = QemuHost(ctx, QemuStore(state_roots(ctx.uri, "qemu")))
        self.watcher = EventWatcher(self.host)
        self._closed = False
        _open_drivers.add(self)

    @classmethod
    def probe(cls) -> str | None:
        """The URI to use when none is given: this user's session (or system as root)."""
        return "qemu:///system" if os.geteuid() == 0 else "qemu:///session"

    # ------------------------------------------------------------------ connection

    @hookimpl
    def virtkit_connect_close(self) -> None:
        if self._closed:
            return
        self._closed = True
        _open_drivers.discard(self)
        self.host.destroy_owned()
        self.watcher.close()

    @hookimpl
    def virtkit_connect_get_hostname(self) -> str:
        return socket.gethostname()

    @hookimpl
    def virtkit_connect_get_version(self) -> int:
        return qemu_version()

    @hookimpl
    def virtkit_connect_get_capabilities(self) -> str:
        kvm = "" if kvm_problem() else "<domain type='kvm'/>"
        return (
            "<capabilities><host><cpu><arch>x86_64</arch></cpu></host>"
            "<guest><os_type>hvm</os_type><arch name='x86_64'><wordsize>64</wordsize>"
            f"<emulator>{DEFAULT_EMULATOR}</emulator><machine>pc</machine><machine>q35</machine>"
            f"<domain type='qemu'/>{kvm}</arch></guest></capabilities>"
        )

    @hookimpl
    def virtkit_connect_list_domains(self) -> list[DomainRecord]:
        return [self.host.record(e) for e in self.host.entries()]

    @hookimpl
    def virtkit_connect_lookup_domain(
        self, name: str | None, uuid: uuidlib.UUID | None, id: int | None
    ) -> DomainRecord | None:
        entry = self.host.find(name=name, uuid=uuid, id=id)
        return self.host.record(entry) if entry is not None else None

    # ------------------------------------------------------------------ definitions

    @hookimpl
    def virtkit_domain_define(self, definition: DomainDef, flags: int) -> DomainRef:
        refuse_flags(flags, DomainDefineFlags.VALIDATE, "define", DRIVER)  # (validated before)
        return lifecycle.define(self.host, definition).ref

    @hookimpl
    def virtkit_domain_create_transient(self, definition: DomainDef, flags: int) -> DomainRecord:
        # (START_VALIDATE: the facade has validated the XML)
        supported = Create.START_PAUSED | Create.START_AUTODESTROY | Create.START_VALIDATE
        refuse_flags(flags, supported, "create", DRIVER)
        entry = lifecycle.create_transient(
            self.host,
            definition,
            paused=bool(flags & Create.START_PAUSED),
            autodestroy=bool(flags & Create.START_AUTODESTROY),
        )
        return self.host.record(entry)

    @hookimpl
    def virtkit_domain_undefine(self, dom: DomainRef, flags: int) -> None:
        # (a managed save image is the facade's to check)
        supported = (
            Undefine.MANAGED_SAVE
            | Undefine.SNAPSHOTS_METADATA
            | Undefine.NVRAM
            | Undefine.KEEP_NVRAM
        )
        refuse_flags(flags, supported, "undefine", DRIVER)
        lifecycle.undefine(
            self.host,
            dom,
            snapshot_metadata=bool(flags & Undefine.SNAPSHOTS_METADATA),
            nvram=bool(flags & Undefine.NVRAM),
            keep_nvram=bool(flags & Undefine.KEEP_NVRAM),
        )

    @hookimpl
    def virtkit_domain_get_xml(self, dom: DomainRef, flags: int) -> str:
        supported = DomainXMLFlags.SECURE | DomainXMLFlags.INACTIVE | DomainXMLFlags.MIGRATABLE
        refuse_flags(flags, supported, "getting a domain's XML", DRIVER)
        return lifecycle.domain_xml(
            self.host,
            dom,
            inactive=bool(flags & DomainXMLFlags.INACTIVE),
            migratable=bool(flags & DomainXMLFlags.MIGRATABLE),
        )

    @hookimpl
    def virtkit_domain_set_autostart(self, dom: DomainRef, autostart: bool) -> None:
        lifecycle.set_autostart(self.host, dom, autostart)

    @hookimpl
    def virtkit_domain_rename(self, dom: DomainRef, new_name: str, flags: int) -> None:
        refuse_flags(flags, 0, "rename", DRIVER)
        lifecycle.rename(self.host, dom, new_name)

    @hookimpl
    def virtkit_domain_xml_to_native(self, native_format: str, definition: DomainDef) -> str:
        if native_format != "qemu-argv":
            raise InvalidArgumentError(
                f"unsupported native format '{native_format}': "
                "the QEMU driver converts to qemu-argv only"
            )
        definition = lifecycle.canonical_definition(self.host, definition, inactive=False)
        assert definition.uuid is not None  # (the canonical form has one)
        runtime_dir = str(self.host.store.runtime_folder(definition.uuid))
        return subprocess.list2cmdline(build_command(definition, runtime_dir=runtime_dir).argv)

    # ------------------------------------------------------------------ lifecycle

    @hookimpl
    def virtkit_domain_start(self, dom: DomainRef, flags: int, snapshot: str | None) -> None:
        supported = Create.START_PAUSED | Create.START_AUTODESTROY | Create.START_FORCE_BOOT
        refuse_flags(flags, supported, "start", DRIVER)
        store = self.host.store
        with store.job_lock(dom.uuid):
            entry = self.host.get(dom)
            if entry.active:
                raise OperationInvalidError(f"domain '{dom.name}' is already running")
            paused = bool(flags & Create.START_PAUSED)
            if snapshot is not None:
                if snapshots is None:
                    raise NoSupportError("starting from a snapshot needs virtkit_qemu.snapshots")
                snapshots.start_from_snapshot(self.host, entry, snapshot, flags)
                return
            image = store.managed_save_path(dom.name)
            if image.exists() and not flags & Create.START_FORCE_BOOT:
                saverestore.start_from_managed_save(self.host, entry, flags, paused=paused)
                return
            lifecycle.start_domain(
                self.host,
                dom.name,
                dom.uuid,
                lifecycle.StartRequest(
                    xml=self.host.xml(entry, inactive=True),
                    paused=paused,
                    autodestroy=bool(flags & Create.START_AUTODESTROY),
                ),
            )
            store.remove_managed_save(dom.name)  # a forced boot discards the managed save image

    @hookimpl
    def virtkit_domain_shutdown(self, dom: DomainRef, flags: int, timeout: float | None) -> None:
        refuse_flags(flags, DomainShutdownFlags.ACPI_POWER_BTN, "shutdown", DRIVER)
        lifecycle.shutdown(self.host, dom, timeout)

    @hookimpl
    def virtkit_domain_destroy(self, dom: DomainRef, flags: int) -> None:
        refuse_flags(flags, DomainDestroyFlags.GRACEFUL, "destroy", DRIVER)
        lifecycle.destroy(self.host, dom, graceful=bool(flags & DomainDestroyFlags.GRACEFUL))

    @hookimpl
    def virtkit_domain_reboot(self, dom: DomainRef, flags: int) -> None:
        refuse_flags(flags, DomainRebootFlags.ACPI_POWER_BTN, "reboot", DRIVER)
        lifecycle.reboot(self.host, dom)

    @hookimpl
    def virtkit_domain_reset(self, dom: DomainRef) -> None:
        lifecycle.reset(self.host, dom)

    @hookimpl
    def virtkit_domain_suspend(self, dom: DomainRef) -> None:
        lifecycle.suspend(self.host, dom)

    @hookimpl
    def virtkit_domain_resume(self, dom: DomainRef) -> None:
        lifecycle.resume(self.host, dom)

    @hookimpl
    def virtkit_domain_get_info(self, dom: DomainRef) -> DomainInfo:
        return lifecycle.info(self.host, dom)

    @hookimpl(optionalhook=True)  # its hookspec is new in core; optional until it lands
    def virtkit_domain_open_console(self, dom: DomainRef, dev_name: str | None) -> str:
        entry = self.host.get(dom)
        if not entry.active:
            raise OperationInvalidError(f"domain '{dom.name}' is not running")
        return console_path(self.host.xml(entry), dev_name)

    # ------------------------------------------------------------------ save / restore

    @hookimpl
    def virtkit_domain_save(
        self,
        dom: DomainRef,
        path: str,
        xml: str | None,
        flags: int,
        progress: ProgressCallback | None,
    ) -> None:
        refuse_flags(flags, SAVE_STATES, "save", DRIVER)
        saverestore.save(self.host, dom, Path(path), xml, flags, progress)

    @hookimpl
    def virtkit_domain_restore(
        self, path: str, xml: str | None, flags: int, progress: ProgressCallback | None
    ) -> DomainRecord:
        refuse_flags(flags, SAVE_STATES, "restore", DRIVER)
        return self.host.record(saverestore.restore(self.host, Path(path), xml, flags, progress))

    @hookimpl
    def virtkit_domain_managed_save(
        self, dom: DomainRef, flags: int, progress: ProgressCallback | None
    ) -> None:
        refuse_flags(flags, SAVE_STATES, "managed save", DRIVER)
        saverestore.managed_save(self.host, dom, flags, progress)

    @hookimpl
    def virtkit_domain_managed_save_remove(self, dom: DomainRef) -> None:
        saverestore.managed_save_remove(self.host, dom)

    @hookimpl
    def virtkit_domain_get_job_info(self, dom: DomainRef, completed: bool) -> JobInfo:
        return migration.job_info(self.host, dom, completed)

    @hookimpl
    def virtkit_domain_abort_job(self, dom: DomainRef) -> None:
        saverestore.abort_job(self.host, dom)
