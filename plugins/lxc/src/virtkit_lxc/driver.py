"""The ``lxc`` driver: Linux containers from ``<domain type='lxc'>``, without a daemon.

URIs: ``lxc:///system`` (``/etc/virtkit/lxc``, ``/var/lib/virtkit/lxc``, ``/run/virtkit/lxc``)
and ``lxc:///embed?root=DIR`` (everything under ``DIR``). Both need root: namespaces, cgroups
and veth pairs are privileged.

Files: persistent configs ``<config>/<name>.xml`` and ``<config>/autostart/<name>``; while a
container exists, ``<run>/<name>.json`` (its supervisor's status with the live XML) and
``<run>/<name>.log`` (the supervisor's log); snapshots under ``<state>``
(:mod:`virtkit_lxc.snapshots`).

Shutdown sends init ``SIGPWR`` (what LXC's tools send: busybox init and systemd power off on it;
an init that ignores it keeps running until the timeout, if any, ends in a destroy).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import socket
import subprocess
import time
import uuid as uuidlib
from collections.abc import Iterator, Sequence
from typing import ClassVar

import attrs
from lxml import etree
from virtkit import hookimpl
from virtkit.constants import (
    DomainCreateFlags,
    DomainDefineFlags,
    DomainDestroyFlags,
    DomainEventDefinedDetail,
    DomainEventResumedDetail,
    DomainEventStartedDetail,
    DomainEventStoppedDetail,
    DomainEventSuspendedDetail,
    DomainEventType,
    DomainEventUndefinedDetail,
    DomainPausedReason,
    DomainRebootFlags,
    DomainRunningReason,
    DomainShutdownFlags,
    DomainShutoffReason,
    DomainSnapshotCreateFlags,
    DomainSnapshotRevertFlags,
    DomainState,
    DomainUndefineFlags,
    DomainXMLFlags,
    HookEvent,
)
from virtkit.driver import DriverContext
from virtkit.errors import (
    DomainExistsError,
    ErrorDomain,
    NoConnectError,
    NoDomainError,
    OperationFailedError,
    OperationInvalidError,
)
from virtkit.flags import refuse_flags
from virtkit.records import DomainInfo, DomainRecord, DomainRef, SnapshotRecord
from virtkit.state import StateStore, state_roots
from virtkit.xml import DomainDef, SnapshotDef, format_domain, parse_domain

from virtkit_lxc.canonical import lxc_canonical
from virtkit_lxc.cgroups import Cgroup
from virtkit_lxc.config import check_startable, container_config
from virtkit_lxc.enter import run_inside, spawn_inside
from virtkit_lxc.native import domain_xml_from_native
from virtkit_lxc.network import remove_interfaces
from virtkit_lxc.snapshots import RootSnapshots
from virtkit_lxc.status import (
    Status,
    process_start_time,
    read_status,
    record_status,
    wait_exit,
    write_status,
)
from virtkit_lxc.supervisor import DESTROY_SIGNAL, REBOOT_SIGNAL, spawn_supervisor
from virtkit_lxc.watch import SupervisorWatcher

DRIVER = "LXC"
"""The driver's name in the errors of :func:`~virtkit.flags.refuse_flags`."""
SHUTDOWN_SIGNAL = signal.SIGPWR
STOPPED_DETAIL = {
    DomainShutoffReason.SHUTDOWN: DomainEventStoppedDetail.SHUTDOWN,
    DomainShutoffReason.DESTROYED: DomainEventStoppedDetail.DESTROYED,
    DomainShutoffReason.CRASHED: DomainEventStoppedDetail.CRASHED,
    DomainShutoffReason.FAILED: DomainEventStoppedDetail.FAILED,
}
"""The stop event's detail for the reason a supervisor recorded."""
STOP_WAIT = 10.0
"""Seconds to wait for a supervisor to finish a destroy or a reboot."""


class LxcDriver:
    """Containers of one ``lxc://`` URI."""

    name: ClassVar[str] = "LXC"

    def __init__(self, ctx: DriverContext) -> None:
        uri = ctx.uri
        if not uri.is_local:
            raise NoConnectError(f"the LXC driver manages local containers only, not '{uri}'")
        if uri.path == "/session":
            raise NoConnectError(
                "lxc:///session is not supported: containers need root; use lxc:///system "
                "or lxc:///embed?root=DIR as root"
            )
        roots = state_roots(uri, "lxc")
        if os.geteuid() != 0:
            raise NoConnectError(
                f"cannot open '{uri}': the LXC driver needs root (namespaces, cgroups, veth pairs)"
            )
        self.ctx = ctx
        self.config_store = StateStore(roots.config_dir)
        self.state_store = StateStore(roots.state_dir)
        self.run_store = StateStore(roots.run_dir, durable=False)  # means nothing after a reboot
        scope = (
            "system"
            if uri.path == "/system"
            else hashlib.sha1(str(roots.run_dir).encode()).hexdigest()[:10]
        )
        self.cgroup_prefix = f"virtkit/lxc-{scope}"
        self._own_stops: set[int] = set()  # supervisors stopped by this connection's calls
        self._watcher = SupervisorWatcher(self._supervisor_exited)

    @staticmethod
    def probe() -> str | None:
        """``lxc:///system`` when running as root on Linux with namespaces."""
        return (
            "lxc:///system" if os.geteuid() == 0 and os.path.exists("/proc/self/ns/pid") else None
        )

    # ------------------------------------------------------------------ lookups

    def cgroup(self, name: str) -> Cgroup:
        return Cgroup(f"{self.cgroup_prefix}/{name}")

    def _config(self, name: str) -> DomainDef | None:
        text = self.config_store.read_text(f"{name}.xml")
        return parse_domain(text) if text else None

    def _status(self, name: str) -> Status | None:
        """The container's status; a running one whose supervisor and init are both gone is
        reported shut off (crashed)."""
        status = read_status(self.run_store, name)
        if status is None or status.state != "running" or status.supervisor_alive():
            return status
        if process_start_time(status.init_pid) is not None:
            return status  # init outlived its supervisor: still running, destroy still works
        return attrs.evolve(
            status, state="shutoff", init_pid=-1, reason=int(DomainShutoffReason.CRASHED)
        )

    def _names(self) -> list[str]:
        return sorted(
            set(self.config_store.list("", ".xml")) | set(self.run_store.list("", ".json"))
        )

    def _record(self, name: str) -> DomainRecord | None:
        definition = self._config(name)
        status = self._status(name)
        running = status is not None and status.state == "running"
        if definition is None and not running:
            return None
        if running and status is not None:
            self._watcher.watch(name, status.supervisor_pid)
            uuid = uuidlib.UUID(status.uuid)
            state, reason = self._live_state(status)
            return DomainRecord(
                name=name,
                uuid=uuid,
                id=status.init_pid,
                state=state,
                reason=reason,
                persistent=definition is not None,
                autostart=self._autostart(name),
                snapshot_count=len(RootSnapshots(self.state_store, name).names()),
            )
        assert definition is not None and definition.uuid is not None
        reason = status.reason if status is not None else int(DomainShutoffReason.UNKNOWN)
        return DomainRecord(
            name=name,
            uuid=definition.uuid,
            id=-1,
            state=DomainState.SHUTOFF,
            reason=reason,
            persistent=True,
            autostart=self._autostart(name),
            snapshot_count=len(RootSnapshots(self.state_store, name).names()),
        )

    def _live_state(self, status: Status) -> tuple[DomainState, int]:
        if Cgroup(status.cgroup).is_frozen():
            return DomainState.PAUSED, int(DomainPausedReason.USER)
        return DomainState.RUNNING, status.reason

    def _autostart(self, name: str) -> bool:
        return self.config_store.read_text(f"autostart/{name}") is not None

    def _lookup(self, dom: DomainRef) -> DomainRecord:
        record = self._record(dom.name)
        if record is None or record.uuid != dom.uuid:
            raise NoDomainError(
                f"domain not found: no domain with matching uuid '{dom.uuid}' ({dom.name})",
                domain=ErrorDomain.LXC,
            )
        return record

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self.config_store.lock():
            yield

    def _running_status(self, dom: DomainRef) -> Status:
        record = self._lookup(dom)
        status = self._status(dom.name)
        if not record.active or status is None:
            raise OperationInvalidError(f"domain '{dom.name}' is not running")
        return status

    def _set_reason(self, name: str, init_pid: int, reason: int) -> None:
        """Record a new reason for the state the container is in, if it is still the
        container of ``init_pid`` (-1: a stopped one)."""
        with self.run_store.lock():  # the supervisor writes under this lock too
            now = read_status(self.run_store, name)
            if now is not None and now.init_pid == init_pid:
                write_status(self.run_store, attrs.evolve(now, reason=int(reason)))

    def _emit(self, name: str, uuid: uuidlib.UUID, event: DomainEventType, detail: int) -> None:
        self.ctx.emit_event(DomainRef(name=name, uuid=uuid), event, int(detail))

    # ------------------------------------------------------------------ connection

    @hookimpl
    def virtkit_connect_close(self) -> None:
        self._watcher.close()

    @hookimpl
    def virtkit_connect_get_hostname(self) -> str:
        return socket.gethostname()

    @hookimpl
    def virtkit_connect_get_version(self) -> int:
        major, minor, *rest = (os.uname().release.split("-")[0].split(".") + ["0"])[:3]
        return int(major) * 1_000_000 + int(minor) * 1_000 + int(rest[0] or 0)

    @hookimpl
    def virtkit_connect_get_capabilities(self) -> str:
        root = etree.Element("capabilities")
        host = etree.SubElement(root, "host")
        etree.SubElement(etree.SubElement(host, "cpu"), "arch").text = os.uname().machine
        guest = etree.SubElement(root, "guest")
        etree.SubElement(guest, "os_type").text = "exe"
        arch = etree.SubElement(guest, "arch", name=os.uname().machine)
        etree.SubElement(arch, "wordsize").text = "64"
        etree.SubElement(arch, "emulator").text = "virtkit-lxc"
        etree.SubElement(arch, "domain", type="lxc")
        return str(etree.tostring(root, pretty_print=True, encoding="unicode"))

    @hookimpl
    def virtkit_connect_list_domains(self) -> list[DomainRecord]:
        return [r for name in self._names() if (r := self._record(name)) is not None]

    @hookimpl
    def virtkit_connect_lookup_domain(
        self, name: str | None, uuid: uuidlib.UUID | None, id: int | None
    ) -> DomainRecord | None:
        if name is not None:
            return self._record(name)
        for record in self.virtkit_connect_list_domains():
            if (uuid is not None and record.uuid == uuid) or (id is not None and record.id == id):
                return record
        return None

    # ------------------------------------------------------------------ define / undefine

    def _check_identity(self, definition: DomainDef) -> DomainDef:
        """The definition with its UUID (new or the existing domain's); refuses a name or UUID
        that belongs to another domain."""
        existing = self._record(definition.name)
        if existing is not None:
            if definition.uuid is not None and definition.uuid != existing.uuid:
                raise DomainExistsError(
                    f"domain '{definition.name}' already exists with uuid {existing.uuid}"
                )
            return definition.with_identity(uuid=existing.uuid)
        if definition.uuid is not None:
            for record in self.virtkit_connect_list_domains():
                if record.uuid == definition.uuid:
                    raise DomainExistsError(
                        f"domain '{record.name}' already exists with uuid {definition.uuid}"
                    )
            return definition
        return definition.with_identity(uuid=uuidlib.uuid4())

    @hookimpl
    def virtkit_domain_define(self, definition: DomainDef, flags: int) -> DomainRecord:
        refuse_flags(flags, DomainDefineFlags.VALIDATE, "define", DRIVER)  # (validated before)
        container_config(definition)
        with self._locked():
            existed = self._config(definition.name) is not None
            definition = lxc_canonical(self._check_identity(definition))
            self.config_store.write_text(
                f"{definition.name}.xml", format_domain(definition, inactive=True)
            )
            record = self._record(definition.name)
        assert record is not None
        detail = DomainEventDefinedDetail.UPDATED if existed else DomainEventDefinedDetail.ADDED
        self._emit(record.name, record.uuid, DomainEventType.DEFINED, detail)
        return record

    @hookimpl
    def virtkit_domain_undefine(self, dom: DomainRef, flags: int) -> None:
        # (a container has neither a managed save image nor NVRAM: nothing of them to remove)
        supported = (
            DomainUndefineFlags.SNAPSHOTS_METADATA
            | DomainUndefineFlags.MANAGED_SAVE
            | DomainUndefineFlags.NVRAM
            | DomainUndefineFlags.KEEP_NVRAM
        )
        refuse_flags(flags, supported, "undefine", DRIVER)
        with self._locked():
            record = self._lookup(dom)
            if not record.persistent:
                raise OperationInvalidError(f"cannot undefine transient domain '{dom.name}'")
            if flags & DomainUndefineFlags.SNAPSHOTS_METADATA:
                RootSnapshots(self.state_store, dom.name).remove_all()
            with self.config_store.transaction() as batch:
                batch.remove(f"{dom.name}.xml")
                batch.remove(f"autostart/{dom.name}")
            if not record.active:
                self.run_store.remove(f"{dom.name}.json")
        self._emit(
            dom.name, dom.uuid, DomainEventType.UNDEFINED, DomainEventUndefinedDetail.REMOVED
        )

    @hookimpl
    def virtkit_domain_set_autostart(self, dom: DomainRef, autostart: bool) -> None:
        with self._locked():
            if not self._lookup(dom).persistent:
                raise OperationInvalidError(
                    f"cannot set autostart for transient domain '{dom.name}'"
                )
            if autostart:
                self.config_store.write_text(f"autostart/{dom.name}", dom.name + "\n")
            else:
                self.config_store.remove(f"autostart/{dom.name}")

    # ------------------------------------------------------------------ start

    def _launch(self, definition: DomainDef, flags: int) -> None:
        """Start a container from ``definition`` (identity already checked); lock held."""
        config = container_config(definition)
        check_startable(config)
        name = config.name
        xml = definition.to_xml()
        self.ctx.run_domain_hook(HookEvent.PREPARE, name, xml)
        self.ctx.run_domain_hook(HookEvent.START, name, xml)
        cgroup = self.cgroup(name)
        if cgroup.exists():  # left by a supervisor that died: nothing can be in it any more
            cgroup.remove()
        spawn_supervisor(
            config,
            definition,
            cgroup=cgroup,
            run_store=self.run_store,
            log_path=str(self.run_store.path(f"{name}.log")),
        )
        status = read_status(self.run_store, name)
        assert status is not None
        try:
            if flags & DomainCreateFlags.START_PAUSED:
                cgroup.freeze(True)
        except BaseException:
            self._stop(status, DESTROY_SIGNAL)
            raise
        self.ctx.run_domain_hook(HookEvent.STARTED, name, xml)
        self._emit(name, config.uuid, DomainEventType.STARTED, DomainEventStartedDetail.BOOTED)
        if flags & DomainCreateFlags.START_PAUSED:
            self._emit(
                name, config.uuid, DomainEventType.SUSPENDED, DomainEventSuspendedDetail.PAUSED
            )

    @hookimpl
    def virtkit_domain_start(self, dom: DomainRef, flags: int, snapshot: str | None) -> None:
        refuse_flags(flags, DomainCreateFlags.START_PAUSED, "start", DRIVER)
        with self._locked():
            record = self._lookup(dom)
            if record.active:
                raise OperationInvalidError(f"domain '{dom.name}' is already running")
            definition = self._config(dom.name)
            assert definition is not None
            self._launch(definition, flags)

    @hookimpl
    def virtkit_domain_create_transient(self, definition: DomainDef, flags: int) -> DomainRecord:
        supported = DomainCreateFlags.START_PAUSED | DomainCreateFlags.START_VALIDATE
        refuse_flags(flags, supported, "create", DRIVER)
        container_config(definition)
        with self._locked():
            if self._record(definition.name) is not None:
                raise DomainExistsError(f"domain '{definition.name}' already exists")
            self._launch(lxc_canonical(self._check_identity(definition)), flags)
            record = self._record(definition.name)
        assert record is not None
        return record

    # ------------------------------------------------------------------ stop

    def _stop(self, status: Status, request: signal.Signals) -> None:
        """Have the supervisor destroy the container and wait until it has cleaned up; if the
        supervisor is gone, do its job here."""
        cgroup = Cgroup(status.cgroup)
        with contextlib.suppress(Exception):
            if cgroup.is_frozen():
                cgroup.freeze(False)
        if status.supervisor_alive():
            self._own_stops.add(status.supervisor_pid)
            os.kill(status.supervisor_pid, request)
            if wait_exit(status.supervisor_pid, STOP_WAIT):
                return
            os.kill(status.supervisor_pid, signal.SIGKILL)
        self._reclaim(status, DomainShutoffReason.DESTROYED)

    def _reclaim(self, status: Status, reason: DomainShutoffReason) -> None:
        """Do the job of a supervisor that is gone: end the container, remove its veths and
        cgroup, record that it stopped."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(status.init_pid, signal.SIGKILL)
            wait_exit(status.init_pid, STOP_WAIT)
        remove_interfaces(status.veths)
        Cgroup(status.cgroup).remove(timeout=STOP_WAIT)
        stopped = attrs.evolve(status, state="shutoff", init_pid=-1, reason=int(reason))
        record_status(self.run_store, stopped, None)

    def _supervisor_exited(self, name: str, supervisor_pid: int) -> None:
        """From the watcher thread: a container stopped; report it unless a call of this
        connection stopped it (that call reports it)."""
        if supervisor_pid in self._own_stops:
            self._own_stops.discard(supervisor_pid)
            return
        with self._locked():
            status = read_status(self.run_store, name)
            if status is None or status.supervisor_pid != supervisor_pid:
                return
            if status.state == "running":  # the supervisor died without recording a stop
                if process_start_time(status.init_pid) is not None:
                    return  # the container runs on unsupervised; destroy still ends it
                self._reclaim(status, DomainShutoffReason.CRASHED)
                status = attrs.evolve(status, reason=int(DomainShutoffReason.CRASHED))
            reason = DomainShutoffReason(status.reason)
            detail = STOPPED_DETAIL.get(reason, DomainEventStoppedDetail.SHUTDOWN)
            self._after_stop(DomainRef(name=name, uuid=uuidlib.UUID(status.uuid)), detail)

    def _after_stop(self, dom: DomainRef, detail: DomainEventStoppedDetail) -> None:
        """Forget a stopped transient domain, tell the extensions and the event callbacks."""
        name = dom.name
        definition = self._config(name)
        if definition is None:
            self.run_store.remove(f"{name}.json")
        xml = definition.to_xml() if definition is not None else ""
        self.ctx.run_domain_hook(HookEvent.STOPPED, name, xml)
        self.ctx.run_domain_hook(HookEvent.RELEASE, name, xml)
        self._emit(name, dom.uuid, DomainEventType.STOPPED, detail)

    @hookimpl
    def virtkit_domain_destroy(self, dom: DomainRef, flags: int) -> None:
        refuse_flags(flags, DomainDestroyFlags.DEFAULT, "destroy", DRIVER)
        with self._locked():
            status = self._running_status(dom)
            self._stop(status, DESTROY_SIGNAL)
            self._after_stop(dom, DomainEventStoppedDetail.DESTROYED)

    @hookimpl
    def virtkit_domain_shutdown(self, dom: DomainRef, flags: int, timeout: float | None) -> None:
        # a signal to the container's init is the one way (libvirt's "signal" mode)
        refuse_flags(flags, DomainShutdownFlags.SIGNAL, "shutdown", DRIVER)
        with self._locked():
            status = self._running_status(dom)
            if timeout is None:  # the watcher reports the stop when it comes
                self._watcher.watch(dom.name, status.supervisor_pid)
            else:
                self._own_stops.add(status.supervisor_pid)
            with contextlib.suppress(ProcessLookupError):
                os.kill(status.init_pid, SHUTDOWN_SIGNAL)
            if timeout is None:
                return
            if wait_exit(status.supervisor_pid, timeout):
                self._after_stop(dom, DomainEventStoppedDetail.SHUTDOWN)
                return
            self._stop(status, DESTROY_SIGNAL)
            self._after_stop(dom, DomainEventStoppedDetail.DESTROYED)

    @hookimpl
    def virtkit_domain_reboot(self, dom: DomainRef, flags: int) -> None:
        # the supervisor starts the container anew: none of the guest-side modes
        refuse_flags(flags, DomainRebootFlags.DEFAULT, "reboot", DRIVER)
        with self._locked():
            status = self._running_status(dom)
            if not status.supervisor_alive():
                raise OperationFailedError(
                    f"cannot reboot domain '{dom.name}': its supervisor (pid "
                    f"{status.supervisor_pid}) is gone; destroy and start it"
                )
            cgroup = Cgroup(status.cgroup)
            if cgroup.is_frozen():
                cgroup.freeze(False)
            os.kill(status.supervisor_pid, REBOOT_SIGNAL)
            deadline = time.monotonic() + STOP_WAIT
            while time.monotonic() < deadline:
                now = read_status(self.run_store, dom.name)
                if now is None or now.init_pid != status.init_pid:
                    break
                time.sleep(0.002)
            now = read_status(self.run_store, dom.name)
            if now is None or now.state != "running":
                self._after_stop(dom, DomainEventStoppedDetail.FAILED)
                raise OperationFailedError(
                    f"domain '{dom.name}' did not come back after reboot"
                    + (f": {now.error}" if now is not None and now.error else "")
                )

    # ------------------------------------------------------------------ freezer

    @hookimpl
    def virtkit_domain_suspend(self, dom: DomainRef) -> None:
        with self._locked():
            status = self._running_status(dom)
            cgroup = Cgroup(status.cgroup)
            if cgroup.is_frozen():
                raise OperationInvalidError(f"domain '{dom.name}' is already paused")
            cgroup.freeze(True)
        self._emit(dom.name, dom.uuid, DomainEventType.SUSPENDED, DomainEventSuspendedDetail.PAUSED)

    @hookimpl
    def virtkit_domain_resume(self, dom: DomainRef) -> None:
        with self._locked():
            status = self._running_status(dom)
            cgroup = Cgroup(status.cgroup)
            if not cgroup.is_frozen():
                raise OperationInvalidError(f"domain '{dom.name}' is not paused")
            cgroup.freeze(False)
            self._set_reason(dom.name, status.init_pid, DomainRunningReason.UNPAUSED)
        self._emit(dom.name, dom.uuid, DomainEventType.RESUMED, DomainEventResumedDetail.UNPAUSED)

    # ------------------------------------------------------------------ information

    @hookimpl
    def virtkit_domain_get_info(self, dom: DomainRef) -> DomainInfo:
        record = self._lookup(dom)
        xml = self._xml(dom, 0)
        config = container_config(parse_domain(xml))
        memory_kib = config.memory_bytes // 1024
        if record.active:
            cgroup = self.cgroup(dom.name)
            used, cpu = cgroup.memory_usage() // 1024, cgroup.cpu_time_ns()
        else:
            used, cpu = memory_kib, 0
        return DomainInfo(
            state=record.state,
            max_memory_kib=memory_kib,
            memory_kib=used,
            vcpus=config.vcpus,
            cpu_time_ns=cpu,
        )

    def _xml(self, dom: DomainRef, flags: int) -> str:
        record = self._lookup(dom)
        if record.active and not flags & DomainXMLFlags.INACTIVE:
            status = self._status(dom.name)
            if status is not None and status.xml:
                return status.xml
        definition = self._config(dom.name)
        if definition is None:
            raise NoDomainError(f"domain '{dom.name}' has no persistent config")
        return format_domain(definition, inactive=True)

    @hookimpl
    def virtkit_domain_get_xml(self, dom: DomainRef, flags: int) -> str:
        supported = DomainXMLFlags.INACTIVE | DomainXMLFlags.SECURE  # (a container has no secret)
        refuse_flags(flags, supported, "getting a domain's XML", DRIVER)
        return self._xml(dom, flags)

    @hookimpl
    def virtkit_domain_xml_from_native(self, native_format: str, native_config: str) -> str:
        """An LXC configuration file (``lxc-tools``) as domain XML."""
        return domain_xml_from_native(native_format, native_config)

    # ------------------------------------------------------------------ enter / console

    @hookimpl
    def virtkit_domain_open_console(self, dom: DomainRef, dev_name: str | None) -> str:
        """The host pty relayed to the container's ``/dev/console``, its only console, aliased
        ``console0`` as libvirt names it."""
        if dev_name not in (None, "console0"):
            raise OperationInvalidError(
                f"domain '{dom.name}' has no console '{dev_name}' (its console is 'console0')"
            )
        status = self._running_status(dom)
        if not status.console:
            raise OperationInvalidError(f"domain '{dom.name}' has no <console type='pty'>")
        return status.console

    @hookimpl
    def virtkit_domain_lxc_enter_namespace(
        self, dom: DomainRef, argv: Sequence[str], capture: bool
    ) -> subprocess.CompletedProcess[bytes]:
        status = self._running_status(dom)
        cgroup = Cgroup(status.cgroup)
        if capture:
            return run_inside(status.init_pid, argv, cgroup=cgroup)
        helper = spawn_inside(status.init_pid, argv, cgroup=cgroup)
        _, code = os.waitpid(helper, 0)
        return subprocess.CompletedProcess(list(argv), os.waitstatus_to_exitcode(code))

    # ------------------------------------------------------------------ snapshots

    def _snapshots(self, dom: DomainRef) -> RootSnapshots:
        self._lookup(dom)
        return RootSnapshots(self.state_store, dom.name)

    @hookimpl
    def virtkit_snapshot_create(self, dom: DomainRef, definition: SnapshotDef, flags: int) -> str:
        with self._locked():
            record = self._lookup(dom)
            snapshots = self._snapshots(dom)
            if record.active and not flags & DomainSnapshotCreateFlags.REDEFINE:
                raise OperationInvalidError(
                    f"cannot snapshot running container '{dom.name}': a snapshot of a running "
                    "container needs CRIU (checkpoint/restore), which fails on this host's "
                    "kernel; shut the container down first"
                )
            inactive = self._xml(dom, DomainXMLFlags.INACTIVE)
            config = container_config(parse_domain(inactive))
            return snapshots.create(definition, flags, config.root, inactive)

    @hookimpl
    def virtkit_snapshot_list(self, dom: DomainRef) -> list[SnapshotRecord]:
        return self._snapshots(dom).records()

    @hookimpl
    def virtkit_snapshot_get_xml(self, dom: DomainRef, name: str, flags: int) -> str:
        return self._snapshots(dom).get_xml(name)

    @hookimpl
    def virtkit_snapshot_revert(self, dom: DomainRef, name: str, flags: int) -> None:
        with self._locked():
            record = self._lookup(dom)
            snapshots = self._snapshots(dom)
            definition = parse_domain(snapshots.domain_xml(name))
            if definition.uuid != dom.uuid:
                definition = definition.with_identity(uuid=dom.uuid)
            config = container_config(definition)
            if record.active:
                status = self._running_status(dom)
                self._stop(status, DESTROY_SIGNAL)
                self._set_reason(dom.name, -1, DomainShutoffReason.FROM_SNAPSHOT)
                self._after_stop(dom, DomainEventStoppedDetail.FROM_SNAPSHOT)
            snapshots.revert_files(name, config.root)
            if record.persistent:
                self.config_store.write_text(f"{dom.name}.xml", definition.to_xml())
            snapshots.set_current(name)
            if flags & (DomainSnapshotRevertFlags.RUNNING | DomainSnapshotRevertFlags.PAUSED):
                paused = flags & DomainSnapshotRevertFlags.PAUSED
                self._launch(definition, DomainCreateFlags.START_PAUSED if paused else 0)

    @hookimpl
    def virtkit_snapshot_delete(self, dom: DomainRef, name: str, flags: int) -> None:
        with self._locked():
            self._snapshots(dom).delete(name, flags)
