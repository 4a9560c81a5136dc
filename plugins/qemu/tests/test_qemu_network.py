"""A tap on a bridge, for real: in a network namespace the test makes, a domain with
``<interface type='bridge'>`` gets its tap created by QEMU and enslaved to the bridge."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from typing import Any

import pytest


def ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=False)


@pytest.fixture
def netns() -> Iterator[str]:
    name = f"vkq-{uuid.uuid4().hex[:8]}"
    made = ip("netns", "add", name)
    if made.returncode != 0:
        pytest.fail(f"cannot create a network namespace (needs root and iproute2): {made.stderr}")
    try:
        assert ip("-n", name, "link", "add", "vkbr0", "type", "bridge").returncode == 0
        assert ip("-n", name, "link", "set", "vkbr0", "up").returncode == 0
        yield name
    finally:
        ip("netns", "delete", name)


def test_bridge_interface_plugs_a_tap_into_the_bridge(
    netns: str, uri: str, firmware_xml: Any, running_qemus: Any
) -> None:
    nic = "<interface type='bridge'><source bridge='vkbr0'/><target dev='vktap0'/></interface>"
    script = textwrap.dedent(
        f"""
        import subprocess, virtkit
        with virtkit.open({uri!r}) as conn:
            dom = conn.define_xml({firmware_xml("bridged", nic)!r})
            dom.create()
            print(subprocess.run(["ip", "-o", "link", "show", "master", "vkbr0"],
                                 capture_output=True, text=True).stdout)
            dom.destroy()
            print("after:", subprocess.run(["ip", "-o", "link", "show", "vktap0"],
                                 capture_output=True, text=True).returncode)
        """
    )
    done = subprocess.run(
        ["ip", "netns", "exec", netns, sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    enslaved, after = done.stdout.rsplit("after:", 1)
    ports = [line for line in enslaved.splitlines() if "vktap0" in line]
    assert ports, f"vktap0 is not a port of vkbr0: {enslaved!r}"
    assert ",UP" in ports[0].split(">")[0], f"vktap0 is not up: {ports[0]}"
    assert after.strip() != "0", "the tap outlived its QEMU"
    assert not running_qemus()


def test_missing_bridge_fails_the_start_cleanly(
    netns: str, uri: str, firmware_xml: Any, running_qemus: Any
) -> None:
    nic = "<interface type='bridge'><source bridge='nosuchbr'/><target dev='vktap1'/></interface>"
    script = textwrap.dedent(
        f"""
        import virtkit
        from virtkit.errors import OperationFailedError
        with virtkit.open({uri!r}) as conn:
            dom = conn.define_xml({firmware_xml("unbridged", nic)!r})
            try:
                dom.create()
            except OperationFailedError as exc:
                print("refused:", exc)
            print("state:", int(dom.state()[0]))
        """
    )
    done = subprocess.run(
        ["ip", "netns", "exec", netns, sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "refused:" in done.stdout and "nosuchbr" in done.stdout
    assert "state: 5" in done.stdout
    assert not running_qemus()
