"""Domain XML <-> Hyper-V settings, and VM states (values from the WMI v2 documentation)."""

from __future__ import annotations

import pytest
from lxml import etree
from virtkit.constants import DomainShutoffReason, DomainState
from virtkit.errors import ConfigUnsupportedError, XMLError
from virtkit.xml import parse_domain
from virtkit_hyperv import mapping


def definition(extra: str = "", memory: str = "<memory unit='MiB'>2048</memory>") -> str:
    return (
        f"<domain type='hyperv'><name>web</name>"
        "<uuid>6b7a2c1e-0d3f-4e55-9a11-22b3c4d5e6f7</uuid>"
        f"<description>front end</description>{memory}<vcpu>4</vcpu>{extra}</domain>"
    )


def test_settings_of_a_definition() -> None:
    settings = mapping.settings_for(
        parse_domain(definition("<os firmware='efi'><type>hvm</type></os>"))
    )
    assert settings.memory_mb == 2048 and settings.processors == 4
    assert settings.system == {
        "ElementName": "web",
        "Notes": ["front end"],
        "VirtualSystemIdentifier": "6B7A2C1E-0D3F-4E55-9A11-22B3C4D5E6F7",
        "VirtualSystemSubType": "Microsoft:Hyper-V:SubType:2",
    }


def test_bios_is_generation_one() -> None:
    settings = mapping.settings_for(parse_domain(definition()))
    assert settings.system["VirtualSystemSubType"] == "Microsoft:Hyper-V:SubType:1"


def test_devices_it_cannot_add_are_refused_by_name() -> None:
    graphics = "<devices><graphics type='rdp'/></devices>"
    with pytest.raises(ConfigUnsupportedError, match="<graphics> devices cannot be defined"):
        mapping.settings_for(parse_domain(definition(graphics)))


def test_disks_and_adapters_are_planned() -> None:
    devices = (
        "<devices><disk type='file' device='disk'><source file='C:/vm/a.vhdx'/>"
        "<target dev='sda' bus='scsi'/></disk><interface type='bridge'>"
        "<source bridge='External'/></interface></devices>"
    )
    plans = mapping.settings_for(parse_domain(definition(devices))).devices
    assert [(d.name, d.bus, d.controller, d.location) for d in plans.disks] == [
        ("sda", "scsi", 0, 0)
    ]
    assert [(n.switch, n.legacy) for n in plans.nics] == [("External", False)]


def test_memory_must_be_whole_2_mib() -> None:
    with pytest.raises(ConfigUnsupportedError, match="multiple of 2 MiB, not 3072 KiB"):
        mapping.settings_for(parse_domain(definition(memory="<memory unit='KiB'>3072</memory>")))


def test_memory_is_required() -> None:
    with pytest.raises(XMLError, match="needs <memory>"):
        mapping.settings_for(parse_domain(definition(memory="")))


def test_domain_xml_from_settings_round_trips_the_definition() -> None:
    settings = mapping.settings_for(parse_domain(definition()))
    xml = mapping.domain_xml(
        {"ElementName": "web", "Name": "6B7A2C1E-0D3F-4E55-9A11-22B3C4D5E6F7"},
        {
            "Notes": settings.system["Notes"],
            "VirtualSystemSubType": settings.system["VirtualSystemSubType"],
        },
        {
            "VirtualQuantity": str(settings.memory_mb),
            "Limit": "1048576",
            "DynamicMemoryEnabled": "false",
        },
        {"VirtualQuantity": str(settings.processors)},
        inactive=True,
        id=-1,
    )
    root = etree.fromstring(xml.encode())
    assert root.get("type") == "hyperv" and root.get("id") is None
    assert root.findtext("name") == "web"
    assert root.findtext("uuid") == "6b7a2c1e-0d3f-4e55-9a11-22b3c4d5e6f7"
    assert root.findtext("description") == "front end"
    assert root.findtext("memory") == str(2048 * 1024)
    assert root.findtext("vcpu") == "4"
    # and the dump defines the same settings again
    assert mapping.settings_for(parse_domain(xml)) == settings


def test_dynamic_memory_shows_its_limit_as_maximum() -> None:
    xml = mapping.domain_xml(
        {"ElementName": "w", "Name": "6B7A2C1E-0D3F-4E55-9A11-22B3C4D5E6F7"},
        {},
        {"VirtualQuantity": "1024", "Limit": "4096", "DynamicMemoryEnabled": "True"},
        {"VirtualQuantity": "1"},
        inactive=False,
        id=7,
    )
    root = etree.fromstring(xml.encode())
    assert root.get("id") == "7"
    assert (root.findtext("memory"), root.findtext("currentMemory")) == (
        str(4096 * 1024),
        str(1024 * 1024),
    )


@pytest.mark.parametrize(
    ("enabled", "state", "active"),
    [
        (2, DomainState.RUNNING, True),
        (3, DomainState.SHUTOFF, False),
        (6, DomainState.SHUTOFF, False),
        (9, DomainState.PAUSED, True),
        (32774, DomainState.SHUTDOWN, True),
        (4242, DomainState.NOSTATE, True),
    ],
)
def test_enabled_states(enabled: int, state: DomainState, active: bool) -> None:
    assert mapping.state_of(enabled)[0] == state
    assert mapping.is_active(enabled) is active


def test_saved_is_shutoff_with_reason_saved() -> None:
    assert mapping.state_of(6) == (DomainState.SHUTOFF, DomainShutoffReason.SAVED)
