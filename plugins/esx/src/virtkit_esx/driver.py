"""The ESX driver: ``esx://host[:port]/``, ``gsx://host[:port]/`` and
``vpx://vcenter[:port]/datacenter[/folder...]/cluster/host`` through the vSphere API.

Query parameters as libvirt's: ``transport`` (``https``, the default, or ``http``),
``no_verify=1`` (do not check the server's certificate), ``proxy=[http://]host[:port]``.
The user comes from the URI, the password from the auth file (:mod:`virtkit.auth`).
"""

from __future__ import annotations

import threading
import time
import uuid as uuidlib
from typing import Any, ClassVar

import virtkit
from pyVmomi import vim, vmodl
from virtkit.auth import credentials
from virtkit.constants import (
    DomainCreateFlags,
    DomainEventDefinedDetail,
    DomainEventResumedDetail,
    DomainEventStartedDetail,
    DomainEventStoppedDetail,
    DomainEventSuspendedDetail,
    DomainEventType,
    DomainEventUndefinedDetail,
    DomainPausedReason,
    DomainRunningReason,
    DomainShutoffReason,
    DomainSnapshotCreateFlags,
    DomainSnapshotDeleteFlags,
    DomainSnapshotRevertFlags,
    DomainState,
    DomainXMLFlags,
)
from virtkit.driver import DriverContext
from virtkit.errors import (
    ConfigUnsupportedError,
    DomainExistsError,
    ErrorDomain,
    InvalidArgumentError,
    NoDomainError,
    NoSnapshotError,
    NoSupportError,
    OperationFailedError,
    OperationInvalidError,
)
from virtkit.records import (
    DomainInfo,
    DomainRecord,
    DomainRef,
    MigrationOffer,
    MigrationTarget,
    ProgressCallback,
    SnapshotRecord,
)
from virtkit.xml import DomainDef, SnapshotDef, format_domain

from virtkit_esx.paths import PathMapper
from virtkit_esx.session import Session, vsphere_error
from virtkit_esx.snapshots import SnapshotTree, snapshot_xml
from virtkit_esx.vmconfig import VM_TYPES, config_spec, config_to_definition, device_summary
from virtkit_esx.vmx2xml import vmx_to_xml
from virtkit_esx.xml2vmx import xml_to_vmx

DEFAULT_PORTS = {
    ("esx", "https"): 443,
    ("esx", "http"): 80,
    ("gsx", "https"): 8333,
    ("gsx", "http"): 8222,
    ("vpx", "https"): 443,
    ("vpx", "http"): 80,
}
API_TYPES = {"esx": "HostAgent", "gsx": "HostAgent", "vpx": "VirtualCenter"}
POWER_STATES = {
    "poweredOn": DomainState.RUNNING,
    "poweredOff": DomainState.SHUTOFF,
    "suspended": DomainState.PAUSED,
}
VM_PROPS = [
    "name",
    "config.uuid",
    "runtime.powerState",
    "runtime.host",
    "config.template",
    "snapshot.rootSnapshotList",
]
HOST_TYPE: Any = vim.HostSystem  # pyvmomi builds its types at run time
NATIVE_FORMAT = "vmware-vmx"
VIRTUAL_HW_VERSION = 7  # ESX 4.0 and later, as libvirt's driver writes


def _count(trees: Any) -> int:
    """The number of snapshots in a ``rootSnapshotList``."""
    return sum(1 + _count(t.childSnapshotList) for t in trees or [])


def _vm_id(vm: Any) -> int:
    """libvirt's id of a running VM: the number in its managed object id (``vm-42`` -> 42)."""
    digits = "".join(ch for ch in vm._moId.rsplit("-", 1)[-1] if ch.isdigit())
    return int(digits) if digits else abs(hash(vm._moId)) % 100000


class ESXDriver:
    """One vSphere session per connection."""

    name: ClassVar[str] = "ESX"

    def __init__(self, ctx: DriverContext) -> None:
        uri = ctx.uri
        self._ctx = ctx
        self.scheme = uri.driver
        if uri.transport is not None or not uri.host:
            raise InvalidArgumentError(
                f"unexpected connection URI '{uri}': the ESX driver takes "
                f"{self.scheme}://host[:port]/ (no '+transport', a host is required)"
            )
        transport = (uri.param("transport") or "https").lower()
        if transport not in ("http", "https"):
            raise InvalidArgumentError(
                f"query parameter 'transport' has unexpected value '{transport}': "
                "expecting 'http' or 'https'"
            )
        no_verify = uri.param("no_verify", "0")
        if no_verify not in ("0", "1"):
            raise InvalidArgumentError(
                f"query parameter 'no_verify' has unexpected value '{no_verify}': expecting 0 or 1"
            )
        path = [p for p in uri.path.split("/") if p]
        if self.scheme in ("esx", "gsx") and path:
            raise InvalidArgumentError(
                f"unexpected path '{uri.path}' in '{uri}': {self.scheme}:// URIs name a host only"
            )
        if self.scheme == "vpx" and len(path) < 2:
            raise InvalidArgumentError(
                f"path '{uri.path}' of '{uri}' must name datacenter[/folder...]/cluster/host "
                "(or datacenter/host for a standalone host)"
            )
        port = uri.port or DEFAULT_PORTS[(self.scheme, transport)]
        creds = credentials(self.scheme, uri.host, uri.user)
        self.session = Session(
            uri.host,
            port,
            creds.username,
            creds.password,
            verify=no_verify == "0",
            protocol=transport,
            proxy=_proxy(uri.param("proxy")),
        )
        try:
            self._check_product()
            self.host, self.datacenter = self._scope(path)
        except BaseException:
            self.session.close()
            raise
        self._lock = threading.RLock()
        self._reasons: dict[uuidlib.UUID, tuple[DomainState, int]] = {}
        # domains that leave vSphere when they stop: created transient ("destroy": files too)
        # or undefined while running ("unregister": files kept), by this connection
        self._transient: dict[uuidlib.UUID, str] = {}
        self._known: dict[uuidlib.UUID, Any] = {}  # VMs by UUID, as found before
        self._view: Any = None  # the container view listing VMs, made on first use

    # ------------------------------------------------------------------ setup

    def _check_product(self) -> None:
        about = self.session.content.about
        if about.apiType != API_TYPES[self.scheme]:
            raise InvalidArgumentError(
                f"{self.scheme}:// expects a server of API type {API_TYPES[self.scheme]}, but "
                f"{about.fullName} is {about.apiType}: use "
                f"{'vpx://' if about.apiType == 'VirtualCenter' else 'esx://'}"
            )

    def _scope(self, path: list[str]) -> tuple[Any, Any]:
        """The host this connection manages and its datacenter."""
        content = self.session.content
        if not path:
            hosts = self.session.all_of(vim.HostSystem, ["name"])
            dcs = self.session.all_of(vim.Datacenter, ["name"])
            return hosts[0][0], dcs[0][0]
        inventory = "/".join([path[0], "host", *path[1:]])
        found = content.searchIndex.FindByInventoryPath(inventoryPath=inventory)
        if isinstance(found, vim.ComputeResource) and not isinstance(
            found, vim.ClusterComputeResource
        ):
            found = self.session.get(found, "host")[0]
        if not isinstance(found, vim.HostSystem):
            raise InvalidArgumentError(
                f"path '/{'/'.join(path)}' names no host in vCenter's inventory "
                "(expected datacenter[/folder...]/cluster/host)"
            )
        dc = content.searchIndex.FindByInventoryPath(inventoryPath=path[0])
        return found, dc

    # ------------------------------------------------------------------ helpers

    def _vms(self) -> list[tuple[Any, dict[str, Any]]]:
        if self._view is None:
            self._view = self.session.view(vim.VirtualMachine)
        found = [
            (vm, p)
            for vm, p in self.session.in_view(self._view, vim.VirtualMachine, VM_PROPS)
            if not p.get("config.template")
            and (self.scheme != "vpx" or p.get("runtime.host") == self.host)
        ]
        self._known.update((uuidlib.UUID(p["config.uuid"]), vm) for vm, p in found)
        return found

    def _record(self, vm: Any, p: dict[str, Any]) -> DomainRecord:
        ident = uuidlib.UUID(p["config.uuid"])
        state = POWER_STATES.get(p.get("runtime.powerState", ""), DomainState.NOSTATE)
        known = self._reasons.get(ident)
        reason = known[1] if known and known[0] == state else 0
        return DomainRecord(
            name=p["name"],
            uuid=ident,
            id=_vm_id(vm) if state != DomainState.SHUTOFF else -1,
            state=state,
            reason=reason,
            persistent=ident not in self._transient,
            snapshot_count=_count(p.get("snapshot.rootSnapshotList")),
        )

    def _vm(self, dom: DomainRef, *paths: str) -> tuple[Any, dict[str, Any]]:
        """The VM of ``dom`` and its properties ``paths`` plus ``runtime.powerState``, read in
        one call (VMs found before are not searched for again)."""
        wanted = ["runtime.powerState", "runtime.host", "config.uuid", *paths]
        vm = self._known.get(dom.uuid)
        props = self.session.props(vm, wanted) if vm is not None else {}
        if props.get("config.uuid") != str(dom.uuid):  # never seen, or gone since
            vm = self.session.content.searchIndex.FindByUuid(uuid=str(dom.uuid), vmSearch=True)
            props = self.session.props(vm, wanted) if vm is not None else {}
        if not props or (self.scheme == "vpx" and props.get("runtime.host") != self.host):
            self._known.pop(dom.uuid, None)
            raise NoDomainError(
                f"domain not found: no domain with matching uuid '{dom.uuid}'",
                domain=ErrorDomain.ESX,
            )
        self._known[dom.uuid] = vm
        return vm, props

    def _power(self, vm: Any) -> str:
        return str(self.session.get(vm, "runtime.powerState"))

    def _note(self, dom: DomainRef, state: DomainState, reason: int) -> None:
        self._reasons[dom.uuid] = (state, reason)

    def _emit(self, dom: DomainRef, event: DomainEventType, detail: int) -> None:
        self._ctx.emit_event(dom, event, detail)

    @staticmethod
    def _require(props: dict[str, Any], dom: DomainRef, *states: str) -> None:
        power = str(props.get("runtime.powerState"))
        if power not in states:
            words = {"poweredOn": "running", "poweredOff": "shut off", "suspended": "paused"}
            raise OperationInvalidError(
                f"domain '{dom.name}' is {words.get(power, power)}: "
                f"the operation needs it "
                f"{' or '.join(words[s] for s in states)}",
                domain=ErrorDomain.ESX,
            )

    # ------------------------------------------------------------------ connection

    @virtkit.hookimpl
    def virtkit_connect_close(self) -> None:
        self.session.close()

    @virtkit.hookimpl
    def virtkit_connect_get_hostname(self) -> str:
        return str(self.session.get(self.host, "name"))

    @virtkit.hookimpl
    def virtkit_connect_get_version(self) -> int:
        major, minor, micro = (self.session.content.about.version.split(".") + ["0", "0"])[:3]
        return int(major) * 1_000_000 + int(minor) * 1_000 + int(micro)

    @virtkit.hookimpl
    def virtkit_connect_get_capabilities(self) -> str:
        p = self.session.props(self.host, ["hardware.systemInfo.uuid", "name"])
        return (
            "<capabilities>\n  <host>\n"
            f"    <uuid>{p.get('hardware.systemInfo.uuid', '')}</uuid>\n"
            "    <cpu>\n      <arch>x86_64</arch>\n    </cpu>\n  </host>\n"
            + "".join(
                f"  <guest>\n    <os_type>hvm</os_type>\n    <arch name='{arch}'>\n"
                f"      <wordsize>{bits}</wordsize>\n      <domain type='vmware'/>\n"
                "    </arch>\n  </guest>\n"
                for arch, bits in (("i686", 32), ("x86_64", 64))
            )
            + "</capabilities>\n"
        )

    @virtkit.hookimpl
    def virtkit_connect_list_domains(self) -> list[DomainRecord]:
        return [self._record(vm, p) for vm, p in self._vms()]

    @virtkit.hookimpl
    def virtkit_connect_lookup_domain(
        self, name: str | None, uuid: uuidlib.UUID | None, id: int | None
    ) -> DomainRecord | None:
        if uuid is not None:
            vm = self.session.content.searchIndex.FindByUuid(uuid=str(uuid), vmSearch=True)
            candidates = [vm] if vm is not None else []
            found = [(v, self.session.props(v, VM_PROPS)) for v in candidates]
            found = [
                (v, p)
                for v, p in found
                if self.scheme != "vpx" or p.get("runtime.host") == self.host
            ]
        else:
            found = [
                (v, p)
                for v, p in self._vms()
                if (name is not None and p["name"] == name)
                or (
                    id is not None
                    and p.get("runtime.powerState") != "poweredOff"
                    and _vm_id(v) == id
                )
            ]
        return self._record(*found[0]) if found else None

    # ------------------------------------------------------------------ definitions

    def _datastore(self) -> str:
        stores = self.session.get(self.host, "datastore") or []
        if not stores:
            raise OperationFailedError(
                "the host has no datastore to create the VM on", domain=ErrorDomain.ESX
            )
        return str(self.session.get(stores[0], "name"))

    def _check_type(self, definition: DomainDef) -> None:
        if str(definition.type) != "vmware":
            raise InvalidArgumentError(
                f"the ESX driver runs <domain type='vmware'>, not '{definition.type}'"
            )

    def _existing(self, definition: DomainDef) -> Any | None:
        """The VM ``definition`` redefines (same name and UUID), None for a new one; a clash of
        only the name or only the UUID is an error."""
        for vm, p in self._vms():
            same_name = p["name"] == definition.name
            same_uuid = definition.uuid is not None and p["config.uuid"] == str(definition.uuid)
            if same_name and (same_uuid or definition.uuid is None):
                return vm
            if same_name or same_uuid:
                raise DomainExistsError(
                    f"domain '{p['name']}' already exists with uuid {p['config.uuid']}",
                    domain=ErrorDomain.ESX,
                )
        return None

    def _create(self, definition: DomainDef) -> Any:
        self._check_type(definition)
        if self._existing(definition) is not None:
            raise DomainExistsError(
                f"domain '{definition.name}' already exists", domain=ErrorDomain.ESX
            )
        spec = config_spec(definition, self._datastore())
        folder = self.session.get(self.datacenter, "vmFolder")
        pool = self.session.get(self.session.get(self.host, "parent"), "resourcePool")
        return self.session.run(
            f"define of domain '{definition.name}'",
            folder.CreateVM_Task,
            config=spec,
            pool=pool,
            host=self.host,
        )

    @virtkit.hookimpl
    def virtkit_domain_define(self, definition: DomainDef) -> DomainRecord:
        with self._lock:
            self._check_type(definition)
            vm = self._existing(definition)
            if vm is None:
                vm, detail = self._create(definition), DomainEventDefinedDetail.ADDED
            else:
                if self._power(vm) != "poweredOff":
                    raise OperationInvalidError(
                        f"domain '{definition.name}' is running: vSphere cannot keep a new "
                        "config for the next start; shut it down first",
                        domain=ErrorDomain.ESX,
                    )
                current = config_to_definition(self.session.get(vm, "config"))
                if device_summary(definition) != device_summary(current):
                    raise ConfigUnsupportedError(
                        f"redefining domain '{definition.name}' would change its disks or "
                        "interfaces: the ESX driver changes name, memory, vCPUs and description "
                        "only; change devices in vSphere"
                    )
                spec = config_spec(definition, None)
                spec.uuid = None  # keep the VM's own
                self.session.run(
                    f"redefine of domain '{definition.name}'", vm.ReconfigVM_Task, spec=spec
                )
                detail = DomainEventDefinedDetail.UPDATED
            record = self._record(vm, self.session.props(vm, VM_PROPS))
        self._emit(DomainRef(name=record.name, uuid=record.uuid), DomainEventType.DEFINED, detail)
        return record

    @virtkit.hookimpl
    def virtkit_domain_create_transient(self, definition: DomainDef, flags: int) -> DomainRecord:
        with self._lock:
            vm = self._create(definition)
            ident = uuidlib.UUID(self.session.get(vm, "config.uuid"))
            ref = DomainRef(name=definition.name, uuid=ident)
            try:
                self._start(vm, ref)
            except BaseException:
                self.session.run(
                    "clean-up of a transient domain that failed to start", vm.Destroy_Task
                )
                raise
            self._transient[ident] = "destroy"
            return self._record(vm, self.session.props(vm, VM_PROPS))

    @virtkit.hookimpl
    def virtkit_domain_undefine(self, dom: DomainRef) -> None:
        with self._lock:
            vm, props = self._vm(dom)
            if props["runtime.powerState"] != "poweredOff":
                # vSphere cannot unregister a running VM: it goes when it stops
                self._transient.setdefault(dom.uuid, "unregister")
                self._emit(dom, DomainEventType.UNDEFINED, DomainEventUndefinedDetail.REMOVED)
                return
            try:
                vm.UnregisterVM()
            except vmodl.MethodFault as exc:
                raise vsphere_error(f"undefine of domain '{dom.name}'", exc) from None
            self._reasons.pop(dom.uuid, None)
        self._emit(dom, DomainEventType.UNDEFINED, DomainEventUndefinedDetail.REMOVED)

    # ------------------------------------------------------------------ lifecycle

    def _start(self, vm: Any, dom: DomainRef) -> None:
        self.session.run(f"start of domain '{dom.name}'", vm.PowerOnVM_Task)
        self._note(dom, DomainState.RUNNING, DomainRunningReason.BOOTED)
        self._emit(dom, DomainEventType.STARTED, DomainEventStartedDetail.BOOTED)

    def _stopped(self, vm: Any, dom: DomainRef, reason: DomainShutoffReason) -> None:
        """Record a stop; a transient domain is removed from vSphere."""
        self._note(dom, DomainState.SHUTOFF, reason)
        how = self._transient.pop(dom.uuid, None)
        if how == "destroy":
            self.session.run(f"removal of transient domain '{dom.name}'", vm.Destroy_Task)
        elif how == "unregister":
            try:
                vm.UnregisterVM()
            except vmodl.MethodFault as exc:
                raise vsphere_error(f"undefine of stopped domain '{dom.name}'", exc) from None
        detail = (
            DomainEventStoppedDetail.SHUTDOWN
            if reason == DomainShutoffReason.SHUTDOWN
            else DomainEventStoppedDetail.DESTROYED
        )
        self._emit(dom, DomainEventType.STOPPED, detail)

    @virtkit.hookimpl
    def virtkit_domain_start(self, dom: DomainRef, flags: int) -> None:
        with self._lock:
            vm, props = self._vm(dom)
            if props["runtime.powerState"] == "poweredOn":
                raise OperationInvalidError(
                    f"domain '{dom.name}' is already running", domain=ErrorDomain.ESX
                )
            self._start(vm, dom)
            if flags & DomainCreateFlags.START_PAUSED:
                self.virtkit_domain_suspend(dom)

    @virtkit.hookimpl
    def virtkit_domain_shutdown(self, dom: DomainRef, timeout: float | None) -> None:
        with self._lock:
            vm, props = self._vm(dom)
            self._require(props, dom, "poweredOn")
            try:
                vm.ShutdownGuest()
            except vmodl.MethodFault as exc:
                raise vsphere_error(f"shutdown of domain '{dom.name}'", exc) from None
            reason = DomainShutoffReason.SHUTDOWN
            if timeout is not None:
                end = time.monotonic() + timeout
                while self._power(vm) != "poweredOff" and time.monotonic() < end:
                    time.sleep(0.05)
                if self._power(vm) != "poweredOff":
                    self.session.run(
                        f"power-off of domain '{dom.name}' after shutdown timeout",
                        vm.PowerOffVM_Task,
                    )
                    reason = DomainShutoffReason.DESTROYED
            if self._power(vm) == "poweredOff":
                self._stopped(vm, dom, reason)

    @virtkit.hookimpl
    def virtkit_domain_destroy(self, dom: DomainRef) -> None:
        with self._lock:
            vm, props = self._vm(dom)
            self._require(props, dom, "poweredOn", "suspended")
            self.session.run(f"destroy of domain '{dom.name}'", vm.PowerOffVM_Task)
            self._stopped(vm, dom, DomainShutoffReason.DESTROYED)

    @virtkit.hookimpl
    def virtkit_domain_reboot(self, dom: DomainRef) -> None:
        vm, props = self._vm(dom)
        self._require(props, dom, "poweredOn")
        try:
            vm.RebootGuest()
        except vmodl.MethodFault as exc:
            raise vsphere_error(f"reboot of domain '{dom.name}'", exc) from None

    @virtkit.hookimpl
    def virtkit_domain_reset(self, dom: DomainRef) -> None:
        vm, props = self._vm(dom)
        self._require(props, dom, "poweredOn")
        self.session.run(f"reset of domain '{dom.name}'", vm.ResetVM_Task)

    @virtkit.hookimpl
    def virtkit_domain_suspend(self, dom: DomainRef) -> None:
        with self._lock:
            vm, props = self._vm(dom)
            self._require(props, dom, "poweredOn")
            self.session.run(f"suspend of domain '{dom.name}'", vm.SuspendVM_Task)
            self._note(dom, DomainState.PAUSED, DomainPausedReason.USER)
        self._emit(dom, DomainEventType.SUSPENDED, DomainEventSuspendedDetail.PAUSED)

    @virtkit.hookimpl
    def virtkit_domain_resume(self, dom: DomainRef) -> None:
        with self._lock:
            vm, props = self._vm(dom)
            self._require(props, dom, "suspended")
            self.session.run(f"resume of domain '{dom.name}'", vm.PowerOnVM_Task)
            self._note(dom, DomainState.RUNNING, DomainRunningReason.UNPAUSED)
        self._emit(dom, DomainEventType.RESUMED, DomainEventResumedDetail.UNPAUSED)

    @virtkit.hookimpl
    def virtkit_domain_get_info(self, dom: DomainRef) -> DomainInfo:
        _, p = self._vm(dom, "config.hardware.memoryMB", "config.hardware.numCPU")
        state = POWER_STATES.get(p.get("runtime.powerState", ""), DomainState.NOSTATE)
        memory = int(p.get("config.hardware.memoryMB") or 0) * 1024
        return DomainInfo(
            state=state,
            max_memory_kib=memory,
            memory_kib=memory if state != DomainState.SHUTOFF else 0,
            vcpus=int(p.get("config.hardware.numCPU") or 1),
            cpu_time_ns=0,
        )

    @virtkit.hookimpl
    def virtkit_domain_get_xml(self, dom: DomainRef, flags: int) -> str:
        vm, p = self._vm(dom, "config")
        live = p.get("runtime.powerState") != "poweredOff" and not flags & DomainXMLFlags.INACTIVE
        return format_domain(
            config_to_definition(p["config"]), secure=True, id=_vm_id(vm) if live else None
        )

    # ------------------------------------------------------------------ snapshots

    @virtkit.hookimpl
    def virtkit_snapshot_create(self, dom: DomainRef, definition: SnapshotDef, flags: int) -> str:
        unsupported = ~(DomainSnapshotCreateFlags.QUIESCE | DomainSnapshotCreateFlags.DISK_ONLY)
        if flags & unsupported:
            raise NoSupportError(
                f"the ESX driver does not support snapshot flags "
                f"{DomainSnapshotCreateFlags(flags & unsupported)!r}",
                domain=ErrorDomain.ESX,
            )
        with self._lock:
            vm, props = self._vm(dom, *SnapshotTree.PATHS)
            name = definition.name or str(int(time.time()))
            if SnapshotTree.from_props(props).find(name) is not None:
                raise OperationInvalidError(
                    f"domain '{dom.name}' already has a snapshot named '{name}'",
                    domain=ErrorDomain.ESX,
                )
            memory = (
                props["runtime.powerState"] == "poweredOn"
                and not flags & DomainSnapshotCreateFlags.DISK_ONLY
            )
            self.session.run(
                f"snapshot '{name}' of domain '{dom.name}'",
                vm.CreateSnapshot_Task,
                name=name,
                description=definition.description or "",
                memory=memory,
                quiesce=bool(flags & DomainSnapshotCreateFlags.QUIESCE),
            )
            return name

    def _snapshot(self, dom: DomainRef, name: str) -> tuple[Any, str, SnapshotTree, Any]:
        """The VM, its power state, its snapshot tree and the snapshot ``name``."""
        vm, props = self._vm(dom, *SnapshotTree.PATHS)
        tree = SnapshotTree.from_props(props)
        node = tree.find(name)
        if node is None:
            raise NoSnapshotError(
                f"domain '{dom.name}' has no snapshot named '{name}'", domain=ErrorDomain.ESX
            )
        return vm, props["runtime.powerState"], tree, node

    @virtkit.hookimpl
    def virtkit_snapshot_list(self, dom: DomainRef) -> list[SnapshotRecord]:
        return SnapshotTree.from_props(self._vm(dom, *SnapshotTree.PATHS)[1]).records()

    @virtkit.hookimpl
    def virtkit_snapshot_get_xml(self, dom: DomainRef, name: str) -> str:
        _, _, tree, node = self._snapshot(dom, name)
        return snapshot_xml(tree, node, dom.uuid)

    @virtkit.hookimpl
    def virtkit_snapshot_revert(self, dom: DomainRef, name: str, flags: int) -> None:
        with self._lock:
            vm, before, _, node = self._snapshot(dom, name)
            self.session.run(
                f"revert of domain '{dom.name}' to snapshot '{name}'",
                node.snapshot.RevertToSnapshot_Task,
            )
            wanted = {"running": "poweredOn", "paused": "suspended"}.get(node.state, "poweredOff")
            if flags & DomainSnapshotRevertFlags.RUNNING:
                wanted = "poweredOn"
            elif flags & DomainSnapshotRevertFlags.PAUSED:
                wanted = "suspended"
            self._settle(vm, dom, before, wanted, name)
            self._revert_events(dom, before, wanted)

    def _settle(self, vm: Any, dom: DomainRef, before: str, wanted: str, name: str) -> None:
        """Bring the VM to the power state the revert asks for. ESX restores the snapshot's
        own state itself; vcsim 0.24 keeps the state from before the revert. When both are the
        wanted state there is nothing to check."""
        action = f"revert of domain '{dom.name}' to snapshot '{name}'"
        power = before if before == wanted else self._power(vm)
        if wanted == "poweredOff":
            if power != "poweredOff":
                self.session.run(action, vm.PowerOffVM_Task)
            return
        if power == "poweredOff":
            self.session.run(action, vm.PowerOnVM_Task)
            power = "poweredOn"
        if wanted == "suspended" and power == "poweredOn":
            self.session.run(action, vm.SuspendVM_Task)
        elif wanted == "poweredOn" and power == "suspended":
            self.session.run(action, vm.PowerOnVM_Task)

    def _revert_events(self, dom: DomainRef, before: str, after: str) -> None:
        if after == "poweredOff":
            self._note(dom, DomainState.SHUTOFF, DomainShutoffReason.FROM_SNAPSHOT)
            if before != "poweredOff":
                self._emit(dom, DomainEventType.STOPPED, DomainEventStoppedDetail.FROM_SNAPSHOT)
            return
        if after == "suspended":
            self._note(dom, DomainState.PAUSED, DomainPausedReason.FROM_SNAPSHOT)
        else:
            self._note(dom, DomainState.RUNNING, DomainRunningReason.FROM_SNAPSHOT)
        self._emit(dom, DomainEventType.STARTED, DomainEventStartedDetail.FROM_SNAPSHOT)
        if after == "suspended":
            self._emit(dom, DomainEventType.SUSPENDED, DomainEventSuspendedDetail.FROM_SNAPSHOT)

    @virtkit.hookimpl
    def virtkit_snapshot_delete(self, dom: DomainRef, name: str, flags: int) -> None:
        if flags & DomainSnapshotDeleteFlags.METADATA_ONLY:
            raise NoSupportError(
                "vSphere keeps no snapshot metadata apart from the data: "
                "METADATA_ONLY is not supported",
                domain=ErrorDomain.ESX,
            )
        with self._lock:
            _, _, tree, node = self._snapshot(dom, name)
            doomed = (
                tree.descendants(name)
                if flags
                & (DomainSnapshotDeleteFlags.CHILDREN | DomainSnapshotDeleteFlags.CHILDREN_ONLY)
                else []
            )
            if not flags & DomainSnapshotDeleteFlags.CHILDREN_ONLY:
                doomed.append(node)
            # one snapshot at a time, leaves first: the current snapshot then moves to its
            # parent at each step, as libvirt's semantics want (vcsim leaves a removed
            # snapshot current when a whole subtree goes at once)
            for victim in doomed:
                self.session.run(
                    f"deletion of snapshot '{victim.name}' of domain '{dom.name}'",
                    victim.snapshot.RemoveSnapshot_Task,
                    removeChildren=False,
                )

    # ------------------------------------------------------------------ migration

    def _vcenter_id(self) -> bytes:
        return str(self.session.content.about.instanceUuid).encode()

    @virtkit.hookimpl
    def virtkit_migrate_begin(self, dom: DomainRef) -> MigrationOffer:
        if self.scheme != "vpx":
            raise NoSupportError(
                "migration goes through vCenter: connect with vpx://", domain=ErrorDomain.ESX
            )
        xml = self.virtkit_domain_get_xml(dom, 0)
        return MigrationOffer(xml=xml, cookie=self._vcenter_id())

    @virtkit.hookimpl
    def virtkit_migrate_prepare(self, offer: MigrationOffer) -> MigrationTarget:
        if self.scheme != "vpx" or offer.cookie != self._vcenter_id():
            raise InvalidArgumentError(
                "the destination must be a vpx:// connection to the same vCenter as the source: "
                "vSphere migrates between the hosts of one vCenter",
                domain=ErrorDomain.ESX,
            )
        return MigrationTarget(uri=f"vpx-host:{self.host._moId}", cookie=self._vcenter_id())

    @virtkit.hookimpl
    def virtkit_migrate_perform(
        self, dom: DomainRef, target: MigrationTarget, progress: ProgressCallback | None
    ) -> bytes:
        scheme, _, moid = target.uri.partition(":")
        if scheme != "vpx-host" or target.cookie != self._vcenter_id():
            raise InvalidArgumentError(
                f"migration target '{target.uri}' is not a host of this vCenter",
                domain=ErrorDomain.ESX,
            )
        vm, _ = self._vm(dom)
        dest = HOST_TYPE(moid, self.session.si._stub)
        pool = self.session.get(self.session.get(dest, "parent"), "resourcePool")
        spec = VM_TYPES.RelocateSpec(host=dest, pool=pool)
        self.session.run(
            f"migration of domain '{dom.name}' to host '{self.session.get(dest, 'name')}'",
            vm.RelocateVM_Task,
            spec,
            progress=progress,
        )
        return str(dom.uuid).encode()

    @virtkit.hookimpl
    def virtkit_migrate_finish(
        self, name: str, cookie: bytes, cancelled: bool
    ) -> DomainRecord | None:
        if cancelled:
            return None  # vSphere moved nothing: nothing to clean up on this side
        record = self.virtkit_connect_lookup_domain(
            name=None, uuid=uuidlib.UUID(cookie.decode()), id=None
        )
        if record is None:
            raise OperationFailedError(
                f"domain '{name}' did not arrive on this host", domain=ErrorDomain.ESX
            )
        return record

    @virtkit.hookimpl
    def virtkit_migrate_confirm(self) -> None:
        """vSphere moved the VM itself: nothing stays behind on the source."""

    # ------------------------------------------------------------------ native formats

    @virtkit.hookimpl
    def virtkit_domain_xml_from_native(self, native_format: str, native_config: str) -> str:
        _native(native_format)
        return vmx_to_xml(native_config, PathMapper(datastore=None, directory=""))

    @virtkit.hookimpl
    def virtkit_domain_xml_to_native(self, native_format: str, definition: DomainDef) -> str:
        _native(native_format)
        return xml_to_vmx(definition, virtual_hw_version=VIRTUAL_HW_VERSION)


def _native(native_format: str) -> None:
    if native_format != NATIVE_FORMAT:
        raise InvalidArgumentError(
            f"unsupported config type '{native_format}': the ESX driver converts '{NATIVE_FORMAT}'",
            domain=ErrorDomain.ESX,
        )


def _proxy(value: str | None) -> tuple[str, int] | None:
    """libvirt's ``proxy=[type://]host[:port]``; pyvmomi tunnels through HTTP proxies only."""
    if not value:
        return None
    kind, sep, rest = value.partition("://")
    if not sep:
        kind, rest = "http", value
    if kind != "http":
        raise InvalidArgumentError(
            f"query parameter 'proxy': type '{kind}' is not supported (only http proxies)"
        )
    host, _, port = rest.partition(":")
    return host, int(port or 1080)
