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


def test_disk_names_past_z() -> None:
    assert [devices._letters(i) for i in (0, 25, 26, 701)] == ["a", "z", "aa", "zz"]
