"""Reading ``<domain type='lxc'>``: what is honoured, and clear refusals of what is not."""

from __future__ import annotations

from pathlib import Path

import pytest
from virtkit.errors import ConfigUnsupportedError, XMLError
from virtkit.xml import parse_domain
from virtkit_lxc.config import check_startable, container_config, resolve_in_root


def config_of(xml: str):
    return container_config(parse_domain(xml))


def test_reads_init_limits_mounts_and_interfaces(container_xml, tmp_path: Path) -> None:
    xml = container_xml(
        "web",
        tmp_path,
        args=("-c", "echo hi"),
        memory_kib=131072,
        extra="<memtune><hard_limit unit='MiB'>64</hard_limit></memtune>"
        "<cputune><shares>512</shares></cputune>",
        extra_devices="<filesystem type='mount'><source dir='/srv'/><target dir='/data'/>"
        "<readonly/></filesystem>"
        "<filesystem type='ram'><source usage='1024' units='KiB'/><target dir='/run'/></filesystem>"
        "<interface type='bridge'><source bridge='br9'/><mac address='52:54:00:00:00:01'/>"
        "<ip address='10.9.0.2' prefix='16'/></interface>",
    )
    config = config_of(xml)
    assert config.init == "/bin/sh" and config.init_args == ("-c", "echo hi")
    assert config.memory_bytes == 128 << 20 and config.memory_limit_bytes == 64 << 20
    assert config.cpu_shares == 512
    assert config.root == str(tmp_path)
    bind, ram = config.mounts
    assert (bind.kind, bind.source, bind.target, bind.readonly) == ("bind", "/srv", "/data", True)
    assert (ram.kind, ram.size_bytes) == ("ram", 1 << 20)
    (iface,) = config.interfaces
    assert (iface.bridge, iface.mac, iface.addresses) == (
        "br9",
        "52:54:00:00:00:01",
        ("10.9.0.2/16",),
    )
    assert config.console and not config.private_net and config.idmap is None


@pytest.mark.parametrize(
    ("extra", "extra_devices", "named"),
    [
        ("<features><acpi/></features>", "", "<acpi>"),
        ("", "<disk type='file'/>", "<disk>"),
        ("<cputune><period>1000</period></cputune>", "", "<period>"),
        ("", "<interface type='network'><source network='default'/></interface>", "type='network'"),
        (
            "",
            "<filesystem type='block'><source dev='/dev/sda'/><target dir='/x'/></filesystem>",
            "type='block'",
        ),
        ("<seclabel type='none'/>", "", "<seclabel>"),
    ],
)
def test_refuses_what_it_cannot_honour_naming_the_element(
    container_xml, tmp_path: Path, extra: str, extra_devices: str, named: str
) -> None:
    with pytest.raises(ConfigUnsupportedError) as info:
        config_of(container_xml("c", tmp_path, extra=extra, extra_devices=extra_devices))
    assert named in str(info.value) and "line " in str(info.value)


def test_refuses_a_domain_of_another_type(container_xml, tmp_path: Path) -> None:
    xml = container_xml("c", tmp_path).replace("type='lxc'", "type='kvm'")
    with pytest.raises(ConfigUnsupportedError, match="type='kvm'"):
        config_of(xml)


def test_needs_a_root_filesystem(container_xml, tmp_path: Path) -> None:
    xml = container_xml("c", tmp_path).replace("<target dir='/'/>", "<target dir='/mnt'/>")
    with pytest.raises(XMLError, match="no root filesystem"):
        config_of(xml)


def test_idmap_needs_uid_and_gid(container_xml, tmp_path: Path) -> None:
    xml = container_xml(
        "c", tmp_path, extra="<idmap><uid start='0' target='1000' count='10'/></idmap>"
    )
    with pytest.raises(XMLError, match="both <uid> and <gid>"):
        config_of(xml)
    ok = config_of(
        container_xml(
            "c",
            tmp_path,
            extra=(
                "<idmap><uid start='0' target='100000' count='65536'/>"
                "<gid start='0' target='100000' count='65536'/></idmap>"
            ),
        )
    )
    assert ok.idmap is not None and ok.idmap.uid == ((0, 100000, 65536),)


def test_init_is_resolved_inside_the_root(container_xml, tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin/busybox").write_text("#!/bin/true\n")
    (tmp_path / "bin/busybox").chmod(0o755)
    (tmp_path / "sbin").mkdir()
    (tmp_path / "sbin/init").symlink_to("/bin/busybox")  # absolute: means the container's /bin
    (tmp_path / "sbin/rel").symlink_to("../bin/busybox")
    assert resolve_in_root(str(tmp_path), "/sbin/init") == tmp_path / "bin/busybox"
    assert resolve_in_root(str(tmp_path), "/sbin/rel") == tmp_path / "bin/busybox"
    assert resolve_in_root(str(tmp_path), "/sbin/missing") is None
    check_startable(config_of(container_xml("c", tmp_path, init="/sbin/init")))
    with pytest.raises(XMLError, match="init of container 'c' not found: '/sbin/missing'"):
        check_startable(config_of(container_xml("c", tmp_path, init="/sbin/missing")))
    with pytest.raises(XMLError, match="root filesystem of container 'c' not found"):
        check_startable(config_of(container_xml("c", tmp_path / "nope")))
