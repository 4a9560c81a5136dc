"""The VirtualBox driver: ``vbox:///session``, every operation through ``VBoxManage``.

Machines are found by UUID (``showvminfo``); definitions become ``createvm``/``modifyvm``/
``storagectl``/``storageattach`` commands (:mod:`virtkit_vbox.mapping`); snapshots are
VirtualBox's own, their times and descriptions read from the machine's ``.vbox`` file
(:mod:`virtkit_vbox.settings`).
"""

from __future__ import annotations

import calendar
import contextlib
import socket
import time
import uuid as uuidlib
from pathlib import Path
from typing import ClassVar

import virtkit
from virtkit.constants import (
    DomainCreateFlags,
    DomainDestroyFlags,
    DomainSaveRestoreFlags,
    DomainShutdownFlags,
    DomainSnapshotCreateFlags,
    DomainSnapshotDeleteFlags,
    DomainSnapshotRevertFlags,
    DomainXMLFlags,
)
from virtkit.driver import DriverContext
from virtkit.errors import (
    DomainExistsError,
    ErrorDomain,
    InvalidArgumentError,
    NoDomainError,
    NoSnapshotError,
    OperationFailedError,
    OperationInvalidError,
    VirtError,
)
from virtkit.flags import refuse_flags
from virtkit.records import DomainInfo, DomainRecord, DomainRef, SnapshotRecord
from virtkit.xml import DomainDef, SnapshotDef

from virtkit_vbox.manage import VBoxManage
from virtkit_vbox.mapping import define_commands, domain_xml
from virtkit_vbox.revert import restore_snapshot
from virtkit_vbox.settings import load_settings
from virtkit_vbox.snapshots import TEMPORARY_PREFIX, ListedSnapshot, parse_snapshot_list
from virtkit_vbox.states import is_active, state_of

POLL_SECONDS = 0.5
DRIVER = "VirtualBox"
"""The driver's name in the errors of :func:`~virtkit.flags.refuse_flags`."""


def parse_version(text: str) -> int:
    """libvirt's version number of ``VBoxManage --version`` (``7.0.12r159484`` -> 7000012)."""
    digits = text.strip().split("r")[0].split("_")[0].split(".")
    try:
        major, minor, micro = (int(d) for d in (digits + ["0", "0"])[:3])
    except ValueError:
        raise OperationFailedError(
            f"unexpected VBoxManage version '{text.strip()}'", domain=ErrorDomain.VBOX
        ) from None
    return major * 1_000_000 + minor * 1000 + micro


def parse_vm_list(text: str) -> list[tuple[str, str]]:
    """``(name, uuid)`` pairs of ``VBoxManage list vms`` (``"name" {uuid}`` lines)."""
    found = []
    for line in text.splitlines():
        name, sep, rest = line.rpartition('" {')
        if sep and name.startswith('"') and rest.endswith("}"):
            found.append((name[1:], rest[:-1]))
    return found


def epoch_seconds(time_stamp: str) -> int:
    """Seconds since the epoch of a ``.vbox`` ``timeStamp`` (UTC, ``2024-07-01T12:00:00Z``);
    0 when it is not one."""
    try:
        return calendar.timegm(time.strptime(time_stamp, "%Y-%m-%dT%H:%M:%SZ"))
    except ValueError:
        return 0


class VBoxDriver:
    """Serves ``vbox:///session``: the machines of the user running virtkit."""

    name: ClassVar[str] = "VBOX"

    def __init__(self, ctx: DriverContext) -> None:
        uri = ctx.uri
        if uri.host or uri.transport or uri.path != "/session":
            raise InvalidArgumentError(
                f"unexpected connection URI '{uri}': the VirtualBox driver serves "
                "vbox:///session only"
            )
        self._ctx = ctx
        self.manage = VBoxManage()

    # ------------------------------------------------------------------ helpers

    def _info(self, key: str) -> dict[str, str]:
        return self.manage.machinereadable("showvminfo", key)

    def _vm(self, dom: DomainRef) -> dict[str, str]:
        try:
            return self._info(str(dom.uuid))
        except NoDomainError:
            raise NoDomainError(
                f"no VirtualBox machine with UUID {dom.uuid} ('{dom.name}')",
                domain=ErrorDomain.VBOX,
            ) from None

    def _record(self, info: dict[str, str]) -> DomainRecord:
        state, reason = state_of(info.get("VMState", ""))
        active = is_active(info.get("VMState", ""))
        return DomainRecord(
            name=info["name"],
            uuid=uuidlib.UUID(info["UUID"]),
            id=self._id(info) if active else -1,
            state=state,
            reason=reason,
            managed_save=info.get("VMState") == "saved",
            snapshot_count=len(parse_snapshot_list(info)),  # showvminfo lists them too
        )

    @staticmethod
    def _id(info: dict[str, str]) -> int:
        """VirtualBox has no domain ids: a stable number derived from the UUID."""
        return uuidlib.UUID(info["UUID"]).int % 0x7FFF + 1

    def _listed(self, info: dict[str, str]) -> list[ListedSnapshot]:
        """The snapshot tree; ``showvminfo`` names a current snapshot when there is any (a
        machine without snapshots makes ``snapshot list`` fail)."""
        if "CurrentSnapshotUUID" not in info:
            return []
        return parse_snapshot_list(self.manage.machinereadable("snapshot", info["UUID"], "list"))

    def _require(self, info: dict[str, str], active: bool, action: str) -> None:
        if is_active(info.get("VMState", "")) != active:
            state = "is not running" if active else "is already running"
            raise OperationInvalidError(f"cannot {action} '{info['name']}': it {state}")

    # ------------------------------------------------------------------ connection

    @virtkit.hookimpl
    def virtkit_connect_get_hostname(self) -> str:
        return socket.gethostname()

    @virtkit.hookimpl
    def virtkit_connect_get_version(self) -> int:
        return parse_version(self.manage.run("--version"))

    @virtkit.hookimpl
    def virtkit_connect_list_domains(self) -> list[DomainRecord]:
        records = []
        for _, uuid in parse_vm_list(self.manage.run("list", "vms")):
            try:
                records.append(self._record(self._info(uuid)))
            except NoDomainError:
                continue  # unregistered between the two calls
        return records

    @virtkit.hookimpl
    def virtkit_connect_lookup_domain(
        self, name: str | None, uuid: uuidlib.UUID | None, id: int | None
    ) -> DomainRecord:
        if id is not None:
            for record in self.virtkit_connect_list_domains():
                if record.id == id:
                    return record
            raise NoDomainError(f"no running VirtualBox machine with id {id}")
        key = str(uuid) if uuid is not None else name
        try:
            return self._record(self._info(str(key)))
        except NoDomainError:
            raise NoDomainError(f"no VirtualBox machine '{key}'", domain=ErrorDomain.VBOX) from None

    # ------------------------------------------------------------------ definition

    @virtkit.hookimpl
    def virtkit_domain_define(self, definition: DomainDef) -> DomainRecord:
        for key in filter(None, (definition.name, definition.uuid and str(definition.uuid))):
            try:
                self._info(str(key))
            except NoDomainError:
                continue
            raise DomainExistsError(f"a VirtualBox machine '{key}' already exists")
        commands = define_commands(definition)  # every mapping error before anything runs
        uuid = commands[0][commands[0].index("--uuid") + 1]
        self.manage.run(*commands[0])
        try:
            for args in commands[1:]:
                self.manage.run(*args)
        except VirtError as exc:
            try:
                self._forget(uuid)
            except VirtError as undo:
                raise OperationFailedError(
                    f"defining '{definition.name}' failed ({exc.message}) and the half-defined "
                    f"machine {uuid} could not be removed: {undo.message}",
                    domain=ErrorDomain.VBOX,
                ) from exc
            raise
        return self._record(self._info(uuid))

    def _forget(self, uuid: str) -> None:
        """Unregister the machine and remove its settings files, keeping its disk images."""
        settings = Path(self._info(uuid)["CfgFile"])
        self.manage.run("unregistervm", uuid)
        for path in (settings, settings.with_name(settings.name + "-prev")):
            path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # a folder still holding logs or disks stays
            settings.parent.rmdir()

    @virtkit.hookimpl
    def virtkit_domain_undefine(self, dom: DomainRef) -> None:
        info = self._vm(dom)
        self._require(info, False, "undefine")
        self._forget(info["UUID"])

    # ------------------------------------------------------------------ lifecycle

    @virtkit.hookimpl
    def virtkit_domain_start(self, dom: DomainRef, flags: int, snapshot: str | None) -> None:
        supported = DomainCreateFlags.START_PAUSED | DomainCreateFlags.START_FORCE_BOOT
        refuse_flags(flags, supported, "start", DRIVER)
        if flags & DomainCreateFlags.START_PAUSED:
            raise InvalidArgumentError(
                f"cannot start '{dom.name}' paused: VBoxManage startvm has no paused start"
            )
        info = self._vm(dom)
        self._require(info, False, "start")
        uuid = info["UUID"]
        if snapshot is not None:
            self._snapshot_of(info, dom, snapshot)  # a missing snapshot changes nothing
            restore_snapshot(
                self.manage,
                info,
                snapshot,
                start=True,
                pause=False,
                action=f"starting '{dom.name}' from snapshot '{snapshot}'",
            )
            return
        if flags & DomainCreateFlags.START_FORCE_BOOT and info.get("VMState") == "saved":
            self.manage.run("discardstate", uuid)
        self.manage.run("startvm", uuid, "--type", "headless")

    def _control(self, dom: DomainRef, action: str, *args: str) -> dict[str, str]:
        info = self._vm(dom)
        self._require(info, True, action)
        self.manage.run("controlvm", info["UUID"], *args)
        return info

    @virtkit.hookimpl
    def virtkit_domain_shutdown(self, dom: DomainRef, flags: int, timeout: float | None) -> None:
        refuse_flags(flags, DomainShutdownFlags.ACPI_POWER_BTN, "shutdown", DRIVER)
        uuid = self._control(dom, "shut down", "acpipowerbutton")["UUID"]
        if timeout is None:
            return
        deadline = time.monotonic() + timeout
        while is_active(self._vm(dom).get("VMState", "")):
            if time.monotonic() > deadline:  # the contract: then power it off
                try:
                    self.manage.run("controlvm", uuid, "poweroff")
                except OperationInvalidError:
                    if is_active(self._vm(dom).get("VMState", "")):
                        raise
                return
            time.sleep(POLL_SECONDS)

    @virtkit.hookimpl
    def virtkit_domain_destroy(self, dom: DomainRef, flags: int) -> None:
        refuse_flags(flags, DomainDestroyFlags.DEFAULT, "destroy", DRIVER)
        self._control(dom, "destroy", "poweroff")

    @virtkit.hookimpl
    def virtkit_domain_reset(self, dom: DomainRef) -> None:
        self._control(dom, "reset", "reset")

    @virtkit.hookimpl
    def virtkit_domain_suspend(self, dom: DomainRef) -> None:
        self._control(dom, "suspend", "pause")

    @virtkit.hookimpl
    def virtkit_domain_resume(self, dom: DomainRef) -> None:
        self._control(dom, "resume", "resume")

    @virtkit.hookimpl
    def virtkit_domain_managed_save(self, dom: DomainRef, flags: int) -> None:
        refuse_flags(flags, DomainSaveRestoreFlags.NONE, "managed save", DRIVER)
        self._control(dom, "save", "savestate")

    @virtkit.hookimpl
    def virtkit_domain_managed_save_remove(self, dom: DomainRef) -> None:
        info = self._vm(dom)
        if info.get("VMState") != "saved":
            raise OperationInvalidError(f"'{dom.name}' has no saved state")
        self.manage.run("discardstate", info["UUID"])

    @virtkit.hookimpl
    def virtkit_domain_get_info(self, dom: DomainRef) -> DomainInfo:
        info = self._vm(dom)
        memory = int(info.get("memory", "0")) * 1024
        return DomainInfo(
            state=state_of(info.get("VMState", ""))[0],
            max_memory_kib=memory,
            memory_kib=memory,
            vcpus=int(info.get("cpus", "1")),
            cpu_time_ns=0,  # VirtualBox does not report guest CPU time through VBoxManage
        )

    @virtkit.hookimpl
    def virtkit_domain_get_xml(self, dom: DomainRef, flags: int) -> str:
        supported = DomainXMLFlags.INACTIVE | DomainXMLFlags.SECURE
        refuse_flags(flags, supported, "getting a domain's XML", DRIVER)
        info = self._vm(dom)
        inactive = bool(flags & DomainXMLFlags.INACTIVE) or not is_active(info["VMState"])
        return domain_xml(info, inactive=inactive, id=self._id(info))

    # ------------------------------------------------------------------ snapshots

    @virtkit.hookimpl
    def virtkit_snapshot_create(self, dom: DomainRef, definition: SnapshotDef, flags: int) -> str:
        if flags & (DomainSnapshotCreateFlags.REDEFINE | DomainSnapshotCreateFlags.DISK_ONLY):
            raise InvalidArgumentError("VirtualBox snapshots cannot be redefined or disk-only")
        info = self._vm(dom)
        name = definition.name or time.strftime("%Y%m%d-%H%M%S")
        if name.startswith(TEMPORARY_PREFIX):
            raise InvalidArgumentError(
                f"snapshot names starting with '{TEMPORARY_PREFIX}' are kept for virtkit's "
                f"temporary snapshots: choose another than '{name}'"
            )
        if any(s.name == name for s in self._listed(info)):
            raise OperationInvalidError(f"'{dom.name}' already has a snapshot '{name}'")
        args = ["snapshot", info["UUID"], "take", name]
        if definition.description:
            args += ["--description", definition.description]
        if is_active(info["VMState"]):
            args.append("--live")
        self.manage.run(*args)
        if flags & DomainSnapshotCreateFlags.HALT and is_active(info["VMState"]):
            self.manage.run("controlvm", info["UUID"], "poweroff")
        return name

    def _snapshot_facts(self, info: dict[str, str]) -> dict[str, tuple[int, str]]:
        """Creation time and libvirt state of each snapshot (by UUID), from the ``.vbox``
        file: ``running`` when VirtualBox saved the machine's state with it (online)."""
        machine = load_settings(Path(info["CfgFile"])).machine
        return {
            s.uuid.strip("{}"): (
                epoch_seconds(s.time_stamp),
                "running" if s.state_file else "shutoff",
            )
            for s, _ in machine.snapshots()
        }

    @virtkit.hookimpl
    def virtkit_snapshot_list(self, dom: DomainRef) -> list[SnapshotRecord]:
        info = self._vm(dom)
        listed = self._listed(info)
        facts = self._snapshot_facts(info) if listed else {}
        records = []
        for s in listed:
            created, state = facts.get(s.uuid.strip("{}"), (0, "shutoff"))
            records.append(
                SnapshotRecord(
                    name=s.name,
                    parent=s.parent,
                    creation_time=created,
                    state=state,
                    is_current=s.current,
                )
            )
        return records

    def _snapshot_of(self, info: dict[str, str], dom: DomainRef, name: str) -> ListedSnapshot:
        for snap in self._listed(info):
            if snap.name == name:
                return snap
        raise NoSnapshotError(f"'{dom.name}' has no snapshot '{name}'")

    def _find(self, dom: DomainRef, name: str) -> tuple[dict[str, str], ListedSnapshot]:
        info = self._vm(dom)
        return info, self._snapshot_of(info, dom, name)

    @virtkit.hookimpl
    def virtkit_snapshot_get_xml(self, dom: DomainRef, name: str) -> str:
        from lxml import etree

        info, snap = self._find(dom, name)
        root = etree.Element("domainsnapshot")
        etree.SubElement(root, "name").text = snap.name
        if snap.description:
            etree.SubElement(root, "description").text = snap.description
        created, state = self._snapshot_facts(info).get(snap.uuid.strip("{}"), (0, "shutoff"))
        etree.SubElement(root, "state").text = state
        if snap.parent:
            etree.SubElement(etree.SubElement(root, "parent"), "name").text = snap.parent
        etree.SubElement(root, "creationTime").text = str(created)
        return str(etree.tostring(root, encoding="unicode", pretty_print=True))

    @virtkit.hookimpl
    def virtkit_snapshot_revert(self, dom: DomainRef, name: str, flags: int) -> None:
        info, snap = self._find(dom, name)
        online = self._snapshot_facts(info).get(snap.uuid.strip("{}"), (0, ""))[1] == "running"
        # an online snapshot leaves the machine saved: it runs again, as libvirt reverts
        restore_snapshot(
            self.manage,
            info,
            name,
            start=online
            or bool(flags & (DomainSnapshotRevertFlags.RUNNING | DomainSnapshotRevertFlags.PAUSED)),
            pause=bool(flags & DomainSnapshotRevertFlags.PAUSED),
            action=f"reverting '{dom.name}' to snapshot '{name}'",
        )

    @virtkit.hookimpl
    def virtkit_snapshot_delete(self, dom: DomainRef, name: str, flags: int) -> None:
        if flags & DomainSnapshotDeleteFlags.METADATA_ONLY:
            raise InvalidArgumentError("VirtualBox cannot delete a snapshot's metadata only")
        info, _ = self._find(dom, name)
        listed = self._listed(info)
        doomed = []
        if flags & (DomainSnapshotDeleteFlags.CHILDREN | DomainSnapshotDeleteFlags.CHILDREN_ONLY):
            doomed = _descendants(listed, name)
        if not flags & DomainSnapshotDeleteFlags.CHILDREN_ONLY:
            doomed.append(name)
        for victim in doomed:  # deepest first: VirtualBox merges a snapshot into its child
            self.manage.run("snapshot", info["UUID"], "delete", victim)


def _descendants(listed: list[ListedSnapshot], name: str) -> list[str]:
    """Names below ``name``, children after their own descendants (safe deletion order)."""
    found: list[str] = []
    for snap in listed:
        if snap.parent == name:
            found.extend(_descendants(listed, snap.name))
            found.append(snap.name)
    return found


__all__ = ["VBoxDriver", "parse_version", "parse_vm_list"]
