"""The ESX driver's connection, definition, lifecycle and native-format hooks."""

from __future__ import annotations

import time
import uuid as uuidlib
from typing import Any

import virtkit
from pyVmomi import vmodl
from virtkit.constants import (
    DomainCreateFlags,
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
    DomainState,
    DomainXMLFlags,
)
from virtkit.errors import (
    ConfigUnsupportedError,
    DomainExistsError,
    ErrorDomain,
    InvalidArgumentError,
    OperationFailedError,
    OperationInvalidError,
    VirtError,
)
from virtkit.flags import refuse_flags
from virtkit.records import (
    DomainInfo,
    DomainRecord,
    DomainRef,
)
from virtkit.xml import DomainDef

from virtkit_esx.autostart import autostart_change
from virtkit_esx.base import (
    POWER_STATES,
    ESXBase,
)
from virtkit_esx.paths import PathMapper
from virtkit_esx.session import vsphere_error
from virtkit_esx.vmconfig import config_spec, config_to_definition, device_summary
from virtkit_esx.vmx2xml import vmx_to_xml
from virtkit_esx.xml2vmx import xml_to_vmx

NATIVE_FORMAT = "vmware-vmx"
VIRTUAL_HW_VERSION = 7  # ESX 4.0 and later, as libvirt's driver writes


DRIVER = "ESX"
"""The driver's name in the errors of :func:`~virtkit.flags.refuse_flags`."""


class LifecycleHooks(ESXBase):
    """Host calls, define and undefine, power operations, XML and VMX."""

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
        return self._lookup(name, uuid, id)

    # ------------------------------------------------------------------ definitions

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
            record = self._record(vm, self._vm_props(vm))
        self._emit(DomainRef(name=record.name, uuid=record.uuid), DomainEventType.DEFINED, detail)
        return record

    @virtkit.hookimpl
    def virtkit_domain_create_transient(self, definition: DomainDef, flags: int) -> DomainRecord:
        refuse_flags(flags, DomainCreateFlags.START_VALIDATE, "create", DRIVER)  # (validated)
        with self._lock:
            vm = self._create(definition)
            ident = uuidlib.UUID(self.session.get(vm, "config.uuid"))
            ref = DomainRef(name=definition.name, uuid=ident)
            try:
                self._start(vm, ref)
            except BaseException as exc:
                try:
                    self.session.run(
                        "clean-up of a transient domain that failed to start", vm.Destroy_Task
                    )
                except VirtError as undo:  # say both, not only the clean-up's error
                    raise OperationFailedError(
                        f"starting transient domain '{definition.name}' failed ({exc}), and "
                        f"the VM made for it could not be removed: {undo.message}",
                        domain=ErrorDomain.ESX,
                    ) from exc
                raise
            self._transient[ident] = "destroy"
            return self._record(vm, self._vm_props(vm))

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
        refuse_flags(flags, DomainCreateFlags.START_PAUSED, "start", DRIVER)
        with self._lock:
            vm, props = self._vm(dom)
            power = props["runtime.powerState"]
            if power != "poweredOff":  # a suspended VM is active (paused), as in libvirt
                paused = " (paused)" if power == "suspended" else ""
                raise OperationInvalidError(
                    f"domain '{dom.name}' is already running{paused}", domain=ErrorDomain.ESX
                )
            self._start(vm, dom)
            if flags & DomainCreateFlags.START_PAUSED:
                self.virtkit_domain_suspend(dom)

    @virtkit.hookimpl
    def virtkit_domain_shutdown(self, dom: DomainRef, flags: int, timeout: float | None) -> None:
        refuse_flags(flags, DomainShutdownFlags.DEFAULT, "shutdown", DRIVER)  # (the guest tools')
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
    def virtkit_domain_destroy(self, dom: DomainRef, flags: int) -> None:
        refuse_flags(flags, DomainDestroyFlags.DEFAULT, "destroy", DRIVER)
        with self._lock:
            vm, props = self._vm(dom)
            self._require(props, dom, "poweredOn", "suspended")
            self.session.run(f"destroy of domain '{dom.name}'", vm.PowerOffVM_Task)
            self._stopped(vm, dom, DomainShutoffReason.DESTROYED)

    @virtkit.hookimpl
    def virtkit_domain_reboot(self, dom: DomainRef, flags: int) -> None:
        refuse_flags(flags, DomainRebootFlags.DEFAULT, "reboot", DRIVER)
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
    def virtkit_domain_set_autostart(self, dom: DomainRef, autostart: bool) -> None:
        vm, _ = self._vm(dom)
        if dom.uuid in self._transient:
            raise OperationInvalidError(
                f"cannot set autostart for transient domain '{dom.name}'", domain=ErrorDomain.ESX
            )
        manager = self.session.get(self.host, "configManager.autoStartManager")
        try:
            manager.ReconfigureAutostart(spec=autostart_change(vm, autostart))
        except vmodl.MethodFault as exc:
            raise vsphere_error(f"setting autostart of domain '{dom.name}'", exc) from None

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
        supported = DomainXMLFlags.INACTIVE | DomainXMLFlags.SECURE
        refuse_flags(flags, supported, "getting a domain's XML", DRIVER)
        return self._domain_xml(dom, flags)

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
