"""The ESX driver's migration phases: RelocateVM_Task between the hosts of one vCenter."""

from __future__ import annotations

import uuid as uuidlib
from typing import Any

import virtkit
from pyVmomi import vim
from virtkit.errors import (
    ErrorDomain,
    InvalidArgumentError,
    NoSupportError,
    OperationFailedError,
)
from virtkit.records import (
    DomainRecord,
    DomainRef,
    MigrationOffer,
    MigrationTarget,
    ProgressCallback,
)

from virtkit_esx.base import ESXBase
from virtkit_esx.vmconfig import VM_TYPES

HOST_TYPE: Any = vim.HostSystem  # pyvmomi builds its types at run time


class MigrationHooks(ESXBase):
    """libvirt's five migration phases over one vCenter's RelocateVM_Task."""

    # ------------------------------------------------------------------ migration

    def _vcenter_id(self) -> bytes:
        return str(self.session.content.about.instanceUuid).encode()

    @virtkit.hookimpl
    def virtkit_migrate_begin(self, dom: DomainRef) -> MigrationOffer:
        if self.scheme != "vpx":
            raise NoSupportError(
                "migration goes through vCenter: connect with vpx://", domain=ErrorDomain.ESX
            )
        xml = self._domain_xml(dom, 0)
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
        record = self._lookup(name=None, uuid=uuidlib.UUID(cookie.decode()), id=None)
        if record is None:
            raise OperationFailedError(
                f"domain '{name}' did not arrive on this host", domain=ErrorDomain.ESX
            )
        return record

    @virtkit.hookimpl
    def virtkit_migrate_confirm(self) -> None:
        """vSphere moved the VM itself: nothing stays behind on the source."""
