"""domxml-from-native lxc-tools: each LXC setting's mapping (LXC 3.0 and legacy names alike),
bad configurations refused with the line and key at fault, and the wiring through a
connection and the CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import virtkit
from lxml import etree
from virtkit.errors import ConfigUnsupportedError, InvalidArgumentError
from virtkit.xml import Context, parse_domain
from virtkit_lxc.canonical import EMULATOR, lxc_canonical
from virtkit_lxc.native import config_to_xml

BASE_V3 = "lxc.rootfs.path = /srv/ct/rootfs\nlxc.uts.name = web\n"
BASE_LEGACY = "lxc.rootfs = /srv/ct/rootfs\nlxc.utsname = web\n"

#: the same container in LXC 3.0 and in legacy key names
FULL_V3 = (
    BASE_V3
    + """\
lxc.arch = amd64
lxc.tty.max = 2
lxc.cap.drop = sys_module mknod  net_raw
lxc.idmap = u 100000 0 65536
lxc.idmap = g 100000 0 65536
lxc.mount.entry = proc proc proc nodev,noexec,nosuid 0 0
lxc.mount.entry = tmpfs tmp tmpfs size=16M,mode=1777 0 0
lxc.mount.entry = /srv/data /data none bind,ro 0 0
lxc.mount.entry = /dev/sdb1 mnt/disk ext4 defaults 0 0
lxc.net.0.type = veth
lxc.net.0.link = br0
lxc.net.0.flags = up
lxc.net.0.hwaddr = 52:54:00:AB:cd:01
lxc.net.0.name = eth0
lxc.net.0.ipv4.address = 10.0.3.5/24
lxc.net.0.ipv4.gateway = 10.0.3.1
lxc.net.0.ipv6.address = fd00:0:0:0::5/64
lxc.net.1.type = macvlan
lxc.net.1.link = eth1
lxc.net.1.hwaddr = 52:54:00:ab:cd:02
lxc.cgroup.memory.limit_in_bytes = 512M
lxc.cgroup.memory.memsw.limit_in_bytes = 1G
lxc.cgroup.cpu.shares = 512
lxc.cgroup.cpu.cfs_quota_us = 50000
lxc.cgroup.cpu.cfs_period_us = 100000
lxc.cgroup.cpuset.cpus = 0-3,^2
lxc.cgroup.blkio.weight = 300
lxc.cgroup.blkio.throttle.write_bps_device = 8:0 1048576
lxc.autodev = 1
lxc.cgroup.devices.allow = c 1:3 rwm
"""
)
FULL_LEGACY = (
    FULL_V3.replace(BASE_V3, BASE_LEGACY)
    .replace("lxc.tty.max", "lxc.tty")
    .replace("lxc.idmap", "lxc.id_map")
    .replace("lxc.net.0.type", "lxc.network.type", 1)
    .replace("lxc.net.0.ipv4.address", "lxc.network.ipv4")
    .replace("lxc.net.0.ipv6.address", "lxc.network.ipv6")
    .replace("lxc.net.0.", "lxc.network.")
    .replace("lxc.net.1.", "lxc.network.")
)


def convert(text: str) -> etree._Element:
    return etree.fromstring(config_to_xml(text).encode())


def _attrs(root: etree._Element, path: str) -> list[dict[str, str]]:
    return [dict(el.attrib) for el in root.iterfind(path)]


def test_legacy_and_lxc3_names_give_the_same_domain() -> None:
    """Apart from the generated UUID, both spellings convert identically."""
    v3, legacy = convert(FULL_V3), convert(FULL_LEGACY)
    for root in (v3, legacy):
        root.remove(root.find("uuid"))
    assert etree.tostring(v3) == etree.tostring(legacy)


def test_identity_architecture_and_defaults() -> None:
    root = convert(FULL_V3)
    assert root.get("type") == "lxc"
    assert root.findtext("name") == "web"
    assert len(root.findtext("uuid")) == 36
    assert root.find("os/type").get("arch") == "x86_64"
    assert root.findtext("os/type") == "exe"
    assert root.findtext("os/init") == "/sbin/init"
    assert root.findtext("devices/emulator") == EMULATOR
    # no lxc.arch: no architecture, as libvirt leaves it to the host at start
    assert convert(BASE_V3).find("os/type").get("arch") is None
    assert convert(BASE_V3 + "lxc.arch = x86\n").find("os/type").get("arch") == "i686"


def test_filesystems() -> None:
    """Root first; proc skipped (a basic mount); tmpfs sized in KiB; bind read-only; a /dev
    source is a block device; relative targets made absolute."""
    fss = convert(FULL_V3).findall("devices/filesystem")
    summary = [
        (
            fs.get("type"),
            dict(fs.find("source").attrib),
            fs.find("target").get("dir"),
            fs.find("readonly") is not None,
        )
        for fs in fss
    ]
    assert summary == [
        ("mount", {"dir": "/srv/ct/rootfs"}, "/", False),
        ("ram", {"usage": "16384", "units": "KiB"}, "/tmp", False),
        ("mount", {"dir": "/srv/data"}, "/data", True),
        ("block", {"dev": "/dev/sdb1"}, "/mnt/disk", False),
    ]
    assert convert("lxc.rootfs.path = /dev/vg/ct\nlxc.uts.name = b\n").find(
        "devices/filesystem/source"
    ).attrib == {"dev": "/dev/vg/ct"}


def test_interfaces() -> None:
    root = convert(FULL_V3)
    bridge, direct = root.findall("devices/interface")
    assert bridge.get("type") == "bridge"
    assert bridge.find("mac").get("address") == "52:54:00:ab:cd:01"
    assert bridge.find("source").attrib == {"bridge": "br0"}
    assert _attrs(bridge, "ip") == [
        {"address": "10.0.3.5", "family": "ipv4", "prefix": "24"},
        {"address": "fd00::5", "family": "ipv6", "prefix": "64"},
    ]
    assert _attrs(bridge, "route") == [
        {"family": "ipv4", "address": "0.0.0.0", "gateway": "10.0.3.1"}
    ]
    assert bridge.find("guest").get("dev") == "eth0"
    assert bridge.find("link").get("state") == "up"
    # macvlan without a mode is private; without flags=up the link is down (as in libvirt)
    assert direct.get("type") == "direct"
    assert direct.find("source").attrib == {"dev": "eth1", "mode": "private"}
    assert direct.find("link").get("state") == "down"
    assert direct.find("mac").get("address") == "52:54:00:ab:cd:02"
    assert root.find("features/privnet") is None


def test_veth_without_link_is_ethernet_and_vlan_is_a_host_device() -> None:
    root = convert(
        BASE_V3
        + "lxc.net.0.type = veth\nlxc.net.0.hwaddr = 00:16:3e:xx:xx:xx\n"
        + "lxc.net.3.type = vlan\nlxc.net.3.link = eth0\nlxc.net.3.vlan.id = 7\n"
        + "lxc.net.2.type = phys\nlxc.net.2.link = enp3s0\n"
    )
    ethernet = root.find("devices/interface")
    assert ethernet.get("type") == "ethernet"
    # no hwaddr (or one with LXC's placeholders): a MAC is generated
    assert len(ethernet.find("mac").get("address")) == 17
    hostdevs = root.findall("devices/hostdev")
    assert [h.attrib for h in hostdevs] == [{"mode": "capabilities", "type": "net"}] * 2
    # interfaces in the order the file first names them, not by index
    assert [h.findtext("source/interface") for h in hostdevs] == ["eth0.7", "enp3s0"]


def test_private_network_only_without_any_network_setting() -> None:
    assert convert(BASE_V3).find("features/privnet") is not None
    none = convert(BASE_LEGACY + "lxc.network.type = none\n")
    assert none.find("features/privnet") is None
    assert none.find("devices/interface") is None


def test_consoles_idmap_capabilities() -> None:
    root = convert(FULL_V3)
    assert [
        (c.get("type"), dict(c.find("target").attrib)) for c in root.iterfind("devices/console")
    ] == [
        ("pty", {"type": "lxc", "port": "0"}),
        ("pty", {"type": "lxc", "port": "1"}),
    ]
    # libvirt reads "u <first> <second> <count>" with the first number as the target
    assert _attrs(root, "idmap/uid") == [{"start": "0", "target": "100000", "count": "65536"}]
    assert _attrs(root, "idmap/gid") == [{"start": "0", "target": "100000", "count": "65536"}]
    caps = root.find("features/capabilities")
    assert caps.get("policy") == "allow"
    # libvirt's order, not the file's; split on single spaces only
    assert [(c.tag, c.get("state")) for c in caps] == [
        ("mknod", "off"),
        ("net_raw", "off"),
        ("sys_module", "off"),
    ]


def test_cgroup_limits() -> None:
    root = convert(FULL_V3)
    assert root.findtext("memory") == str(512 * 1024)
    assert root.findtext("memtune/hard_limit") == str(512 * 1024)
    assert root.findtext("memtune/swap_hard_limit") == str(1024 * 1024)
    assert root.find("memtune/soft_limit") is None
    assert [(c.tag, c.text) for c in root.find("cputune")] == [
        ("shares", "512"),
        ("period", "100000"),
        ("quota", "50000"),
    ]
    assert root.find("vcpu").get("cpuset") == "0-1,3"
    assert root.findtext("blkiotune/weight") == "300"
    assert root.findtext("blkiotune/device/path") == "/dev/block/8:0"
    assert root.findtext("blkiotune/device/write_bytes_sec") == "1048576"
    # a zero quota is no quota; -1 (unlimited) is kept, as libvirt writes it
    zero = convert(BASE_V3 + "lxc.cgroup.cpu.cfs_quota_us = 0\n")
    assert zero.find("cputune") is None
    unlimited = convert(BASE_V3 + "lxc.cgroup.cpu.cfs_quota_us = -1\n")
    assert unlimited.findtext("cputune/quota") == "-1"
    # without a limit: libvirt's 64 MiB
    assert convert(BASE_V3).findtext("memory") == "65536"


@pytest.mark.parametrize(
    ("text", "error", "expected"),
    [
        (
            BASE_V3 + "lxc.mount.fstab = /srv/ct/fstab\n",
            ConfigUnsupportedError,
            "line 3: lxc.mount.fstab",
        ),
        (BASE_LEGACY + "lxc.mount = /srv/ct/fstab\n", ConfigUnsupportedError, "line 3: lxc.mount"),
        (
            BASE_V3 + "lxc.net.0.type = veth\nlxc.net.0.veth.pair = vh0\n",
            ConfigUnsupportedError,
            "line 4: lxc.net.0.veth.pair",
        ),
        (
            BASE_LEGACY + "lxc.network.type = veth\nlxc.network.script.up = /bin/true\n",
            ConfigUnsupportedError,
            "line 4: lxc.network.script.up",
        ),
        (BASE_V3 + "lxc.net.0.type = vxlan\n", ConfigUnsupportedError, "line 3: lxc.net.0.type"),
        (BASE_V3 + "lxc.net.0.type = macvlan\n", ConfigUnsupportedError, "needs a 'link'"),
        (BASE_V3 + "lxc.net.0.type = phys\n", ConfigUnsupportedError, "needs a 'link'"),
        (
            BASE_V3 + "lxc.net.0.type = macvlan\nlxc.net.0.link = e\nlxc.net.0.macvlan.mode = x\n",
            ConfigUnsupportedError,
            "line 5: lxc.net.0.macvlan.mode",
        ),
        (
            BASE_LEGACY + "lxc.network.link = br0\n",
            InvalidArgumentError,
            "line 3: lxc.network.link: network setting before any lxc.network.type",
        ),
        (BASE_V3 + "lxc.net.x.type = veth\n", InvalidArgumentError, "line 3: lxc.net.x.type"),
        (
            BASE_V3 + "lxc.net.0.type = veth\nlxc.net.0.ipv4.address = 10.0.0.300/24\n",
            InvalidArgumentError,
            "line 4: lxc.net.0.ipv4.address: invalid IPv4 address",
        ),
        (
            BASE_V3 + "lxc.net.0.type = veth\nlxc.net.0.ipv6.address = fd00::1\n",
            InvalidArgumentError,
            "line 4: lxc.net.0.ipv6.address: invalid CIDR",
        ),
        (
            BASE_V3 + "lxc.net.0.type = veth\nlxc.net.0.ipv4.gateway = fd00::1\n",
            InvalidArgumentError,
            "line 4: lxc.net.0.ipv4.gateway",
        ),
        (
            BASE_V3 + "lxc.mount.entry = tmpfs tmp tmpfs mode=1777 0 0\n",
            InvalidArgumentError,
            "line 3: lxc.mount.entry: tmpfs mount without a size",
        ),
        (
            BASE_V3 + "lxc.mount.entry = tmpfs tmp tmpfs size=50% 0 0\n",
            InvalidArgumentError,
            "relative size",
        ),
        (
            BASE_V3 + "lxc.mount.entry = /srv /srv\n",
            InvalidArgumentError,
            "line 3: lxc.mount.entry",
        ),
        (
            BASE_V3 + "lxc.cgroup.memory.limit_in_bytes = 1Q\n",
            InvalidArgumentError,
            "line 3: lxc.cgroup.memory.limit_in_bytes",
        ),
        (
            BASE_V3 + "lxc.cgroup.cpu.shares = lots\n",
            InvalidArgumentError,
            "line 3: lxc.cgroup.cpu.shares",
        ),
        (
            BASE_V3 + "lxc.cgroup.cpuset.cpus = 3-1\n",
            InvalidArgumentError,
            "line 3: lxc.cgroup.cpuset.cpus",
        ),
        (
            BASE_V3 + "lxc.cgroup.blkio.device_weight = 8:0\n",
            InvalidArgumentError,
            "line 3: lxc.cgroup.blkio.device_weight",
        ),
        (BASE_V3 + "lxc.idmap = x 0 100000 10\n", InvalidArgumentError, "line 3: lxc.idmap"),
        (BASE_V3 + "lxc.tty.max = -1\n", InvalidArgumentError, "line 3: lxc.tty.max"),
        (BASE_V3 + "\n\nthis is not a setting\n", InvalidArgumentError, "line 5: expected"),
        (BASE_V3 + "rootfs = /x\n", InvalidArgumentError, "line 3: rootfs: not an LXC"),
        ("lxc.uts.name = web\n", InvalidArgumentError, "no lxc.rootfs.path"),
        ("lxc.rootfs.path = /srv/ct/rootfs\n", InvalidArgumentError, "no lxc.uts.name"),
    ],
)
def test_bad_configs_are_refused_naming_what_and_where(
    text: str, error: type[Exception], expected: str
) -> None:
    with pytest.raises(error) as caught:
        config_to_xml(text)
    assert expected in str(caught.value)


def test_lxc_canonical_defaults() -> None:
    """The LXC driver's post-parse: the libvirt_lxc emulator and lxc console targets."""
    definition = parse_domain(
        "<domain type='lxc'><name>c</name><memory>1024</memory><os><type>exe</type></os>"
        "<devices><console type='pty'/><console type='pty'/></devices></domain>"
    )
    root = etree.fromstring(lxc_canonical(definition, context=Context()).to_xml().encode())
    assert root.findtext("devices/emulator") == EMULATOR
    assert _attrs(root, "devices/console/target") == [
        {"type": "lxc", "port": "0"},
        {"type": "lxc", "port": "1"},
    ]


def test_connection_converts(tmp_path: Path) -> None:
    """``conn.domain_xml_from_native('lxc-tools', ...)`` on a real LXC connection; another
    native format is refused by name."""
    config = "lxc.rootfs.path = /srv/native1\nlxc.uts.name = native1\nlxc.tty.max = 1\n"
    with virtkit.open(f"lxc:///embed?root={tmp_path / 'embed'}") as conn:
        definition = parse_domain(conn.domain_xml_from_native("lxc-tools", config))
        assert definition.name == "native1"
        root = etree.fromstring(definition.to_xml().encode())
        assert root.find("devices/filesystem/source").get("dir") == "/srv/native1"
        assert root.find("devices/console/target").get("type") == "lxc"
        with pytest.raises(InvalidArgumentError, match="lxc-tools"):
            conn.domain_xml_from_native("xen-xl", config)


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    uri = f"lxc:///embed?root={tmp_path / 'embed'}"
    return subprocess.run(
        [sys.executable, "-m", "virtkit.cli", "-c", uri, *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli_domxml_from_native(tmp_path: Path) -> None:
    good = tmp_path / "good.conf"
    good.write_text(BASE_LEGACY + "lxc.network.type = veth\nlxc.network.link = br0\n")
    done = _cli(tmp_path, "domxml-from-native", "lxc-tools", str(good))
    assert done.returncode == 0, done.stderr
    root = etree.fromstring(done.stdout.encode())
    assert root.findtext("name") == "web"
    assert root.find("devices/interface/source").get("bridge") == "br0"

    bad = tmp_path / "bad.conf"
    bad.write_text(BASE_V3 + "lxc.mount.fstab = /srv/ct/fstab\n")
    done = _cli(tmp_path, "domxml-from-native", "lxc-tools", str(bad))
    assert done.returncode != 0
    assert "line 3: lxc.mount.fstab" in done.stderr
    assert done.stdout == ""
