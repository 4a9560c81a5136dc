"""A domain's devices as virsh lists them: ``domblklist``, ``domiflist``, ``vncdisplay``,
``ttyconsole``. They read the domain XML any driver returns; here the test driver's."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import virtkit
from click.testing import Result

Run = Callable[..., Result]

DEVICES_XML = """\
<domain type='test'>
  <name>devs</name>
  <memory unit='MiB'>128</memory>
  <os><type arch='x86_64'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'>
      <source file='/var/lib/images/devs.qcow2'/><target dev='vda' bus='virtio'/>
    </disk>
    <disk type='block' device='disk'><source dev='/dev/vg/data'/><target dev='vdb'/></disk>
    <disk type='network' device='disk'>
      <source protocol='rbd' name='pool/image'/><target dev='vdc'/>
    </disk>
    <disk type='file' device='cdrom'><target dev='sda' bus='sata'/><readonly/></disk>
    <interface type='bridge'>
      <mac address='52:54:00:aa:bb:01'/><source bridge='br0'/><target dev='tap-devs'/>
      <model type='virtio'/>
    </interface>
    <interface type='user'><mac address='52:54:00:aa:bb:02'/></interface>
    <graphics type='vnc' port='5907' autoport='no' listen='127.0.0.1'/>
  </devices>
</domain>
"""


@pytest.fixture
def devs(conn: virtkit.Connection) -> virtkit.Domain:
    return conn.define_xml(DEVICES_XML)


def test_domblklist_lists_targets_and_sources(run: Run, devs: virtkit.Domain) -> None:
    assert run("domblklist", "devs").stdout == (
        " Target   Source\n"
        "--------------------------------------\n"
        " vda      /var/lib/images/devs.qcow2\n"
        " vdb      /dev/vg/data\n"
        " vdc      pool/image\n"
        " sda      -\n"
        "\n"
    )
    details = run("domblklist", "devs", "--details", "--inactive").stdout.splitlines()
    assert details[0].split() == ["Type", "Device", "Target", "Source"]
    assert [line.split() for line in details[2:6]] == [
        ["file", "disk", "vda", "/var/lib/images/devs.qcow2"],
        ["block", "disk", "vdb", "/dev/vg/data"],
        ["network", "disk", "vdc", "pool/image"],
        ["file", "cdrom", "sda", "-"],
    ]


def test_domiflist_lists_interfaces(run: Run, devs: virtkit.Domain) -> None:
    assert run("domiflist", "devs").stdout == (
        " Interface   Type     Source   Model    MAC\n"
        "-----------------------------------------------------------\n"
        " tap-devs    bridge   br0      virtio   52:54:00:aa:bb:01\n"
        " -           user     -        -        52:54:00:aa:bb:02\n"
        "\n"
    )


def test_vncdisplay_of_a_running_domain(run: Run, devs: virtkit.Domain) -> None:
    result = run("vncdisplay", "devs")
    assert result.exit_code == 1 and "error: Domain is not running" in result.stderr
    devs.create()
    assert run("vncdisplay", "devs").stdout == "127.0.0.1:7\n\n"


def test_vncdisplay_and_ttyconsole_say_what_is_missing(run: Run) -> None:
    result = run("vncdisplay", "test")
    assert result.exit_code == 1 and "domain 'test' has no VNC display" in result.stderr
    result = run("ttyconsole", "test")
    assert result.exit_code == 1 and "domain 'test' has no console with a pty" in result.stderr
