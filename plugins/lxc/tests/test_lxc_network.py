"""Interfaces as veth pairs: two containers on one bridge reach each other; nothing is left."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator

import pytest


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@pytest.fixture
def bridge() -> Iterator[str]:
    """A bridge with no address on the host (10.x addresses live only in the containers)."""
    name = f"vkbr{uuid.uuid4().hex[:6]}"
    try:
        ip("link", "add", name, "type", "bridge")
    except FileNotFoundError:
        pytest.fail("iproute2's 'ip' is not installed (Debian package iproute2)")
    ip("link", "set", name, "up")
    yield name
    ip("link", "del", name)


def test_two_containers_on_one_bridge_reach_each_other(conn, rootfs, container_xml, bridge) -> None:
    doms = []
    for index in (1, 2):
        nic = (
            f"<interface type='bridge'><source bridge='{bridge}'/>"
            f"<mac address='52:54:00:aa:00:0{index}'/>"
            f"<ip address='10.213.0.{index}' prefix='24'/>"
            f"<target dev='{bridge}v{index}'/></interface>"
        )
        doms.append(conn.create_xml(container_xml(f"net{index}", rootfs, extra_devices=nic)))
    assert sorted(os.listdir(f"/sys/class/net/{bridge}/brif")) == [f"{bridge}v1", f"{bridge}v2"]
    first = doms[0].lxc_enter_namespace(["ip", "-o", "addr", "show", "dev", "eth0"], capture=True)
    assert "10.213.0.1/24" in first.stdout.decode()
    link = doms[0].lxc_enter_namespace(["cat", "/sys/class/net/eth0/address"], capture=True)
    assert link.stdout.decode().strip() == "52:54:00:aa:00:01"
    ping = doms[0].lxc_enter_namespace(["ping", "-c", "1", "-W", "3", "10.213.0.2"], capture=True)
    assert ping.returncode == 0, ping.stdout.decode() + ping.stderr.decode()
    assert "10.213.0" not in subprocess.run(["ip", "addr"], capture_output=True, text=True).stdout
    for dom in doms:
        dom.destroy()
    assert os.listdir(f"/sys/class/net/{bridge}/brif") == []
    assert not {f"{bridge}v1", f"{bridge}v2"} & set(os.listdir("/sys/class/net"))


def test_a_container_without_interfaces_shares_the_host_network(
    conn, rootfs, container_xml
) -> None:
    dom = conn.create_xml(container_xml("hostnet", rootfs))
    assert os.readlink(f"/proc/{dom.id()}/ns/net") == os.readlink("/proc/self/ns/net")
    private = conn.create_xml(
        container_xml("privnet", rootfs, extra="<features><privnet/></features>")
    )
    assert os.readlink(f"/proc/{private.id()}/ns/net") != os.readlink("/proc/self/ns/net")
    links = (
        private.lxc_enter_namespace(["ls", "/sys/class/net"], capture=True).stdout.decode().split()
    )
    assert links == ["lo"]
