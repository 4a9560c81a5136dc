"""Reading VBoxManage's machine-readable output and error messages.

Every sample here was written by hand from the VirtualBox manual's description of
``showvminfo --machinereadable``, ``list vms`` and ``snapshot list --machinereadable``; none was
captured from a live VirtualBox (none runs on the machines these tests run on).
"""

from __future__ import annotations

import pytest
from lxml import etree
from virtkit.constants import DomainShutoffReason, DomainState
from virtkit.errors import NoDomainError, OperationFailedError, OperationInvalidError
from virtkit.xml import parse_domain
from virtkit_vbox.driver import parse_version, parse_vm_list
from virtkit_vbox.manage import error_for, parse_machinereadable
from virtkit_vbox.mapping import define_commands, domain_xml
from virtkit_vbox.snapshots import parse_snapshot_list
from virtkit_vbox.states import is_active, state_of

SHOWVMINFO = """name="web"
groups="/"
ostype="Other Linux (64-bit)"
UUID="4dea22b3-1d52-d8f3-2516-782e98ab3fa0"
CfgFile="/home/u/VirtualBox VMs/web/web.vbox"
memory=1024
cpus=2
firmware="BIOS"
boot1="dvd"
boot2="disk"
boot3="none"
boot4="none"
VMState="poweroff"
VMStateChangeTime="2024-03-01T10:00:00.000000000"
description="front end"
storagecontrollername0="SATA"
storagecontrollertype0="IntelAhci"
storagecontrollerinstance0="0"
storagecontrollermaxportcount0="30"
storagecontrollerportcount0="1"
storagecontrollerbootable0="on"
"SATA-0-0"="/home/u/VirtualBox VMs/web/web.vdi"
"SATA-ImageUUID-0-0"="0a1b2c3d-0000-4000-8000-000000000001"
storagecontrollername1="IDE"
storagecontrollertype1="PIIX4"
"IDE-0-0"="none"
"IDE-0-1"="none"
"IDE-1-0"="/isos/debian 12.iso"
"IDE-ImageUUID-1-0"="0a1b2c3d-0000-4000-8000-000000000002"
"IDE-1-1"="emptydrive"
nic1="bridged"
bridgeadapter1="eth0"
macaddress1="080027AABBCC"
cableconnected1="on"
nictype1="82540EM"
nic2="nat"
macaddress2="080027DDEEFF"
nictype2="virtio"
nic3="none"
vrde="on"
vrdeport=3389
"""


def test_key_value_lines() -> None:
    info = parse_machinereadable(SHOWVMINFO)
    assert info["name"] == "web" and info["memory"] == "1024"
    assert info["SATA-0-0"] == "/home/u/VirtualBox VMs/web/web.vdi"
    assert info["IDE-1-0"] == "/isos/debian 12.iso"


def test_a_line_without_equals_is_an_error() -> None:
    with pytest.raises(OperationFailedError, match="line 2 is not key=value"):
        parse_machinereadable('name="x"\ngarbage\n')


def test_domain_xml_of_a_machine() -> None:
    root = etree.fromstring(domain_xml(parse_machinereadable(SHOWVMINFO), inactive=True).encode())
    assert root.get("type") == "vbox"
    assert (root.findtext("name"), root.findtext("uuid")) == (
        "web",
        "4dea22b3-1d52-d8f3-2516-782e98ab3fa0",
    )
    assert root.findtext("memory") == str(1024 * 1024) and root.findtext("vcpu") == "2"
    assert root.findtext("description") == "front end"
    assert [b.get("dev") for b in root.iterfind("os/boot")] == ["cdrom", "hd"]
    disks = [
        (
            d.get("device"),
            d.find("source").get("file") if d.find("source") is not None else None,
            d.find("target").get("dev"),
            d.find("target").get("bus"),
        )
        for d in root.iterfind("devices/disk")
    ]
    assert sorted(disks, key=lambda d: d[2]) == [
        ("cdrom", "/isos/debian 12.iso", "hdc", "ide"),
        ("cdrom", None, "hdd", "ide"),
        ("disk", "/home/u/VirtualBox VMs/web/web.vdi", "sda", "sata"),
    ]
    nics = [
        (n.get("type"), n.find("mac").get("address"), n.find("model").get("type"))
        for n in root.iterfind("devices/interface")
    ]
    assert nics == [
        ("bridge", "08:00:27:aa:bb:cc", "82540EM"),
        ("user", "08:00:27:dd:ee:ff", "virtio"),
    ]
    assert root.find("devices/interface/source").get("bridge") == "eth0"
    assert root.find("devices/graphics").attrib["port"] == "3389"


def test_dumped_xml_defines_the_same_machine() -> None:
    """showvminfo -> domain XML -> VBoxManage arguments: the same settings come back."""
    info = parse_machinereadable(SHOWVMINFO)
    commands = define_commands(parse_domain(domain_xml(info, inactive=True)))
    modify = commands[1]
    options = dict(zip(modify[2::2], modify[3::2], strict=True))
    assert options["--memory"] == info["memory"] and options["--cpus"] == info["cpus"]
    for key in (
        "boot1",
        "boot2",
        "boot3",
        "boot4",
        "nic1",
        "bridgeadapter1",
        "macaddress1",
        "nictype1",
        "nic2",
        "macaddress2",
        "nictype2",
        "vrde",
        "vrdeport",
    ):
        assert options[f"--{key}"] == info[key], key
    attached = {(c[3], c[5], c[7], c[11]) for c in commands if c[0] == "storageattach"}
    assert attached == {
        ("SATA", "0", "0", info["SATA-0-0"]),
        ("IDE", "1", "0", info["IDE-1-0"]),
        ("IDE", "1", "1", "emptydrive"),
    }


def test_list_vms() -> None:
    text = (
        '"web" {4dea22b3-1d52-d8f3-2516-782e98ab3fa0}\n'
        '"db "quoted" one" {5dea22b3-1d52-d8f3-2516-782e98ab3fa0}\n'
    )
    assert parse_vm_list(text) == [
        ("web", "4dea22b3-1d52-d8f3-2516-782e98ab3fa0"),
        ('db "quoted" one', "5dea22b3-1d52-d8f3-2516-782e98ab3fa0"),
    ]


def test_snapshot_tree() -> None:
    values = parse_machinereadable(
        'SnapshotName="base"\nSnapshotUUID="u0"\n'
        'SnapshotName-1="a"\nSnapshotUUID-1="u1"\nSnapshotDescription-1="first"\n'
        'SnapshotName-1-1="a1"\nSnapshotUUID-1-1="u11"\n'
        'SnapshotName-2="b"\nSnapshotUUID-2="u2"\n'
        'CurrentSnapshotName="a1"\nCurrentSnapshotUUID="u11"\nCurrentSnapshotNode="SnapshotName-1-1"\n'
    )
    tree = [(s.name, s.parent, s.current) for s in parse_snapshot_list(values)]
    assert tree == [
        ("base", None, False),
        ("a", "base", False),
        ("a1", "a", True),
        ("b", "base", False),
    ]
    assert parse_snapshot_list(values)[1].description == "first"


def test_virtkits_temporary_snapshot_is_left_out_of_the_tree() -> None:
    values = parse_machinereadable(
        'SnapshotName="base"\nSnapshotUUID="u0"\n'
        'SnapshotName-1="virtkit-revert-0f3c"\nSnapshotUUID-1="u1"\n'
        'CurrentSnapshotName="virtkit-revert-0f3c"\nCurrentSnapshotUUID="u1"\n'
    )
    assert [(s.name, s.current) for s in parse_snapshot_list(values)] == [("base", False)]


@pytest.mark.parametrize(
    ("stderr", "kind"),
    [
        (
            "VBoxManage: error: Could not find a registered machine named 'nope'\n"
            "VBoxManage: error: Details: code VBOX_E_OBJECT_NOT_FOUND (0x80bb0001), component "
            "VirtualBoxWrap, interface IVirtualBox\n",
            NoDomainError,
        ),
        ("VBoxManage: error: Machine 'web' is not currently running\n", OperationInvalidError),
        (
            "VBoxManage: error: The machine 'web' is already locked for a session "
            "(or being unlocked)\n"
            "VBoxManage: error: Details: code VBOX_E_INVALID_OBJECT_STATE (0x80bb0007)\n",
            OperationFailedError,
        ),
    ],
)
def test_errors_carry_what_virtualbox_said(stderr: str, kind: type[Exception]) -> None:
    error = error_for(["controlvm", "web", "pause"], 1, stderr)
    assert isinstance(error, kind)
    assert error.message.startswith("VBoxManage controlvm web failed (exit 1): ")
    assert stderr.splitlines()[0].split("error: ", 1)[1] in error.message


def test_versions() -> None:
    assert parse_version("7.0.12r159484\n") == 7_000_012
    assert parse_version("6.1.50_Ubuntur161033") == 6_001_050


@pytest.mark.parametrize(
    ("vm_state", "state", "active"),
    [
        ("poweroff", DomainState.SHUTOFF, False),
        ("saved", DomainState.SHUTOFF, False),
        ("aborted", DomainState.SHUTOFF, False),
        ("running", DomainState.RUNNING, True),
        ("paused", DomainState.PAUSED, True),
        ("gurumeditation", DomainState.CRASHED, True),
    ],
)
def test_states(vm_state: str, state: DomainState, active: bool) -> None:
    assert state_of(vm_state)[0] == state and is_active(vm_state) is active


def test_aborted_is_a_crash() -> None:
    assert state_of("aborted")[1] == DomainShutoffReason.CRASHED
