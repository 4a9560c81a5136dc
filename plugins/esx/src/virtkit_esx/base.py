"""The ESX driver's connection to vSphere and the helpers its hooks share."""

from __future__ import annotations

import threading
import uuid as uuidlib
from typing import Any

from pyVmomi import vim
from virtkit.auth import credentials
from virtkit.constants import DomainEventType, DomainState, DomainXMLFlags
from virtkit.driver import DriverContext
from virtkit.errors import (
    ErrorDomain,
    InvalidArgumentError,
    NoDomainError,
    OperationFailedError,
    OperationInvalidError,
)
from virtkit.records import DomainRecord, DomainRef
from virtkit.xml import format_domain

from virtkit_esx.autostart import autostarted
from virtkit_esx.options import ConnectOptions
from virtkit_esx.session import Session
from virtkit_esx.vmconfig import config_to_definition

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
AUTOSTART_CONFIG = "config.autoStart"  # of the host: see virtkit_esx.autostart


def snapshot_count(trees: Any) -> int:
    """The number of snapshots in a ``rootSnapshotList``."""
    return sum(1 + snapshot_count(t.childSnapshotList) for t in trees or [])


def vm_id(vm: Any) -> int:
    """libvirt's id of a running VM: the number in its managed object id (``vm-42`` -> 42)."""
    digits = "".join(ch for ch in vm._moId.rsplit("-", 1)[-1] if ch.isdigit())
    return int(digits) if digits else abs(hash(vm._moId)) % 100000


class ESXBase:
    """One vSphere session per connection, and what every hook needs: the VMs in scope, their
    records, the reasons and events virtkit keeps for what this connection did."""

    def __init__(self, ctx: DriverContext) -> None:
        self._ctx = ctx
        opts = ConnectOptions.from_uri(ctx.uri)
        self.scheme = opts.scheme
        creds = credentials(opts.scheme, opts.host, opts.user)
        self.session = Session(
            opts.host,
            opts.port,
            creds.username,
            creds.password,
            verify=opts.verify,
            protocol=opts.transport,
            proxy=opts.proxy,
        )
        try:
            self._check_product()
            self.host, self.datacenter = self._scope(list(opts.path))
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
        """The VMs in scope with :data:`VM_PROPS` and ``autostart``, in one call."""
        if self._view is None:
            self._view = self.session.view(vim.VirtualMachine)
        rows = self.session.in_view(
            self._view, vim.VirtualMachine, VM_PROPS, also=(self.host, [AUTOSTART_CONFIG])
        )
        host = next((p for obj, p in rows if isinstance(obj, vim.HostSystem)), {})
        started = autostarted(host.get(AUTOSTART_CONFIG))
        found = [
            (vm, {**p, "autostart": vm._moId in started})
            for vm, p in rows
            if isinstance(vm, vim.VirtualMachine)
            and not p.get("config.template")
            and (self.scheme != "vpx" or p.get("runtime.host") == self.host)
        ]
        self._known.update((uuidlib.UUID(p["config.uuid"]), vm) for vm, p in found)
        return found

    def _vm_props(self, vm: Any) -> dict[str, Any]:
        """One VM's :data:`VM_PROPS` and ``autostart``."""
        started = autostarted(self.session.get(self.host, AUTOSTART_CONFIG))
        return {**self.session.props(vm, VM_PROPS), "autostart": vm._moId in started}

    def _record(self, vm: Any, p: dict[str, Any]) -> DomainRecord:
        """The record of ``vm`` from its properties from :meth:`_vms` or :meth:`_vm_props`."""
        ident = uuidlib.UUID(p["config.uuid"])
        state = POWER_STATES.get(p.get("runtime.powerState", ""), DomainState.NOSTATE)
        known = self._reasons.get(ident)
        reason = known[1] if known and known[0] == state else 0
        return DomainRecord(
            name=p["name"],
            uuid=ident,
            id=vm_id(vm) if state != DomainState.SHUTOFF else -1,
            state=state,
            reason=reason,
            persistent=ident not in self._transient,
            autostart=p["autostart"],
            snapshot_count=snapshot_count(p.get("snapshot.rootSnapshotList")),
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

    def _datastore(self) -> str:
        stores = self.session.get(self.host, "datastore") or []
        if not stores:
            raise OperationFailedError(
                "the host has no datastore to create the VM on", domain=ErrorDomain.ESX
            )
        return str(self.session.get(stores[0], "name"))

    def _lookup(
        self, name: str | None, uuid: uuidlib.UUID | None, id: int | None
    ) -> DomainRecord | None:
        """The record of the VM in scope with this name, UUID or id; None when there is none."""
        if uuid is not None:
            vm = self.session.content.searchIndex.FindByUuid(uuid=str(uuid), vmSearch=True)
            candidates = [vm] if vm is not None else []
            found = [(v, self._vm_props(v)) for v in candidates]
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
                    and vm_id(v) == id
                )
            ]
        return self._record(*found[0]) if found else None

    def _domain_xml(self, dom: DomainRef, flags: int) -> str:
        """The domain XML of the VM's configuration (live form, with its id, while it runs)."""
        vm, p = self._vm(dom, "config")
        live = p.get("runtime.powerState") != "poweredOff" and not flags & DomainXMLFlags.INACTIVE
        return format_domain(
            config_to_definition(p["config"]), secure=True, id=vm_id(vm) if live else None
        )
