"""Defining, starting and stopping domains: prepare, do, then record.

:func:`start_domain` is the one start routine: boot, restore from an image and part B's
revert to a snapshot all go through it (a snapshot load is a pre-run step of the
:class:`~virtkit_qemu.launch.LaunchPlan`). Status and live XML are written only once QEMU runs.
"""

from __future__ import annotations

import os
import time
import uuid as uuidlib
from collections.abc import Sequence

import attrs
from virtkit.constants import (
    DomainEventDefinedDetail,
    DomainEventResumedDetail,
    DomainEventStartedDetail,
    DomainEventSuspendedDetail,
    DomainEventType,
    DomainEventUndefinedDetail,
    DomainPausedReason,
    DomainRunningReason,
    DomainShutoffReason,
    DomainState,
    HookEvent,
)
from virtkit.errors import DomainExistsError, OperationFailedError, OperationInvalidError, XMLError
from virtkit.records import DomainInfo, DomainRef
from virtkit.xml import DomainDef, parse_domain
from virtkit.xml.canonical.order import first_child
from virtkit.xml.domain import domain_from_tree
from virtkit.xml.parser import parse_root

from virtkit_qemu import process, reaper
from virtkit_qemu.argv import build_command
from virtkit_qemu.argv.builder import emulator_path, memory_kib
from virtkit_qemu.canonical import canonical_qemu
from virtkit_qemu.canonical.probe import probe_caps
from virtkit_qemu.host import DomainEntry, QemuHost, snapshot_support
from virtkit_qemu.launch import Incoming, LaunchPlan, PreRunStep, RunningQemu, kill, launch
from virtkit_qemu.live import live_xml, migratable_xml, with_channel_states
from virtkit_qemu.nvram import nvram_file, prepare_nvram
from virtkit_qemu.qmp import Monitor, QmpError
from virtkit_qemu.status import DomainStatus

SHUTDOWN_POLL = 0.1


# ---------------------------------------------------------------------- definitions


def _checked_name(name: str) -> str:
    """A domain's name, refused when it cannot name its files."""
    if "/" in name or name.startswith(".") or "\0" in name:
        raise XMLError(f"domain name '{name}' cannot contain '/' or start with '.'")
    return name


def canonical_definition(host: QemuHost, definition: DomainDef, *, inactive: bool) -> DomainDef:
    """libvirt's canonical form of ``definition`` for the emulator it names: driver defaults,
    default devices and controllers, PCI addresses (which the command line then follows), and
    what must stay stable from one start to the next (a UUID, a MAC address per interface)."""
    emulator = emulator_path(definition.read_tree())
    caps = probe_caps(emulator, host.store.capabilities)
    return canonical_qemu(
        definition,
        caps,
        inactive=inactive,
        emulator=emulator,
        sockets=host.sockets,
        nvram_dir=host.store.nvram_dir,
    )


def _canonical_uuid(definition: DomainDef) -> uuidlib.UUID:
    """The UUID of a canonical definition (always there), read without modelling or copying
    its tree."""
    uuid = definition.uuid
    assert uuid is not None
    return uuid


def _with_new_genid(xml: str) -> str:
    """``xml`` with a new VM generation ID when it has one (a guest resuming from a copy of
    itself is told so, as libvirt tells it on a restore or a snapshot revert)."""
    if "<genid" not in xml:
        return xml
    root = parse_domain(xml).tree()
    genid = first_child(root, "genid")
    if genid is None:
        return xml
    genid.text = str(uuidlib.uuid4())
    return domain_from_tree(root, built=True).to_xml()


def _check_conflicts(
    host: QemuHost,
    same_name: DomainEntry | None,
    uuid: uuidlib.UUID,
    *,
    allow_same: bool,
    generated: bool = False,
) -> DomainEntry | None:
    """``same_name``, the existing domain of the new one's name, when it has this UUID too (if
    ``allow_same``); raise when another domain has the name or the UUID. ``generated``: the
    UUID was drawn at random just now, so no other domain can have it and the definitions
    are not read to look for one. The caller holds the store's lock."""
    if same_name is not None and same_name.uuid == uuid and allow_same:
        return same_name
    clash = same_name or (None if generated else host.entry_with_uuid(uuid))
    if clash is not None:
        raise DomainExistsError(
            f"domain '{clash.name}' already exists with uuid {clash.uuid}"
            + (" and is active" if clash.active else "")
        )
    return None


def define(host: QemuHost, definition: DomainDef) -> DomainEntry:
    name = _checked_name(definition.name)
    # without a UUID, the definition gets a random one: a domain of the same name is refused
    # then, as libvirt refuses it ("domain 'x' already exists with uuid ...")
    generated = definition.uuid is None
    definition = canonical_definition(host, definition, inactive=True)
    uuid = _canonical_uuid(definition)
    with host.store.lock(), host.store.config_batch() as batch:
        same_name = host.entry_by_name(name)
        existing = _check_conflicts(host, same_name, uuid, allow_same=True, generated=generated)
        xml = definition.to_xml()
        # staged, the definition heads for the disk while QEMU's command line is checked;
        # a refusal leaves the old definition (or none) in place
        host.store.stage_config(batch, name, xml)
        build_command(definition)
    entry = DomainEntry(
        name=name,
        uuid=uuid,
        config=xml,
        status=existing.status if existing is not None else None,
    )
    detail = DomainEventDefinedDetail.UPDATED if existing else DomainEventDefinedDetail.ADDED
    host.ctx.emit_event(entry.ref, DomainEventType.DEFINED, int(detail))
    return entry


def undefine(
    host: QemuHost, ref: DomainRef, *, snapshot_metadata: bool, nvram: bool, keep_nvram: bool
) -> None:
    """Remove the definition (and with ``snapshot_metadata`` the snapshots' metadata). A UEFI
    variable store that exists is refused unless ``nvram`` (removed after the definition) or
    ``keep_nvram``, as libvirt refuses it."""
    with host.store.job_lock(ref.uuid), host.store.lock():
        entry = host.get(ref)
        if entry.config is None:
            raise OperationInvalidError(f"cannot undefine transient domain '{ref.name}'")
        store_file = nvram_file(parse_root(entry.config, "domain"))
        if store_file is not None and not os.path.exists(store_file):
            store_file = None
        if store_file is not None and not (nvram or keep_nvram):
            raise OperationInvalidError(
                f"cannot undefine domain with nvram ({store_file}): pass nvram (--nvram) to "
                "remove it too, or keep_nvram (--keep-nvram) to keep it"
            )
        snapshots = snapshot_support()
        if snapshot_metadata and snapshots is not None:
            snapshots.remove_metadata(host, ref.name)
        host.store.remove_managed_save(ref.name)
        host.store.remove_config(ref.name)
        if entry.active and entry.status is not None:
            host.store.write_status(attrs.evolve(entry.status, transient=True))
        else:  # the domain is gone, its last job's statistics with it (as in libvirt)
            host.store.remove_status(ref.name)
            host.store.forget_jobs(ref.uuid)
        if store_file is not None and nvram:
            try:
                os.unlink(store_file)
            except OSError as exc:
                raise OperationFailedError(
                    f"domain '{ref.name}' is undefined, but its NVRAM file {store_file} could "
                    f"not be removed: {exc.strerror}"
                ) from exc
    host.ctx.emit_event(ref, DomainEventType.UNDEFINED, int(DomainEventUndefinedDetail.REMOVED))


def rename(host: QemuHost, ref: DomainRef, new_name: str) -> None:
    """Give the inactive persistent domain ``ref`` another name; refused, as libvirt refuses
    it, while it runs or has a managed save image or snapshots. Its definition and autostart
    mark move in one transaction; its shut-off status is set aside before and follows after,
    so that a crash between leaves at worst the reason it shut off unknown."""
    _checked_name(new_name)
    with host.store.job_lock(ref.uuid), host.store.lock():
        entry = host.get(ref)
        if entry.active:
            raise OperationInvalidError("cannot rename active domain")
        if entry.config is None:
            raise OperationInvalidError("cannot rename a transient domain")
        if host.store.has_managed_save(ref.name):
            raise OperationInvalidError("domain with a managed saved state can't be renamed")
        if host.snapshot_count(ref.name):
            raise OperationInvalidError("cannot rename domain with snapshots")
        if host.entry_by_name(new_name) is not None:
            raise OperationInvalidError(f"domain with name '{new_name}' already exists")
        xml, nvram_move = _renamed_config(host, entry.config, ref.name, new_name)
        status = entry.status
        host.store.remove_status(ref.name)
        try:
            if nvram_move is not None:
                os.rename(*nvram_move)
            try:
                host.store.move_config(ref.name, new_name, xml)
            except BaseException:
                if nvram_move is not None:
                    os.rename(nvram_move[1], nvram_move[0])
                raise
        except BaseException:
            if status is not None:
                host.store.write_status(status)
            raise
        if status is not None:
            host.store.write_status(attrs.evolve(status, name=new_name))
    host.ctx.emit_event(ref, DomainEventType.UNDEFINED, int(DomainEventUndefinedDetail.RENAMED))
    renamed = DomainRef(name=new_name, uuid=ref.uuid)
    host.ctx.emit_event(renamed, DomainEventType.DEFINED, int(DomainEventDefinedDetail.RENAMED))


def _renamed_config(
    host: QemuHost, config: str, old: str, new: str
) -> tuple[str, tuple[str, str] | None]:
    """``config`` under the name ``new``, and the move of its UEFI variable store when the
    driver named that after ``old``. libvirt 9.0 leaves the store under the old name, where a
    later domain of that name would be given the same file; here it follows the domain.

    :raises OperationInvalidError: the store's new name is taken."""
    renamed = parse_domain(config).with_identity(name=new)
    old_store = f"{host.store.nvram_dir}/{old}_VARS.fd"
    tree = renamed.tree()
    if nvram_file(tree) != old_store:
        return renamed.to_xml(), None
    new_store = f"{host.store.nvram_dir}/{new}_VARS.fd"
    if os.path.exists(new_store):
        raise OperationInvalidError(f"the NVRAM file {new_store} exists already")
    nvram = first_child(first_child(tree, "os"), "nvram")
    assert nvram is not None  # (it named the old store)
    nvram.text = new_store
    move = (old_store, new_store) if os.path.exists(old_store) else None
    return domain_from_tree(tree, built=True).to_xml(), move


def set_autostart(host: QemuHost, ref: DomainRef, on: bool) -> None:
    entry = host.get(ref)
    if entry.config is None:
        raise OperationInvalidError(f"cannot set autostart for transient domain '{ref.name}'")
    host.store.set_autostart(ref.name, on)


# ---------------------------------------------------------------------- start


@attrs.frozen(kw_only=True)
class StartRequest:
    """How to start: the XML to run, and what the new QEMU does before its CPUs run.

    :ivar reason: the running (or paused) reason recorded once it runs.
    :ivar event: the ``STARTED`` event detail.
    :ivar new_genid: the guest resumes from a copy of itself (a restore, a snapshot revert):
        its live XML and QEMU get a new VM generation ID, its definition keeps its own.
    """

    xml: str
    paused: bool = False
    autodestroy: bool = False
    transient: bool = False
    incoming: Incoming | None = None
    steps: Sequence[PreRunStep] = ()
    reason: DomainRunningReason = DomainRunningReason.BOOTED
    event: DomainEventStartedDetail = DomainEventStartedDetail.BOOTED
    new_genid: bool = False


def start_domain(
    host: QemuHost, name: str, uuid: uuidlib.UUID, request: StartRequest
) -> DomainStatus:
    """Start the domain; its status is written only once QEMU runs. A failure leaves no process,
    socket or status behind."""
    ctx = host.ctx
    xml = _with_new_genid(request.xml) if request.new_genid else request.xml
    xml = ctx.run_domain_hook(HookEvent.PREPARE, name, xml)
    xml = ctx.run_domain_hook(HookEvent.START, name, xml)
    definition = parse_domain(xml)
    paths = host.store.runtime_paths(uuid)
    command = build_command(definition, runtime_dir=str(paths.folder))
    prepare_nvram(definition.read_tree())
    domain_id = host.store.next_id()  # an id lost to a failed start is not reused, as in libvirt
    found: list[str] = []

    def read_live_xml(mon: Monitor) -> None:
        """What QEMU chose (ptys, VNC port), over launch's monitor."""
        found.append(live_xml(xml, domain_id, mon, str(paths.folder)))

    def watch(qemu: RunningQemu) -> None:
        """Let the event watcher attach while the launch goes on, so that its session is ready
        for the first command after the start."""
        spawned = DomainStatus(
            name=name, uuid=uuid, state=DomainState.PAUSED, id=domain_id, pid=qemu.pid,
            started=qemu.started, runtime_dir=str(paths.folder),
        )  # fmt: skip
        for notify in host.on_active:
            notify(spawned)

    qemu = launch(
        LaunchPlan(
            name=name,
            command=command,
            paths=paths,
            log=host.store.log_path(name),
            paused=request.paused,
            incoming=request.incoming,
            steps=request.steps,
            spawned=watch,
            inspect=read_live_xml,
        )
    )
    try:
        (live,) = found
        state, reason = (
            (DomainState.PAUSED, int(DomainPausedReason.USER))
            if request.paused
            else (DomainState.RUNNING, int(request.reason))
        )
        status = DomainStatus(
            name=name,
            uuid=uuid,
            state=state,
            reason=reason,
            id=domain_id,
            pid=qemu.pid,
            started=qemu.started,
            runtime_dir=str(paths.folder),
            transient=request.transient,
            autodestroy=host.owner() if request.autodestroy else None,
        )
        # Before the status: the watcher may already see the events of this start (RESUME).
        host.seen_state[uuid] = state
        host.store.write_status(status, live)
    except BaseException:
        kill(qemu)
        raise
    ctx.run_domain_hook(HookEvent.STARTED, name, live)
    ref = DomainRef(name=name, uuid=uuid)
    ctx.emit_event(ref, DomainEventType.STARTED, int(request.event))
    if request.paused:
        ctx.emit_event(ref, DomainEventType.SUSPENDED, int(DomainEventSuspendedDetail.PAUSED))
    if status.autodestroy is not None:
        owner = status.autodestroy
        reaper.spawn(owner.pid, owner.started, qemu.pid, qemu.started)
    for notify in host.on_active:
        notify(status)
    return status


def create_transient(
    host: QemuHost, definition: DomainDef, *, paused: bool, autodestroy: bool
) -> DomainEntry:
    name = _checked_name(definition.name)
    generated = definition.uuid is None
    definition = canonical_definition(host, definition, inactive=False)
    uuid = _canonical_uuid(definition)
    with host.store.lock():  # held through the launch so no define can take the name meanwhile
        _check_conflicts(
            host, host.entry_by_name(name), uuid, allow_same=False, generated=generated
        )
        start_domain(
            host,
            name,
            uuid,
            StartRequest(
                xml=definition.to_xml(), paused=paused, autodestroy=autodestroy, transient=True
            ),
        )
    entry = host.entry_by_name(name)
    assert entry is not None
    return entry


# ---------------------------------------------------------------------- running domains


def active_status(host: QemuHost, ref: DomainRef) -> DomainStatus:
    """The status of ``ref``'s running QEMU, read without its definition."""
    status = host.reconcile(ref.name)
    if status is not None and status.active and status.uuid == ref.uuid:
        return status
    host.get(ref)  # gone or replaced: NoDomainError
    raise OperationInvalidError(f"domain '{ref.name}' is not running")


def monitor(host: QemuHost, status: DomainStatus) -> Monitor:
    return Monitor(host.store.runtime_paths(status.uuid).qmp, name=status.name)


def destroy(host: QemuHost, ref: DomainRef, *, graceful: bool = False) -> None:
    """Stop QEMU at once (SIGTERM, then SIGKILL); ``graceful``: SIGTERM only, and fail if QEMU
    does not end (see :meth:`QemuHost.stop_and_record`)."""
    status = active_status(host, ref)
    if not host.stop_and_record(status, DomainShutoffReason.DESTROYED, graceful=graceful):
        raise OperationInvalidError(f"domain '{ref.name}' is not running")


def shutdown(host: QemuHost, ref: DomainRef, timeout: float | None) -> None:
    """ACPI power button; with ``timeout``, wait for the guest to power off, else power off."""
    status = active_status(host, ref)
    with monitor(host, status) as mon:
        mon.execute("system_powerdown")
    if timeout is None:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(SHUTDOWN_POLL)
        current = host.reconcile(ref.name)
        if current is None or current.pid != status.pid:
            return  # someone (the event watcher) recorded it
        try:
            with monitor(host, status) as mon:
                if mon.execute("query-status")["status"] == "shutdown":
                    break
        except Exception:
            continue  # QEMU exiting: the next round's reconcile records it
    else:
        host.stop_and_record(status, DomainShutoffReason.DESTROYED)
        return
    host.stop_and_record(status, DomainShutoffReason.SHUTDOWN)


def reboot(host: QemuHost, ref: DomainRef) -> None:
    """An ACPI power-off that the event watcher turns into a reset (libvirt's fake reboot)."""
    with host.store.lock():
        status = active_status(host, ref)
        host.store.write_status(attrs.evolve(status, rebooting=True))
        with host.quick_monitor(status) as mon:
            mon.execute("system_powerdown")


def reset(host: QemuHost, ref: DomainRef) -> None:
    status = active_status(host, ref)
    with host.quick_monitor(status) as mon:
        mon.execute("system_reset")


def suspend(host: QemuHost, ref: DomainRef) -> None:
    with host.store.lock():
        status = active_status(host, ref)
        with host.quick_monitor(status) as mon:
            mon.execute("stop")
        host.store.write_status(
            attrs.evolve(status, state=DomainState.PAUSED, reason=int(DomainPausedReason.USER))
        )
        host.seen_state[ref.uuid] = DomainState.PAUSED
    host.ctx.emit_event(ref, DomainEventType.SUSPENDED, int(DomainEventSuspendedDetail.PAUSED))


def resume(host: QemuHost, ref: DomainRef) -> None:
    with host.store.lock():
        status = active_status(host, ref)
        if status.state != DomainState.PAUSED:
            raise OperationInvalidError(f"domain '{ref.name}' is not paused")
        with host.quick_monitor(status) as mon:
            mon.execute("cont")
        host.store.write_status(
            attrs.evolve(
                status, state=DomainState.RUNNING, reason=int(DomainRunningReason.UNPAUSED)
            )
        )
    host.seen_state[ref.uuid] = DomainState.RUNNING
    host.ctx.emit_event(ref, DomainEventType.RESUMED, int(DomainEventResumedDetail.UNPAUSED))


def domain_xml(host: QemuHost, ref: DomainRef, *, inactive: bool, migratable: bool) -> str:
    """What ``dumpxml`` shows: the definition, or the live XML with the state of its virtio
    channels asked of QEMU (the recorded XML alone when QEMU does not answer); ``migratable``:
    the live XML without what was chosen at start (see :func:`migratable_xml`)."""
    entry = host.get(ref)
    xml = host.xml(entry, inactive=inactive)
    if inactive or entry.status is None or not entry.active:
        return xml
    if migratable:
        return migratable_xml(xml, str(host.store.runtime_folder(entry.uuid)))
    if "<channel" not in xml:
        return xml
    try:
        with host.quick_monitor(entry.status) as mon:
            return with_channel_states(xml, mon)
    except QmpError:
        return xml


def info(host: QemuHost, ref: DomainRef) -> DomainInfo:
    entry = host.get(ref)
    root = parse_root(host.xml(entry), "domain")
    memory = root.find("memory")
    if memory is None:
        raise XMLError(f"domain '{ref.name}' has no <memory>")
    max_kib = memory_kib(memory)
    current = root.find("currentMemory")
    vcpus = int((root.findtext("vcpu") or "1").strip())
    status = entry.status
    active = entry.active and status is not None and status.pid is not None
    return DomainInfo(
        state=status.state if status is not None else DomainState.SHUTOFF,
        max_memory_kib=max_kib,
        memory_kib=memory_kib(current) if current is not None else max_kib,
        vcpus=vcpus,
        cpu_time_ns=process.cpu_time_ns(status.pid) if active and status and status.pid else 0,
    )
