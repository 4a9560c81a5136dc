"""Domain XML <-> Hyper-V settings (WMI virtualization v2).

A definition becomes an ``Msvm_VirtualSystemSettingData`` (name, notes, identifier, generation)
for ``DefineSystem``, then ``Msvm_MemorySettingData`` (MiB) and ``Msvm_ProcessorSettingData``
(virtual processors) changes for ``ModifyResourceSettings``, then its disks and adapters
(:mod:`virtkit_hyperv.plans`, added by :mod:`virtkit_hyperv.resources`). The VM's states
(``EnabledState``) map to virtkit states; ``RequestStateChange`` takes the v2
``RequestedState`` values below.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
from lxml import etree
from virtkit.constants import (
    DomainPausedReason,
    DomainRunningReason,
    DomainShutoffReason,
    DomainState,
)
from virtkit.errors import ConfigUnsupportedError, ErrorDomain, XMLError
from virtkit.xml import Context, DomainDef, canonical, format_domain, parse_domain

from virtkit_hyperv.cim import PropValue
from virtkit_hyperv.plans import DevicePlans, plan_devices

# Msvm_ComputerSystem.EnabledState (v2)
ENABLED_STATES: dict[int, tuple[DomainState, int]] = {
    2: (DomainState.RUNNING, DomainRunningReason.BOOTED),
    3: (DomainState.SHUTOFF, DomainShutoffReason.SHUTDOWN),
    6: (DomainState.SHUTOFF, DomainShutoffReason.SAVED),
    9: (DomainState.PAUSED, DomainPausedReason.USER),
    10: (DomainState.RUNNING, DomainRunningReason.BOOTED),  # starting
    11: (DomainState.RUNNING, DomainRunningReason.BOOTED),  # resetting
    32773: (DomainState.PAUSED, DomainPausedReason.SAVE),  # saving
    32774: (DomainState.SHUTDOWN, 0),  # stopping
    32776: (DomainState.PAUSED, DomainPausedReason.USER),  # pausing
    32777: (DomainState.PAUSED, DomainPausedReason.USER),  # resuming
}
INACTIVE_STATES = {3, 6}
# Msvm_ComputerSystem.RequestStateChange RequestedState (v2)
REQUEST_RUNNING = 2
REQUEST_OFF = 3
REQUEST_SAVED = 6
REQUEST_PAUSED = 9
REQUEST_RESET = 11
REALIZED = "Microsoft:Hyper-V:System:Realized"
SNAPSHOT = "Microsoft:Hyper-V:Snapshot:Realized"


def state_of(enabled_state: int) -> tuple[DomainState, int]:
    return ENABLED_STATES.get(enabled_state, (DomainState.NOSTATE, 0))


def is_active(enabled_state: int) -> bool:
    return enabled_state not in INACTIVE_STATES


@attrs.frozen(kw_only=True)
class Settings:
    """What ``DefineSystem`` and ``ModifyResourceSettings`` receive for one definition."""

    system: dict[str, PropValue]
    memory_mb: int
    processors: int
    devices: DevicePlans


def settings_for(definition: DomainDef) -> Settings:
    """The Hyper-V settings of ``definition``; refuses what the driver cannot create."""
    memory = definition.memory_kib
    if memory is None:
        raise XMLError("Hyper-V needs <memory>")
    if memory % 2048:
        raise ConfigUnsupportedError(
            f"Hyper-V memory must be a multiple of 2 MiB, not {memory} KiB",
            domain=ErrorDomain.HYPERV,
        )
    system: dict[str, PropValue] = {"ElementName": definition.name}
    if definition.description is not None:
        system["Notes"] = [definition.description]
    if definition.uuid is not None:
        system["VirtualSystemIdentifier"] = str(definition.uuid).upper()
    firmware = definition.os.firmware if definition.os is not None else None
    system["VirtualSystemSubType"] = (
        "Microsoft:Hyper-V:SubType:2" if firmware == "efi" else "Microsoft:Hyper-V:SubType:1"
    )
    return Settings(
        system=system,
        memory_mb=memory // 1024,
        processors=definition.vcpus or 1,
        devices=plan_devices(definition.tree(), generation2=firmware == "efi"),
    )


def _text(value: object, default: str = "") -> str:
    if isinstance(value, list):
        return "\n".join(str(v) for v in value if v is not None)
    return value if isinstance(value, str) else default


def domain_xml(
    system: dict[str, object],
    vssd: dict[str, object],
    memory: dict[str, object],
    processor: dict[str, object],
    *,
    inactive: bool,
    id: int,
    devices: Sequence[etree._Element] = (),
) -> str:
    """Domain XML of a VM from its ``Msvm_ComputerSystem`` and the settings of its realized
    ``Msvm_VirtualSystemSettingData`` (memory, processors, notes, generation), with the
    ``devices`` of :mod:`virtkit_hyperv.devices`."""
    root = etree.Element("domain", type="hyperv")
    etree.SubElement(root, "name").text = _text(system.get("ElementName"))
    etree.SubElement(root, "uuid").text = _text(system.get("Name")).lower()
    notes = _text(vssd.get("Notes"))
    if notes:
        etree.SubElement(root, "description").text = notes
    max_mb = int(_text(memory.get("Limit"), "0") or 0)
    quantity_mb = int(_text(memory.get("VirtualQuantity"), "0") or 0)
    dynamic = _text(memory.get("DynamicMemoryEnabled")).lower() == "true"
    etree.SubElement(root, "memory", unit="MiB").text = str(
        max(quantity_mb, max_mb) if dynamic else quantity_mb
    )
    etree.SubElement(root, "currentMemory", unit="MiB").text = str(quantity_mb)
    etree.SubElement(root, "vcpu").text = _text(processor.get("VirtualQuantity"), "1")
    os_el = etree.SubElement(root, "os")
    if _text(vssd.get("VirtualSystemSubType")).endswith(":2"):
        os_el.set("firmware", "efi")
    etree.SubElement(os_el, "type").text = "hvm"
    if devices:
        etree.SubElement(root, "devices").extend(devices)
    text = etree.tostring(root, encoding="unicode")
    definition = canonical(parse_domain(text), context=Context(inactive=inactive))
    return format_domain(definition, inactive=inactive, id=None if inactive else id)
