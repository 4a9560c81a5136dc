"""Adding a definition's disks and network adapters to a new VM.

Each part is one ``AddResourceSettings`` call of ``Msvm_VirtualSystemManagementService`` on the
VM's realized settings, with one embedded instance; its ``ResultingResourceSettings`` names
the new setting, which the next part takes as ``Parent``. A disk: missing synthetic SCSI
controllers, then a drive (``Msvm_ResourceAllocationSettingData``, synthetic disk or DVD
drive) on its controller at its location, then the medium
(``Msvm_StorageAllocationSettingData``, virtual hard disk or CD/DVD disk, the image in
``HostResource``) in that drive. An adapter: the port (``Msvm_SyntheticEthernetPortSettingData``,
or ``Msvm_EmulatedEthernetPortSettingData`` for a legacy one; a given MAC is static), then its
connection (``Msvm_EthernetPortAllocationSettingData``) to the virtual switch.
Resource types and subtypes are those of the WMI virtualization v2 documentation.
"""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Mapping, Sequence
from typing import Protocol

from virtkit.errors import ErrorDomain, OperationFailedError, VirtError

from virtkit_hyperv.cim import PropValue, UInt16, embedded_instance
from virtkit_hyperv.devices import IDE_CONTROLLER, SCSI_CONTROLLER
from virtkit_hyperv.plans import DevicePlans, DiskPlan, NicPlan
from virtkit_hyperv.wsman import Instance, Param, Reference, object_path, settings_query, text

ALLOCATION = "Msvm_ResourceAllocationSettingData"
STORAGE = "Msvm_StorageAllocationSettingData"
SYNTHETIC_PORT = "Msvm_SyntheticEthernetPortSettingData"
EMULATED_PORT = "Msvm_EmulatedEthernetPortSettingData"
CONNECTION = "Msvm_EthernetPortAllocationSettingData"
# ResourceType (CIM_ResourceAllocationSettingData) and ResourceSubType values
SCSI_TYPE, DVD_TYPE, DISK_TYPE = UInt16(6), UInt16(16), UInt16(17)
LOGICAL_DISK_TYPE, ETHERNET_TYPE, CONNECTION_TYPE = UInt16(31), UInt16(10), UInt16(33)
SCSI_SUBTYPE = "Microsoft:Hyper-V:Synthetic SCSI Controller"
DISK_DRIVE_SUBTYPE = "Microsoft:Hyper-V:Synthetic Disk Drive"
DVD_DRIVE_SUBTYPE = "Microsoft:Hyper-V:Synthetic DVD Drive"
VHD_SUBTYPE = "Microsoft:Hyper-V:Virtual Hard Disk"
ISO_SUBTYPE = "Microsoft:Hyper-V:Virtual CD/DVD Disk"
SYNTHETIC_PORT_SUBTYPE = "Microsoft:Hyper-V:Synthetic Ethernet Port"
EMULATED_PORT_SUBTYPE = "Microsoft:Hyper-V:Emulated Ethernet Port"
CONNECTION_SUBTYPE = "Microsoft:Hyper-V:Ethernet Connection"
ENABLED = UInt16(2)  # EnabledState of a connection: connected


class WmiClient(Protocol):
    """What :class:`virtkit_hyperv.client.Client` offers."""

    def query(self, wql: str) -> list[Instance]: ...

    def invoke(
        self, target: Reference, method: str, params: Sequence[tuple[str, Param]]
    ) -> Instance: ...


def scsi_controller() -> dict[str, PropValue]:
    return {"ResourceType": SCSI_TYPE, "ResourceSubType": SCSI_SUBTYPE}


def drive(disk: DiskPlan, controller_path: str) -> dict[str, PropValue]:
    return {
        "ResourceType": DVD_TYPE if disk.cdrom else DISK_TYPE,
        "ResourceSubType": DVD_DRIVE_SUBTYPE if disk.cdrom else DISK_DRIVE_SUBTYPE,
        "Parent": controller_path,
        "AddressOnParent": str(disk.location),
    }


def medium(disk: DiskPlan, path: str, drive_path: str) -> dict[str, PropValue]:
    return {
        "ResourceType": LOGICAL_DISK_TYPE,
        "ResourceSubType": ISO_SUBTYPE if disk.cdrom else VHD_SUBTYPE,
        "Parent": drive_path,
        "HostResource": [path],
    }


def port(nic: NicPlan, identifier: uuidlib.UUID) -> dict[str, PropValue]:
    """The adapter; ``identifier`` names it to the guest (``VirtualSystemIdentifiers``)."""
    props: dict[str, PropValue] = {
        "ResourceType": ETHERNET_TYPE,
        "ResourceSubType": EMULATED_PORT_SUBTYPE if nic.legacy else SYNTHETIC_PORT_SUBTYPE,
        "ElementName": "Legacy Network Adapter" if nic.legacy else "Network Adapter",
        "VirtualSystemIdentifiers": [f"{{{str(identifier).upper()}}}"],
        "StaticMacAddress": nic.mac is not None,
    }
    if nic.mac is not None:
        props["Address"] = nic.mac
    return props


def connection(port_path: str, switch_path: str) -> dict[str, PropValue]:
    return {
        "ResourceType": CONNECTION_TYPE,
        "ResourceSubType": CONNECTION_SUBTYPE,
        "Parent": port_path,
        "HostResource": [switch_path],
        "EnabledState": ENABLED,
    }


def switch_reference(guid: str) -> Reference:
    """A virtual switch by its ``Name`` (a GUID)."""
    return Reference(
        "Msvm_VirtualEthernetSwitch",
        {"CreationClassName": "Msvm_VirtualEthernetSwitch", "Name": guid},
    )


class DeviceAdder:
    """Adds the planned devices to the VM whose realized settings are ``vssd``."""

    def __init__(self, client: WmiClient, service: Reference, host: str, vssd: Instance) -> None:
        self.client = client
        self.service = service
        self.host = host
        self.vssd_id = text(vssd.get("InstanceID"))

    def add_all(self, plans: DevicePlans, switches: Mapping[str, str]) -> None:
        """Add every disk and adapter; ``switches`` maps each switch name to its GUID.
        Raises the error of the first part that fails, naming its device."""
        controllers = self._controllers(plans.scsi_controllers)
        for disk in plans.disks:
            what = f"disk '{disk.name}'"
            drive_path = self._add(what, ALLOCATION, drive(disk, self._on(controllers, disk)))
            if disk.path is not None:
                self._add(f"{what} ({disk.path})", STORAGE, medium(disk, disk.path, drive_path))
        for nic in plans.nics:
            cim_class = EMULATED_PORT if nic.legacy else SYNTHETIC_PORT
            port_path = self._add(nic.name, cim_class, port(nic, uuidlib.uuid4()))
            if nic.switch is not None:
                switch_path = object_path(self.host, switch_reference(switches[nic.switch]))
                self._add(
                    f"{nic.name} (switch '{nic.switch}')",
                    CONNECTION,
                    connection(port_path, switch_path),
                )

    def _controllers(self, scsi_needed: int) -> dict[str, list[str]]:
        """Object paths of the IDE controllers (by ``Address``) and SCSI controllers (in
        order), adding synthetic SCSI controllers until there are ``scsi_needed``."""
        found = self.client.query(settings_query(self.vssd_id, ALLOCATION))
        ide = sorted(
            (r for r in found if text(r.get("ResourceType")) == IDE_CONTROLLER),
            key=lambda r: int(text(r.get("Address")) or 0),
        )
        paths = {
            "ide": [self._path(r) for r in ide],
            "scsi": [
                self._path(r) for r in found if text(r.get("ResourceType")) == SCSI_CONTROLLER
            ],
        }
        while len(paths["scsi"]) < scsi_needed:
            what = f"SCSI controller {len(paths['scsi'])}"
            paths["scsi"].append(self._add(what, ALLOCATION, scsi_controller()))
        return paths

    @staticmethod
    def _on(controllers: dict[str, list[str]], disk: DiskPlan) -> str:
        """The object path of the controller ``disk`` goes on."""
        found = controllers[disk.bus]
        if disk.controller >= len(found):
            raise OperationFailedError(
                f"adding disk '{disk.name}': the new VM has {len(found)} "
                f"{disk.bus.upper()} controllers, not controller {disk.controller}",
                domain=ErrorDomain.HYPERV,
            )
        return found[disk.controller]

    def _path(self, setting: Instance) -> str:
        return object_path(
            self.host, Reference(ALLOCATION, {"InstanceID": text(setting.get("InstanceID"))})
        )

    def _add(self, what: str, cim_class: str, props: dict[str, PropValue]) -> str:
        """``AddResourceSettings`` with one instance; the object path of the new setting."""
        affected = Reference("Msvm_VirtualSystemSettingData", {"InstanceID": self.vssd_id})
        try:
            out = self.client.invoke(
                self.service,
                "AddResourceSettings",
                [
                    ("AffectedConfiguration", affected),
                    ("ResourceSettings", [embedded_instance(cim_class, props)]),
                ],
            )
        except VirtError as exc:
            raise type(exc)(
                f"adding {what} failed: {exc.message}", code=exc.code, domain=exc.domain
            ) from exc
        made = out.get("ResultingResourceSettings")
        made = made[0] if isinstance(made, list) and made else made
        if not isinstance(made, Reference):
            raise OperationFailedError(
                f"adding {what}: Hyper-V AddResourceSettings named no resulting setting",
                domain=ErrorDomain.HYPERV,
            )
        return object_path(self.host, made)
