"""What a definition's <devices> ask Hyper-V for, and what is refused before any request
(places and generations as the WMI v2 documentation describes Hyper-V's controllers)."""

from __future__ import annotations

import pytest
from lxml import etree
from virtkit.errors import ConfigUnsupportedError, VirtError, XMLError
from virtkit.xml import parse_domain
from virtkit_hyperv.plans import DiskPlan, NicPlan, plan_devices


def root(devices: str, efi: bool = False) -> etree._Element:
    firmware = " firmware='efi'" if efi else ""
    xml = (
        f"<domain type='hyperv'><name>web</name><memory unit='MiB'>1024</memory>"
        f"<os{firmware}><type>hvm</type></os><devices>{devices}</devices></domain>"
    )
    return parse_domain(xml).tree()


def disk(dev: str, device: str = "disk", source: str = "D:\\a.vhdx", extra: str = "") -> str:
    src = f"<source file='{source}'/>" if source else ""
    return f"<disk type='file' device='{device}'>{src}<target dev='{dev}'/>{extra}</disk>"


def test_generation_1_places() -> None:
    plans = plan_devices(
        root(
            disk("hda")
            + disk("hdd", "cdrom", "", "<readonly/>")
            + disk("sdb", extra="<address type='drive' controller='0' bus='0' unit='1'/>")
            + "<controller type='ide' index='0'/>"
            + "<interface type='bridge'><mac address='00:15:5d:01:02:03'/>"
            "<source bridge='External'/></interface>"
            + "<interface type='bridge'><model type='legacy'/></interface>"
        ),
        generation2=False,
    )
    assert plans.disks == (
        DiskPlan(name="hda", bus="ide", controller=0, location=0, cdrom=False, path="D:\\a.vhdx"),
        DiskPlan(name="hdd", bus="ide", controller=1, location=1, cdrom=True, path=None),
        DiskPlan(name="sdb", bus="scsi", controller=0, location=1, cdrom=False, path="D:\\a.vhdx"),
    )
    assert plans.nics == (
        NicPlan(name="interface 1", switch="External", mac="00155D010203", legacy=False),
        NicPlan(name="interface 2", switch=None, mac=None, legacy=True),
    )
    assert plans.scsi_controllers == 1


def test_generation_2_scsi_controllers_of_64_locations() -> None:
    plans = plan_devices(
        root(disk("sda") + disk("sdbm") + disk("sdc", "cdrom", "D:\\x.iso"), efi=True),
        generation2=True,
    )
    assert [(d.name, d.controller, d.location) for d in plans.disks] == [
        ("sda", 0, 0),
        ("sdbm", 1, 0),  # index 64
        ("sdc", 0, 2),
    ]
    assert plans.scsi_controllers == 2


def test_declared_scsi_controllers_are_made() -> None:
    plans = plan_devices(root("<controller type='scsi' index='2'/>"), generation2=True)
    assert plans.scsi_controllers == 3


@pytest.mark.parametrize(
    ("devices", "efi", "error", "message"),
    [
        ("<graphics type='rdp'/>", False, ConfigUnsupportedError, "<graphics> devices cannot"),
        (disk("hda"), True, ConfigUnsupportedError, "'hda': a generation 2 VM has no IDE"),
        (disk("sda", "cdrom"), False, ConfigUnsupportedError, "'sda': a generation 1 VM takes DVD"),
        (disk("fda", "floppy"), False, ConfigUnsupportedError, "'fda': device 'floppy'"),
        (
            "<disk type='block' device='disk'><source dev='/dev/sdb'/><target dev='sda'/></disk>",
            False,
            ConfigUnsupportedError,
            "'sda': type 'block'",
        ),
        (disk("vda"), False, ConfigUnsupportedError, "'vda': bus 'unknown'"),
        (
            "<disk type='file'><source file='a'/><target dev='sda' bus='sata'/></disk>",
            False,
            ConfigUnsupportedError,
            "'sda': bus 'sata'",
        ),
        (
            disk("sda", extra="<driver name='qemu' cache='none'/>"),
            False,
            ConfigUnsupportedError,
            "'sda': <driver> cannot be honoured",
        ),
        (
            "<disk type='file'><source file='a' startupPolicy='optional'/><target dev='sda'/>"
            "</disk>",
            False,
            ConfigUnsupportedError,
            "'sda': attribute 'startupPolicy' of <source>",
        ),
        (disk("sda", source=""), False, ConfigUnsupportedError, "'sda': a hard disk needs"),
        (disk("sdjz"), False, ConfigUnsupportedError, "'sdjz': beyond the last SCSI place"),
        (
            disk("sdh", extra="<address type='drive' controller='1' bus='0' unit='0'/>"),
            False,
            ConfigUnsupportedError,
            "'sdh': <address type='drive' controller='1' bus='0' unit='0'> is not the place "
            "Hyper-V gives 'sdh' \\(<address type='drive' controller='0' bus='0' target='0' "
            "unit='7'>\\)",
        ),
        (
            disk("sda") + disk("sdb", extra="<address type='drive' controller='0' unit='0'/>"),
            False,
            ConfigUnsupportedError,
            "'sdb': <address",
        ),
        (disk("sda") + disk("sda"), False, ConfigUnsupportedError, "'sda' and 'sda' are at"),
        ("<disk type='file'><source file='a'/></disk>", False, XMLError, "without <target dev>"),
        (
            "<interface type='network'><source network='default'/></interface>",
            False,
            ConfigUnsupportedError,
            "<interface> 1: type 'network'",
        ),
        (
            "<interface type='bridge'><model type='virtio'/></interface>",
            False,
            ConfigUnsupportedError,
            "<interface> 1: model 'virtio'",
        ),
        (
            "<interface type='bridge'><model type='legacy'/></interface>",
            True,
            ConfigUnsupportedError,
            "a generation 2 VM has no legacy network adapter",
        ),
        (
            "<interface type='bridge'><source bridge='x'/><bandwidth/></interface>",
            False,
            ConfigUnsupportedError,
            "<interface> 1: <bandwidth> cannot be honoured",
        ),
        (
            "<interface type='bridge'><mac address='00:15:5d:01:02'/></interface>",
            False,
            XMLError,
            "<mac address='00:15:5d:01:02'> is not a MAC address",
        ),
        (
            "<controller type='usb' index='0'/>",
            False,
            ConfigUnsupportedError,
            "<controller type='usb' index='0'> cannot be defined",
        ),
        (
            "<controller type='scsi' index='0' model='virtio-scsi'/>",
            False,
            ConfigUnsupportedError,
            "attribute 'model' of <controller>",
        ),
    ],
)
def test_what_cannot_be_honoured_is_refused_by_name(
    devices: str, efi: bool, error: type[VirtError], message: str
) -> None:
    with pytest.raises(error, match=message):
        plan_devices(root(devices, efi), generation2=efi)
