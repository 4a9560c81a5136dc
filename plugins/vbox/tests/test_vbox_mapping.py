"""Domain XML -> the VBoxManage commands that define a machine, with libvirt's placement rules."""

from __future__ import annotations

import pytest
from virtkit.errors import ConfigUnsupportedError, XMLError
from virtkit.xml import parse_domain
from virtkit_vbox.mapping import define_commands, placement

UUID = "4dea22b3-1d52-d8f3-2516-782e98ab3fa0"


def commands(devices: str = "", extra: str = "") -> list[list[str]]:
    return define_commands(
        parse_domain(
            f"<domain type='vbox'><name>web</name><uuid>{UUID}</uuid>"
            f"<memory unit='MiB'>512</memory><vcpu>2</vcpu>{extra}<devices>{devices}</devices>"
            "</domain>"
        )
    )


def test_createvm_registers_with_the_uuid_then_modifyvm_sets_hardware() -> None:
    found = commands(extra="<os firmware='efi'><type>hvm</type><boot dev='network'/></os>")
    assert found[0] == [
        "createvm",
        "--name",
        "web",
        "--uuid",
        UUID,
        "--ostype",
        "Other",
        "--register",
    ]
    assert found[1] == [
        "modifyvm",
        "web",
        "--memory",
        "512",
        "--cpus",
        "2",
        "--boot1",
        "net",
        "--boot2",
        "none",
        "--boot3",
        "none",
        "--boot4",
        "none",
        "--firmware",
        "efi",
    ]


def test_memory_is_rounded_up_to_whole_mib() -> None:
    definition = parse_domain(
        "<domain type='vbox'><name>web</name><memory unit='KiB'>524289</memory>"
        "<currentMemory unit='KiB'>262145</currentMemory></domain>"
    )
    modify = define_commands(definition)[1]
    assert modify[modify.index("--memory") + 1] == "257"  # the current memory, never less


def test_disks_get_a_controller_per_bus_and_their_places() -> None:
    found = commands(
        "<disk type='file' device='disk'><source file='/v/a.vdi'/><target dev='hdb'/></disk>"
        "<disk type='file' device='disk'><source file='/v/b.vdi'/>"
        "<target dev='sdc' bus='scsi'/></disk>"
        "<disk type='file' device='floppy'><source file='/v/f.img'/><target dev='fdb'/></disk>"
    )
    assert [c for c in found if c[0] == "storagectl"] == [
        ["storagectl", "web", "--name", "IDE", "--add", "ide", "--controller", "PIIX4"],
        ["storagectl", "web", "--name", "SCSI", "--add", "scsi", "--controller", "LsiLogic"],
        ["storagectl", "web", "--name", "Floppy", "--add", "floppy", "--controller", "I82078"],
    ]
    assert [(c[3], c[5], c[7], c[9], c[11]) for c in found if c[0] == "storageattach"] == [
        ("IDE", "0", "1", "hdd", "/v/a.vdi"),
        ("SCSI", "2", "0", "hdd", "/v/b.vdi"),
        ("Floppy", "0", "1", "fdd", "/v/f.img"),
    ]


@pytest.mark.parametrize(
    ("bus", "dev", "place"),
    [
        ("ide", "hda", (0, 0)),
        ("ide", "hdb", (0, 1)),
        ("ide", "hdc", (1, 0)),
        ("ide", "hdd", (1, 1)),
        ("sata", "sdd", (3, 0)),
        ("fdc", "fda", (0, 0)),
    ],
)
def test_placement(bus: str, dev: str, place: tuple[int, int]) -> None:
    assert placement(bus, dev) == place


def test_interfaces() -> None:
    found = commands(
        "<interface type='network'><source network='vboxnet0'/></interface>"
        "<interface type='internal'><source name='lab'/><mac address='52:54:00:01:02:03'/>"
        "</interface>"
    )
    args = found[1]
    assert args[args.index("--nic1") + 1] == "hostonly"
    assert args[args.index("--hostonlyadapter1") + 1] == "vboxnet0"
    assert args[args.index("--intnet2") + 1] == "lab"
    assert args[args.index("--macaddress2") + 1] == "525400010203"


@pytest.mark.parametrize(
    ("devices", "message"),
    [
        (
            "<disk type='block' device='disk'><source dev='/dev/sdb'/><target dev='sda'/></disk>",
            "<disk type='block'> \\(only file\\)",
        ),
        (
            "<disk type='file' device='disk'><source file='/a'/><target dev='hde'/></disk>",
            "IDE has four places",
        ),
        (
            "<disk type='file' device='disk'><source file='/a'/>"
            "<target dev='vda' bus='virtio'/></disk>",
            "disk bus 'virtio'",
        ),
        ("<interface type='direct'><source dev='eth0'/></interface>", "<interface type='direct'>"),
        ("<interface type='user'><model type='e1000'/></interface>", "NIC model 'e1000'"),
        ("<graphics type='vnc'/>", "<graphics type='vnc'> \\(only rdp\\)"),
    ],
)
def test_what_virtualbox_cannot_do_is_refused_by_name(devices: str, message: str) -> None:
    with pytest.raises(ConfigUnsupportedError, match=message):
        commands(devices)


def test_a_disk_without_source_is_an_xml_error() -> None:
    with pytest.raises(XMLError, match="'sda' has no <source file"):
        commands("<disk type='file' device='disk'><target dev='sda'/></disk>")
