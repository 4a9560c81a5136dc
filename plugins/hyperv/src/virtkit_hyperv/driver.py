"""The Hyper-V driver: WMI virtualization v2 over WS-Management (pywinrm).

VMs are ``Msvm_ComputerSystem`` instances (``Name`` is the VM's GUID, ``ElementName`` its
name); lifecycle through ``RequestStateChange`` and ``Msvm_ShutdownComponent``, definitions
through ``Msvm_VirtualSystemManagementService``, snapshots through
``Msvm_VirtualSystemSnapshotService``, migration through ``Msvm_VirtualSystemMigrationService``;
every job is waited for on ``Msvm_ConcreteJob``.
"""

from __future__ import annotations

import calendar
import time
import uuid as uuidlib
from collections.abc import Callable
from typing import ClassVar

import virtkit
from lxml import etree
from virtkit.auth import credentials
from virtkit.constants import (
    DomainCreateFlags,
    DomainDestroyFlags,
    DomainSaveRestoreFlags,
    DomainShutdownFlags,
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
from virtkit.records import (
    DomainInfo,
    DomainRecord,
    DomainRef,
    MigrationOffer,
    MigrationTarget,
    Progress,
    ProgressCallback,
    SnapshotRecord,
)
from virtkit.xml import DomainDef, SnapshotDef

from virtkit_hyperv import devices, mapping
from virtkit_hyperv.cim import embedded_instance
from virtkit_hyperv.client import Client, check_reachable
from virtkit_hyperv.options import ConnectOptions
from virtkit_hyperv.resources import DeviceAdder
from virtkit_hyperv.wsman import (
    Instance,
    Reference,
    instance_id_of,
    settings_query,
    text,
    wql_string,
)

POLL_SECONDS = 1.0
LIVE_MIGRATION = 32768  # Msvm_VirtualSystemMigrationSettingData.MigrationType: VirtualSystem


DRIVER = "Hyper-V"
"""The driver's name in the errors of :func:`~virtkit.flags.refuse_flags`."""


class HyperVDriver:
    """Serves ``hyperv://host``: one WinRM session per connection."""

    name: ClassVar[str] = "Hyper-V"

    def __init__(self, ctx: DriverContext) -> None:
        self._ctx = ctx
        self.opts = ConnectOptions.from_uri(ctx.uri)
        check_reachable(self.opts.host, self.opts.port)  # before asking for a password
        creds = credentials("hyperv", self.opts.host, self.opts.user)
        self.client = Client(self.opts, creds.username, creds.password)
        # the first request checks the credentials and that the host runs Hyper-V (v2)
        self._service("Msvm_VirtualSystemManagementService")

    # ------------------------------------------------------------------ helpers

    def _systems(self, where: str = "") -> list[Instance]:
        query = f"SELECT * FROM Msvm_ComputerSystem WHERE Caption = 'Virtual Machine'{where}"
        return self.client.query(query)

    def _vm(self, dom: DomainRef) -> Instance:
        found = self._systems(f" AND Name = {wql_string(str(dom.uuid).upper())}")
        if not found:
            raise NoDomainError(
                f"no Hyper-V VM with GUID {dom.uuid} ('{dom.name}')", domain=ErrorDomain.HYPERV
            )
        return found[0]

    @staticmethod
    def _ref(system: Instance) -> Reference:
        return Reference(
            "Msvm_ComputerSystem",
            {"CreationClassName": "Msvm_ComputerSystem", "Name": text(system.get("Name"))},
        )

    def _service(self, cim_class: str) -> Reference:
        found = self.client.query(f"SELECT * FROM {cim_class}")
        if not found:
            raise OperationFailedError(
                f"the Hyper-V host has no {cim_class}", domain=ErrorDomain.HYPERV
            )
        keys = ("CreationClassName", "Name", "SystemCreationClassName", "SystemName")
        return Reference(cim_class, {k: text(found[0].get(k)) for k in keys})

    @staticmethod
    def _state(system: Instance) -> int:
        return int(text(system.get("EnabledState")) or 0)

    def _record(self, system: Instance) -> DomainRecord:
        enabled = self._state(system)
        state, reason = mapping.state_of(enabled)
        guid = uuidlib.UUID(text(system.get("Name")))
        return DomainRecord(
            name=text(system.get("ElementName")),
            uuid=guid,
            id=guid.int % 0x7FFF + 1 if mapping.is_active(enabled) else -1,
            state=state,
            reason=reason,
            managed_save=enabled == mapping.REQUEST_SAVED,
        )

    def _settings(self, guid: str, cim_class: str, vssd: Instance) -> Instance:
        """The ``cim_class`` setting of the VM's realized settings ``vssd``."""
        found = self.client.query(settings_query(text(vssd.get("InstanceID")), cim_class))
        if not found:
            raise OperationFailedError(
                f"Hyper-V VM {guid} has no {cim_class}", domain=ErrorDomain.HYPERV
            )
        return found[0]

    def _realized(self, guid: str) -> Instance:
        found = self.client.query(
            "SELECT * FROM Msvm_VirtualSystemSettingData WHERE VirtualSystemIdentifier = "
            f"{wql_string(guid)} AND VirtualSystemType = {wql_string(mapping.REALIZED)}"
        )
        if not found:
            raise NoDomainError(f"Hyper-V VM {guid} has no settings", domain=ErrorDomain.HYPERV)
        return found[0]

    def _request(self, system: Instance, requested: int) -> None:
        """``RequestStateChange`` to ``requested`` (a ``mapping.REQUEST_*``), job waited for."""
        self.client.invoke(self._ref(system), "RequestStateChange", [("RequestedState", requested)])

    def _require(self, system: Instance, dom: DomainRef, action: str, active: bool) -> None:
        if mapping.is_active(self._state(system)) != active:
            state = "is not running" if active else "is already running"
            raise OperationInvalidError(f"cannot {action} '{dom.name}': it {state}")

    def _change_state(self, dom: DomainRef, requested: int, action: str, active: bool) -> None:
        system = self._vm(dom)
        self._require(system, dom, action, active)
        self._request(system, requested)

    # ------------------------------------------------------------------ connection

    @virtkit.hookimpl
    def virtkit_connect_get_hostname(self) -> str:
        hosts = self.client.query(
            "SELECT * FROM Msvm_ComputerSystem WHERE Caption = 'Hosting Computer System'"
        )
        return text(hosts[0].get("ElementName")) if hosts else self.opts.host

    @virtkit.hookimpl
    def virtkit_connect_list_domains(self) -> list[DomainRecord]:
        return [self._record(s) for s in self._systems()]

    @virtkit.hookimpl
    def virtkit_connect_lookup_domain(
        self, name: str | None, uuid: uuidlib.UUID | None, id: int | None
    ) -> DomainRecord:
        if uuid is not None:
            where = f" AND Name = {wql_string(str(uuid).upper())}"
        elif name is not None:
            where = f" AND ElementName = {wql_string(name)}"
        else:
            where = ""
        for record in map(self._record, self._systems(where)):
            if id is None or record.id == id:
                return record
        raise NoDomainError(f"no Hyper-V VM {name or uuid or id}", domain=ErrorDomain.HYPERV)

    # ------------------------------------------------------------------ definition

    @virtkit.hookimpl
    def virtkit_domain_define(self, definition: DomainDef) -> DomainRecord:
        settings = mapping.settings_for(definition)
        if self._systems(f" AND ElementName = {wql_string(definition.name)}"):
            raise DomainExistsError(f"a Hyper-V VM named '{definition.name}' already exists")
        switches = self._switches_named({n.switch for n in settings.devices.nics if n.switch})
        service = self._service("Msvm_VirtualSystemManagementService")
        out = self.client.invoke(
            service,
            "DefineSystem",
            [
                (
                    "SystemSettings",
                    embedded_instance("Msvm_VirtualSystemSettingData", settings.system),
                ),
                ("ResourceSettings", []),
                ("ReferenceConfiguration", None),
            ],
        )
        created = out.get("ResultingSystem")
        if not isinstance(created, Reference):
            raise OperationFailedError(
                "Hyper-V DefineSystem named no resulting system", domain=ErrorDomain.HYPERV
            )
        guid = created.keys.get("Name", "")
        try:
            vssd = self._realized(guid)
            self._size(service, guid, vssd, settings)
            adder = DeviceAdder(self.client, service, service.keys["SystemName"], vssd)
            adder.add_all(settings.devices, switches)
        except VirtError as exc:
            _undo_after(
                exc,
                f"defining '{definition.name}'",
                f"the half-defined VM {guid}",
                lambda: self.client.invoke(service, "DestroySystem", [("AffectedSystem", created)]),
            )
            raise type(exc)(
                f"defining '{definition.name}' failed, and the half-defined VM was removed: "
                f"{exc.message}",
                code=exc.code,
                domain=exc.domain,
            ) from exc
        return self.virtkit_connect_lookup_domain(name=None, uuid=uuidlib.UUID(guid), id=None)

    def _switches_named(self, names: set[str]) -> dict[str, str]:
        """The GUID of each virtual switch in ``names``; an error names a missing one."""
        if not names:
            return {}
        found: dict[str, list[str]] = {}
        for switch in self.client.query("SELECT * FROM Msvm_VirtualEthernetSwitch"):
            found.setdefault(text(switch.get("ElementName")), []).append(text(switch.get("Name")))
        for name in sorted(names):
            if len(found.get(name, ())) != 1:
                problem = "has no" if name not in found else "has more than one"
                raise InvalidArgumentError(
                    f"the Hyper-V host {problem} virtual switch named '{name}' (<source "
                    f"bridge>); its switches: {', '.join(sorted(found)) or 'none'}"
                )
        return {name: found[name][0] for name in names}

    def _size(
        self, service: Reference, guid: str, vssd: Instance, settings: mapping.Settings
    ) -> None:
        """Memory and processors of the new VM (``ModifyResourceSettings``)."""
        memory = self._settings(guid, "Msvm_MemorySettingData", vssd)
        cpu = self._settings(guid, "Msvm_ProcessorSettingData", vssd)
        self.client.invoke(
            service,
            "ModifyResourceSettings",
            [
                (
                    "ResourceSettings",
                    [
                        embedded_instance(
                            "Msvm_MemorySettingData",
                            {
                                "InstanceID": text(memory.get("InstanceID")),
                                "VirtualQuantity": settings.memory_mb,
                                "Reservation": settings.memory_mb,
                                "Limit": settings.memory_mb,
                            },
                        ),
                        embedded_instance(
                            "Msvm_ProcessorSettingData",
                            {
                                "InstanceID": text(cpu.get("InstanceID")),
                                "VirtualQuantity": settings.processors,
                            },
                        ),
                    ],
                )
            ],
        )

    @virtkit.hookimpl
    def virtkit_domain_undefine(self, dom: DomainRef) -> None:
        system = self._vm(dom)
        if mapping.is_active(self._state(system)):
            raise OperationInvalidError(f"cannot undefine '{dom.name}': it is running")
        service = self._service("Msvm_VirtualSystemManagementService")
        self.client.invoke(service, "DestroySystem", [("AffectedSystem", self._ref(system))])

    # ------------------------------------------------------------------ lifecycle

    @virtkit.hookimpl
    def virtkit_domain_start(self, dom: DomainRef, flags: int, snapshot: str | None) -> None:
        supported = DomainCreateFlags.START_PAUSED | DomainCreateFlags.START_FORCE_BOOT
        refuse_flags(flags, supported, "start", DRIVER)
        if flags & DomainCreateFlags.START_PAUSED:
            raise InvalidArgumentError(
                f"cannot start '{dom.name}' paused: Hyper-V has no paused start"
            )
        system = self._vm(dom)
        self._require(system, dom, "start", False)  # before a snapshot is applied
        if snapshot is not None:
            self._apply(system, snapshot)
        elif flags & DomainCreateFlags.START_FORCE_BOOT and (
            self._state(system) == mapping.REQUEST_SAVED
        ):
            self._request(system, mapping.REQUEST_OFF)  # discards the saved state
        self._request(system, mapping.REQUEST_RUNNING)

    @virtkit.hookimpl
    def virtkit_domain_destroy(self, dom: DomainRef, flags: int) -> None:
        refuse_flags(flags, DomainDestroyFlags.DEFAULT, "destroy", DRIVER)
        self._change_state(dom, mapping.REQUEST_OFF, "destroy", True)

    @virtkit.hookimpl
    def virtkit_domain_reset(self, dom: DomainRef) -> None:
        self._change_state(dom, mapping.REQUEST_RESET, "reset", True)

    @virtkit.hookimpl
    def virtkit_domain_suspend(self, dom: DomainRef) -> None:
        self._change_state(dom, mapping.REQUEST_PAUSED, "suspend", True)

    @virtkit.hookimpl
    def virtkit_domain_resume(self, dom: DomainRef) -> None:
        system = self._vm(dom)
        if self._state(system) != mapping.REQUEST_PAUSED:
            raise OperationInvalidError(f"cannot resume '{dom.name}': it is not paused")
        self._request(system, mapping.REQUEST_RUNNING)

    @virtkit.hookimpl
    def virtkit_domain_managed_save(self, dom: DomainRef, flags: int) -> None:
        refuse_flags(flags, DomainSaveRestoreFlags.NONE, "managed save", DRIVER)
        self._change_state(dom, mapping.REQUEST_SAVED, "save", True)

    @virtkit.hookimpl
    def virtkit_domain_managed_save_remove(self, dom: DomainRef) -> None:
        """Turning a saved VM off discards its saved state."""
        system = self._vm(dom)
        if self._state(system) != mapping.REQUEST_SAVED:
            raise OperationInvalidError(f"'{dom.name}' has no saved state")
        self._request(system, mapping.REQUEST_OFF)

    @virtkit.hookimpl
    def virtkit_domain_shutdown(self, dom: DomainRef, flags: int, timeout: float | None) -> None:
        refuse_flags(flags, DomainShutdownFlags.DEFAULT, "shutdown", DRIVER)
        system = self._vm(dom)
        if self._state(system) != mapping.REQUEST_RUNNING:  # EnabledState 2: running
            raise OperationInvalidError(f"cannot shut down '{dom.name}': it is not running")
        guid = text(system.get("Name"))
        components = self.client.query(
            f"SELECT * FROM Msvm_ShutdownComponent WHERE SystemName = {wql_string(guid)}"
        )
        if not components:
            raise OperationFailedError(
                f"'{dom.name}' has no shutdown integration service (Hyper-V integration "
                "services missing or disabled in the guest)",
                domain=ErrorDomain.HYPERV,
            )
        keys = ("CreationClassName", "DeviceID", "SystemCreationClassName", "SystemName")
        component = Reference(
            "Msvm_ShutdownComponent", {k: text(components[0].get(k)) for k in keys}
        )
        self.client.invoke(
            component, "InitiateShutdown", [("Force", False), ("Reason", "virtkit shutdown")]
        )
        if timeout is None:
            return
        deadline = time.monotonic() + timeout
        while mapping.is_active(self._state(system := self._vm(dom))):
            if time.monotonic() > deadline:  # the contract: then power it off
                self._request(system, mapping.REQUEST_OFF)
                return
            time.sleep(POLL_SECONDS)

    @virtkit.hookimpl
    def virtkit_domain_get_info(self, dom: DomainRef) -> DomainInfo:
        system = self._vm(dom)
        guid = text(system.get("Name"))
        vssd = self._realized(guid)
        memory = self._settings(guid, "Msvm_MemorySettingData", vssd)
        cpu = self._settings(guid, "Msvm_ProcessorSettingData", vssd)
        kib = int(text(memory.get("VirtualQuantity")) or 0) * 1024
        return DomainInfo(
            state=mapping.state_of(self._state(system))[0],
            max_memory_kib=kib,
            memory_kib=kib,
            vcpus=int(text(cpu.get("VirtualQuantity")) or 1),
            cpu_time_ns=0,
        )

    @virtkit.hookimpl
    def virtkit_domain_get_xml(self, dom: DomainRef, flags: int) -> str:
        supported = DomainXMLFlags.INACTIVE | DomainXMLFlags.SECURE
        refuse_flags(flags, supported, "getting a domain's XML", DRIVER)
        system = self._vm(dom)
        guid = text(system.get("Name"))
        vssd = self._realized(guid)
        record = self._record(system)
        return mapping.domain_xml(
            dict(system),
            dict(vssd),
            dict(self._settings(guid, "Msvm_MemorySettingData", vssd)),
            dict(self._settings(guid, "Msvm_ProcessorSettingData", vssd)),
            inactive=bool(flags & DomainXMLFlags.INACTIVE) or not record.active,
            id=record.id,
            devices=self._devices(text(vssd.get("InstanceID"))),
        )

    def _devices(self, vssd_id: str) -> list[etree._Element]:
        def settings(cim_class: str) -> list[Instance]:
            return self.client.query(settings_query(vssd_id, cim_class))

        switches = {
            text(s.get("Name")): text(s.get("ElementName"))
            for s in self.client.query("SELECT * FROM Msvm_VirtualEthernetSwitch")
        }
        return devices.disks(
            settings("Msvm_ResourceAllocationSettingData"),
            settings("Msvm_StorageAllocationSettingData"),
        ) + devices.interfaces(
            settings("Msvm_SyntheticEthernetPortSettingData"),
            settings("Msvm_EthernetPortAllocationSettingData"),
            switches,
            settings("Msvm_EmulatedEthernetPortSettingData"),
        )

    # ------------------------------------------------------------------ snapshots

    def _snapshots(self, guid: str) -> list[Instance]:
        return self.client.query(
            "SELECT * FROM Msvm_VirtualSystemSettingData WHERE VirtualSystemIdentifier = "
            f"{wql_string(guid)} AND VirtualSystemType = {wql_string(mapping.SNAPSHOT)}"
        )

    def _snapshot(self, system: Instance, name: str) -> Instance:
        for snap in self._snapshots(text(system.get("Name"))):
            if text(snap.get("ElementName")) == name:
                return snap
        raise NoSnapshotError(f"'{text(system.get('ElementName'))}' has no snapshot '{name}'")

    @staticmethod
    def _vssd_ref(vssd: Instance) -> Reference:
        return Reference(
            "Msvm_VirtualSystemSettingData", {"InstanceID": text(vssd.get("InstanceID"))}
        )

    @virtkit.hookimpl
    def virtkit_snapshot_create(self, dom: DomainRef, definition: SnapshotDef) -> str:
        system = self._vm(dom)
        guid = text(system.get("Name"))
        name = definition.name or time.strftime("%Y%m%d-%H%M%S")
        if any(text(s.get("ElementName")) == name for s in self._snapshots(guid)):
            raise OperationInvalidError(f"'{dom.name}' already has a snapshot '{name}'")
        service = self._service("Msvm_VirtualSystemSnapshotService")
        management = self._service("Msvm_VirtualSystemManagementService")
        out = self.client.invoke(
            service,
            "CreateSnapshot",
            [
                ("AffectedSystem", self._ref(system)),
                ("SnapshotSettings", None),
                ("SnapshotType", 2),  # full snapshot
            ],
        )
        created = out.get("ResultingSnapshot")
        if not isinstance(created, Reference):  # some hosts name it only through the job
            current = self._realized(guid).get("Parent")
            created = Reference(
                "Msvm_VirtualSystemSettingData", {"InstanceID": instance_id_of(text(current))}
            )
        settings = {"InstanceID": created.keys.get("InstanceID", ""), "ElementName": name}
        if definition.description:
            settings["Notes"] = definition.description
        try:  # Hyper-V names a new snapshot itself: rename it, or remove it
            self.client.invoke(
                management,
                "ModifySystemSettings",
                [("SystemSettings", embedded_instance("Msvm_VirtualSystemSettingData", settings))],
            )
        except VirtError as exc:
            _undo_after(
                exc,
                f"naming the new snapshot '{name}' of '{dom.name}'",
                "the snapshot Hyper-V made",
                lambda: self.client.invoke(
                    service, "DestroySnapshot", [("AffectedSnapshot", created)]
                ),
            )
            raise
        return name

    @virtkit.hookimpl
    def virtkit_snapshot_list(self, dom: DomainRef) -> list[SnapshotRecord]:
        """The tree from each snapshot's ``Parent`` path (``Msvm_ParentChildSettingData``
        carries the same pairs); the current one is the parent of the realized settings."""
        guid = text(self._vm(dom).get("Name"))
        snaps = self._snapshots(guid)
        names = {text(s.get("InstanceID")): text(s.get("ElementName")) for s in snaps}
        current = instance_id_of(text(self._realized(guid).get("Parent")))
        return [
            SnapshotRecord(
                name=text(s.get("ElementName")),
                parent=names.get(instance_id_of(text(s.get("Parent")))),
                creation_time=cim_seconds(text(s.get("CreationTime"))),
                state="shutoff",
                is_current=text(s.get("InstanceID")) == current,
            )
            for s in snaps
        ]

    @virtkit.hookimpl
    def virtkit_snapshot_get_xml(self, dom: DomainRef, name: str) -> str:
        record = next((s for s in self.virtkit_snapshot_list(dom) if s.name == name), None)
        if record is None:
            raise NoSnapshotError(f"'{dom.name}' has no snapshot '{name}'")
        root = etree.Element("domainsnapshot")
        etree.SubElement(root, "name").text = record.name
        etree.SubElement(root, "state").text = record.state
        if record.parent:
            etree.SubElement(etree.SubElement(root, "parent"), "name").text = record.parent
        etree.SubElement(root, "creationTime").text = str(record.creation_time)
        return str(etree.tostring(root, encoding="unicode", pretty_print=True))

    def _apply(self, system: Instance, name: str) -> None:
        snap = self._snapshot(system, name)
        service = self._service("Msvm_VirtualSystemSnapshotService")
        self.client.invoke(service, "ApplySnapshot", [("Snapshot", self._vssd_ref(snap))])

    @virtkit.hookimpl
    def virtkit_snapshot_revert(self, dom: DomainRef, name: str, flags: int) -> None:
        system = self._vm(dom)
        self._snapshot(system, name)  # unknown name: fail before stopping anything
        if mapping.is_active(self._state(system)):
            self._request(system, mapping.REQUEST_OFF)
        self._apply(system, name)
        if flags & (DomainSnapshotRevertFlags.RUNNING | DomainSnapshotRevertFlags.PAUSED):
            self._request(system, mapping.REQUEST_RUNNING)
            if flags & DomainSnapshotRevertFlags.PAUSED:
                self._request(system, mapping.REQUEST_PAUSED)

    @virtkit.hookimpl
    def virtkit_snapshot_delete(self, dom: DomainRef, name: str, flags: int) -> None:
        if flags & (
            DomainSnapshotDeleteFlags.METADATA_ONLY | DomainSnapshotDeleteFlags.CHILDREN_ONLY
        ):
            raise InvalidArgumentError(
                "Hyper-V deletes a snapshot, or a snapshot and its "
                "children; not metadata only or children only"
            )
        snap = self._snapshot(self._vm(dom), name)
        service = self._service("Msvm_VirtualSystemSnapshotService")
        method = (
            "DestroySnapshotTree"
            if flags & DomainSnapshotDeleteFlags.CHILDREN
            else "DestroySnapshot"
        )
        param = "SnapshotSettingData" if method == "DestroySnapshotTree" else "AffectedSnapshot"
        self.client.invoke(service, method, [(param, self._vssd_ref(snap))])

    # ------------------------------------------------------------------ migration

    @virtkit.hookimpl
    def virtkit_migrate_begin(self, dom: DomainRef) -> MigrationOffer:
        xml = self.virtkit_domain_get_xml(dom, DomainXMLFlags.INACTIVE)
        return MigrationOffer(xml=xml, cookie=self.opts.host.encode())

    @virtkit.hookimpl
    def virtkit_migrate_prepare(self, offer: MigrationOffer) -> MigrationTarget:
        from virtkit.xml import parse_domain

        definition = parse_domain(offer.xml)
        if definition.uuid is not None and self._systems(
            f" AND Name = {wql_string(str(definition.uuid).upper())}"
        ):
            raise DomainExistsError(f"'{definition.name}' already exists on {self.opts.host}")
        self._service("Msvm_VirtualSystemMigrationService")  # the host accepts migrations
        return MigrationTarget(uri=self.opts.host)

    @virtkit.hookimpl
    def virtkit_migrate_perform(
        self, dom: DomainRef, target: MigrationTarget, progress: ProgressCallback | None
    ) -> bytes:
        system = self._vm(dom)
        service = self._service("Msvm_VirtualSystemMigrationService")
        report = (
            None
            if progress is None
            else (
                lambda percent: progress(
                    Progress(operation="migrate", processed=percent, total=100)
                )
            )
        )
        self.client.invoke(
            service,
            "MigrateVirtualSystemToHost",
            [
                ("ComputerSystem", self._ref(system)),
                ("DestinationHost", target.uri),
                (
                    "MigrationSettingData",
                    embedded_instance(
                        "Msvm_VirtualSystemMigrationSettingData", {"MigrationType": LIVE_MIGRATION}
                    ),
                ),
            ],
            progress=report,
        )
        return b""

    @virtkit.hookimpl
    def virtkit_migrate_finish(self, name: str, cancelled: bool) -> DomainRecord | None:
        if cancelled:
            return None  # Hyper-V rolls back a failed migration job itself
        return self.virtkit_connect_lookup_domain(name=name, uuid=None, id=None)

    @virtkit.hookimpl
    def virtkit_migrate_confirm(self, dom: DomainRef, cancelled: bool) -> None:
        """Hyper-V removes the source VM when its migration job completes; nothing is left
        to stop. A cancelled migration leaves it running where it was."""


def cim_seconds(value: str) -> int:
    """Seconds since the epoch of a CIM datetime (``yyyymmddHHMMSS.mmmmmmsUUU``: local time
    and its offset from UTC in minutes); 0 when it is not one."""
    try:
        base = time.strptime(value[:14], "%Y%m%d%H%M%S")
        offset = int(value[21:25]) if len(value) >= 25 else 0
    except ValueError:
        return 0
    return calendar.timegm(base) - offset * 60


def _undo_after(failure: VirtError, action: str, made: str, remove: Callable[[], object]) -> None:
    """``action`` failed with ``failure``: ``remove`` what it had ``made``; when that fails
    too, raise an error saying both."""
    try:
        remove()
    except VirtError as undo:
        raise OperationFailedError(
            f"{action} failed ({failure.message}) and {made} could not be removed: {undo.message}",
            domain=ErrorDomain.HYPERV,
        ) from failure
