"""Disks and adapters of a VM's settings as domain XML devices. The setting instances are
written by hand from the WMI v2 class documentation (resource types, Parent object paths),
not read from a Hyper-V host."""

from __future__ import annotations

from lxml import etree
from virtkit_hyperv import devices, mapping

VM = "Microsoft:6B7A2C1E-0D3F-4E55-9A11-22B3C4D5E6F7"


def path(cls: str, instance_id: str) -> str:
    escaped = instance_id.replace("\\", "\\\\")
    return f'\\\\HV01\\root\\virtualization\\v2:{cls}.InstanceID="{escaped}"'


def rasd(instance: str, kind: str, parent: str = "", **extra: str) -> dict[str, object]:
    found: dict[str, object] = {"InstanceID": f"{VM}\\{instance}", "ResourceType": kind, **extra}
    if parent:
        found["Parent"] = path("Msvm_ResourceAllocationSettingData", f"{VM}\\{parent}")
    return found


RESOURCES = [
    rasd("ide0", devices.IDE_CONTROLLER, Address="0"),
    rasd("ide1", devices.IDE_CONTROLLER, Address="1"),
    rasd("scsi0", devices.SCSI_CONTROLLER),
    rasd("d-boot", devices.DISK_DRIVE, "ide0", AddressOnParent="0"),
    rasd("d-dvd", devices.DVD_DRIVE, "ide1", AddressOnParent="0"),
    rasd("d-data", devices.DISK_DRIVE, "scsi0", AddressOnParent="2"),
]
MEDIA = [
    {
        "InstanceID": f"{VM}\\m1",
        "HostResource": ["D:\\VMs\\data.vhdx"],
        "Parent": path("Msvm_ResourceAllocationSettingData", f"{VM}\\d-data"),
    },
    {
        "InstanceID": f"{VM}\\m2",
        "HostResource": ["D:\\VMs\\boot.vhdx"],
        "Parent": path("Msvm_ResourceAllocationSettingData", f"{VM}\\d-boot"),
    },
    {
        "InstanceID": f"{VM}\\m3",
        "HostResource": ["D:\\iso\\setup.iso"],
        "Parent": path("Msvm_ResourceAllocationSettingData", f"{VM}\\d-dvd"),
    },
]


def test_disks_are_placed_by_controller_and_address() -> None:
    found = [
        (
            d.get("device"),
            d.find("source").get("file"),
            d.find("target").get("dev"),
            d.find("target").get("bus"),
        )
        for d in devices.disks(RESOURCES, MEDIA)
    ]
    assert found == [
        ("disk", "D:\\VMs\\boot.vhdx", "hda", "ide"),
        ("cdrom", "D:\\iso\\setup.iso", "hdc", "ide"),
        ("disk", "D:\\VMs\\data.vhdx", "sdc", "scsi"),
    ]


def test_a_medium_without_its_drive_is_left_out() -> None:
    assert devices.disks(RESOURCES[:3], MEDIA) == []


def test_adapters_with_their_switch() -> None:
    switch = (
        "\\\\HV01\\root\\virtualization\\v2:Msvm_VirtualEthernetSwitch."
        'CreationClassName="Msvm_VirtualEthernetSwitch",Name="SW-1"'
    )
    ports = [
        {"InstanceID": f"{VM}\\nic0", "Address": "00155D010203"},
        {"InstanceID": f"{VM}\\nic1", "Address": "00155D010204"},
    ]
    connections = [
        {
            "InstanceID": f"{VM}\\c0",
            "HostResource": [switch],
            "Parent": path("Msvm_SyntheticEthernetPortSettingData", f"{VM}\\nic0"),
        }
    ]
    nics = devices.interfaces(ports, connections, {"SW-1": "External"})
    assert [etree.tostring(n, encoding="unicode") for n in nics] == [
        '<interface type="bridge"><mac address="00:15:5d:01:02:03"/>'
        '<source bridge="External"/></interface>',
        '<interface type="bridge"><mac address="00:15:5d:01:02:04"/></interface>',
    ]


def test_devices_appear_in_the_dump() -> None:
    xml = mapping.domain_xml(
        {"ElementName": "web", "Name": VM.split(":")[1]},
        {},
        {"VirtualQuantity": "1024"},
        {"VirtualQuantity": "2"},
        inactive=True,
        id=-1,
        devices=devices.disks(RESOURCES, MEDIA),
    )
    root = etree.fromstring(xml.encode())
    assert [t.get("dev") for t in root.iterfind("devices/disk/target")] == ["hda", "hdc", "sdc"]


def test_disk_names_past_z_and_back() -> None:
    names = [devices.disk_name("sd", i) for i in (0, 25, 26, 701, 702)]
    assert names == ["sda", "sdz", "sdaa", "sdzz", "sdaaa"]
    assert [devices.disk_index(n, "sd") for n in names] == [0, 25, 26, 701, 702]
    assert [devices.disk_index(n, "sd") for n in ("sd", "hda", "sdA", "sd1", "sdé")] == [None] * 5


def test_a_dynamic_mac_not_yet_assigned_is_not_shown() -> None:
    ports = [{"InstanceID": f"{VM}\\nic0", "Address": "000000000000"}]
    emulated = [{"InstanceID": f"{VM}\\nic1", "Address": "00155D010205"}]
    nics = devices.interfaces(ports, [], {}, emulated)
    assert [etree.tostring(n, encoding="unicode") for n in nics] == [
        '<interface type="bridge"/>',
        '<interface type="bridge"><mac address="00:15:5d:01:02:05"/><model type="legacy"/>'
        "</interface>",
    ]


def test_an_empty_dvd_drive_is_a_cdrom_without_source() -> None:
    found = devices.disks(
        [*RESOURCES, rasd("d-dvd2", devices.DVD_DRIVE, "ide1", AddressOnParent="1")], MEDIA
    )
    empty = [d for d in found if d.find("target").get("dev") == "hdd"]
    assert len(empty) == 1 and empty[0].find("source") is None
    assert empty[0].find("address").attrib == {
        "type": "drive",
        "controller": "0",
        "bus": "1",
        "target": "0",
        "unit": "1",
    }
